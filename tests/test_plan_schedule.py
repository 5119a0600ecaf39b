"""Task graph, schedule and compiled policy over real DataFusion plans of small Arrow tables.

The view graph (edges point from the view read to its reader)::

    ev_a ─► base ─┬─► left ──┐
                  ├─► right ─┴─► joined ─► nodes_out (output)
                  └──────────────────────► edges_out (output)
    ev_big ► huge ─┬─────────────────────► nodes_out
                   └─────────────────────► edges_out
    ev_c ─► blind ─┬─────────────────────► edges_out
                   └─────────────────────► props_out (output)

``ev_a``/``ev_b``/``ev_big`` are memory tables (exact row counts in their plans);
``ev_c`` is a pyarrow dataset, whose plans carry no row statistics (Rows=Absent).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads
import pytest
from datafusion import DataFrame, SessionContext, col, lit
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError

from codeanatomy.plan.contracts import InferredDeps, TaskCost
from codeanatomy.plan.policy import (
    STAGING_ROW_THRESHOLD,
    compile_policy,
    decisions,
    write_policy,
)
from codeanatomy.plan.schedule import (
    FALLBACK_COST,
    PlanCycleError,
    build_task_graph,
    check_plan_schedule,
    estimate_costs,
    schedule,
)
from codeanatomy.plan.views import ViewRole

EV_A_ROWS = 10
EV_B_ROWS = 5
EV_BIG_ROWS = STAGING_ROW_THRESHOLD + 1_000_000

# view -> (views it reads, evidence it reads, role)
GRAPH: dict[str, tuple[tuple[str, ...], tuple[str, ...], ViewRole]] = {
    "base": ((), ("ev_a",), "intermediate"),
    "left": (("base",), (), "intermediate"),
    "right": (("base",), ("ev_b",), "intermediate"),
    "joined": (("left", "right"), (), "intermediate"),
    "huge": ((), ("ev_big",), "intermediate"),
    "blind": ((), ("ev_c",), "intermediate"),
    "nodes_out": (("huge", "joined"), (), "output"),
    "edges_out": (("base", "blind", "huge"), (), "output"),
    "props_out": (("blind",), (), "output"),
}

BUILDERS: dict[str, Callable[[SessionContext], DataFrame]] = {
    "base": lambda c: c.table("ev_a").select(col("file_id"), col("x")),
    "left": lambda c: c.table("base").filter(col("x") > lit(5)),
    "right": lambda c: (
        c.table("base").join(c.table("ev_b"), on="file_id").select(col("file_id"), col("x"))
    ),
    "joined": lambda c: c.table("left").union(c.table("right")),
    "huge": lambda c: c.table("ev_big").select(col("x")),
    "blind": lambda c: c.table("ev_c").select(col("x")),
    "nodes_out": lambda c: c.table("joined").select(col("x")).union(c.table("huge")),
    "edges_out": lambda c: (
        c.table("base").select(col("x")).union(c.table("huge")).union(c.table("blind"))
    ),
    "props_out": lambda c: c.table("blind").filter(col("x") > lit(1)),
}

_SPAN = {b"semantic": b"span_start"}
NODES_SCHEMA = pa.schema(
    [
        pa.field("node_id", pa.string()),
        pa.field("file_id", pa.string(), metadata={b"semantic": b"file_id"}),
        pa.field("bstart", pa.int64(), metadata=_SPAN),
        pa.field("bend", pa.int64(), metadata={b"semantic": b"span_end"}),
        pa.field("line_start", pa.int32()),
        pa.field("name", pa.string()),
    ]
)
EDGES_SCHEMA = pa.schema(
    [
        pa.field("edge_id", pa.string()),
        pa.field("src_node_id", pa.string()),
        pa.field("dst_node_id", pa.string()),
        pa.field("bstart", pa.int64()),
        pa.field("bend", pa.int64()),
        pa.field("confidence", pa.float64()),
    ]
)
PROPS_SCHEMA = pa.schema(
    [
        pa.field("entity_id", pa.string()),
        pa.field("prop_key", pa.string()),
        pa.field("value_string", pa.string()),
        pa.field("confidence", pa.string()),  # not numeric: no range constraint
    ]
)
SCHEMAS = {"nodes_out": NODES_SCHEMA, "edges_out": EDGES_SCHEMA, "props_out": PROPS_SCHEMA}


def _deps(
    graph: Mapping[str, tuple[tuple[str, ...], tuple[str, ...], ViewRole]],
) -> dict[str, InferredDeps]:
    return {
        view: InferredDeps(
            view=view,
            inputs=inputs,
            evidence=evidence,
            required_columns={},
            required_udfs=("stable_id",) if view == "nodes_out" else (),
            plan_fingerprint=f"fp-{view}",
        )
        for view, (inputs, evidence, _) in graph.items()
    }


def _roles() -> dict[str, ViewRole]:
    return {view: role for view, (_, _, role) in GRAPH.items()}


@pytest.fixture(scope="module")
def ctx() -> SessionContext:
    ctx = SessionContext()
    ctx.from_arrow(
        pa.table({"file_id": [f"f{i % 3}" for i in range(EV_A_ROWS)], "x": range(EV_A_ROWS)}),
        name="ev_a",
    )
    ctx.from_arrow(
        pa.table({"file_id": ["f0", "f1", "f7", "f8", "f9"], "y": range(EV_B_ROWS)}), name="ev_b"
    )
    ctx.from_arrow(pa.table({"x": pa.repeat(pa.scalar(0, pa.int64()), EV_BIG_ROWS)}), name="ev_big")
    ctx.register_dataset("ev_c", pads.dataset(pa.table({"x": [1, 2, 3]})))
    return ctx


@pytest.fixture(scope="module")
def frames(ctx: SessionContext) -> dict[str, DataFrame]:
    frames: dict[str, DataFrame] = {}
    for view in ["base", "left", "right", "joined", "huge", "blind"]:
        frames[view] = BUILDERS[view](ctx)
        ctx.register_view(view, frames[view])
    for view in ["nodes_out", "edges_out", "props_out"]:
        frames[view] = BUILDERS[view](ctx)
    return frames


@pytest.fixture(scope="module")
def costs(frames: dict[str, DataFrame]) -> dict[str, TaskCost]:
    return estimate_costs(frames, _deps(GRAPH))


def test_costs_come_from_explain_statistics(
    ctx: SessionContext, frames: dict[str, DataFrame], capsys: pytest.CaptureFixture[str]
) -> None:
    costs = estimate_costs(frames, _deps(GRAPH))
    assert capsys.readouterr().out == ""  # EXPLAIN output is captured, not printed
    # the caller's context keeps its config: statistics were asked per statement
    shown = ctx.sql("SHOW datafusion.explain.show_statistics").to_pylist()
    assert shown[0]["value"] == "false"
    assert list(costs) == sorted(GRAPH)

    # a projection of a memory table: Rows=Exact(number of rows in the table)
    assert costs["base"].source == "plan_statistics"
    assert costs["base"].estimated_rows == EV_A_ROWS
    assert costs["base"].cost == float(EV_A_ROWS)
    assert costs["huge"].estimated_rows == EV_BIG_ROWS
    # a filter keeps at most its input's rows; a join of 10 x 5 rows at most 50
    left_rows = costs["left"].estimated_rows
    right_rows = costs["right"].estimated_rows
    assert left_rows is not None and 0 <= left_rows <= EV_A_ROWS
    assert right_rows is not None and 0 <= right_rows <= EV_A_ROWS * EV_B_ROWS
    # a union estimates the sum of its inputs
    assert costs["joined"].estimated_rows == left_rows + right_rows
    joined_rows = costs["joined"].estimated_rows
    assert costs["nodes_out"].estimated_rows == joined_rows + EV_BIG_ROWS

    # a pyarrow dataset has no row statistics: fallback, recorded
    blind = costs["blind"]
    assert (blind.source, blind.estimated_rows, blind.cost) == ("fallback", None, FALLBACK_COST)
    assert blind.fallback_reason is not None and "Rows=Absent" in blind.fallback_reason
    # a union with that dataset is Absent too: cost = its largest input's cost
    edges = costs["edges_out"]
    assert edges.source == "fallback"
    assert edges.cost == float(EV_BIG_ROWS)
    assert edges.fallback_reason is not None and "max cost" in edges.fallback_reason
    assert costs["props_out"].cost == FALLBACK_COST


def test_generations_and_order(costs: dict[str, TaskCost]) -> None:
    graph = build_task_graph(_deps(GRAPH))
    assert graph.views == tuple(sorted(GRAPH))
    assert graph.downstream("base") == ("edges_out", "left", "right")
    assert graph.upstream("edges_out") == ("base", "blind", "huge")
    assert [graph.out_degree(v) for v in ("base", "huge", "blind", "joined")] == [3, 2, 2, 1]
    plan = schedule(graph, costs)
    assert plan.generations == [
        ["base", "blind", "huge"],
        ["edges_out", "left", "props_out", "right"],
        ["joined"],
        ["nodes_out"],
    ]
    assert plan.order == [v for layer in plan.generations for v in layer]
    assert [c.view for c in plan.costs] == sorted(GRAPH)


def _all_paths(deps: Mapping[str, InferredDeps]) -> list[list[str]]:
    readers: dict[str, list[str]] = {v: [] for v in deps}
    for view, d in deps.items():
        for upstream in d.inputs:
            readers[upstream].append(view)

    def extend(path: list[str]) -> list[list[str]]:
        nxt = readers[path[-1]]
        return [path] if not nxt else [p for r in nxt for p in extend([*path, r])]

    return [p for v, d in deps.items() if not d.inputs for p in extend([v])]


def test_critical_path_is_the_costliest_chain(costs: dict[str, TaskCost]) -> None:
    deps = _deps(GRAPH)
    plan = schedule(build_task_graph(deps), costs)
    # huge feeds both outputs; nodes_out's estimate (union: joined + huge rows) exceeds
    # edges_out's fallback (= huge's cost), so huge -> nodes_out is the heaviest chain.
    assert plan.critical_path == ["huge", "nodes_out"]
    best = max(sum(costs[v].cost for v in p) for p in _all_paths(deps))
    assert sum(costs[v].cost for v in plan.critical_path) == best


def _cost(view: str, cost: float) -> TaskCost:
    return TaskCost(view=view, cost=cost, source="plan_statistics", estimated_rows=int(cost))


def _chain_deps(edges: dict[str, tuple[str, ...]]) -> dict[str, InferredDeps]:
    return _deps({v: (ins, (), "intermediate") for v, ins in edges.items()})


def test_critical_path_by_hand() -> None:
    # diamond a -> {b, c} -> d with costs 1, 5, 2, 1: a-b-d = 7 beats a-c-d = 4
    diamond = _chain_deps({"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c")})
    weights = {"a": 1.0, "b": 5.0, "c": 2.0, "d": 1.0}
    plan = schedule(build_task_graph(diamond), {v: _cost(v, w) for v, w in weights.items()})
    assert plan.critical_path == ["a", "b", "d"]
    assert plan.generations == [["a"], ["b", "c"], ["d"]]
    # the first view's own cost counts: p(100)-q(1) = 101 beats r(1)-s(50) = 51
    chains = _chain_deps({"p": (), "q": ("p",), "r": (), "s": ("r",)})
    weights = {"p": 100.0, "q": 1.0, "r": 1.0, "s": 50.0}
    plan = schedule(build_task_graph(chains), {v: _cost(v, w) for v, w in weights.items()})
    assert plan.critical_path == ["p", "q"]
    single = schedule(build_task_graph(_chain_deps({"only": ()})), {"only": _cost("only", 3)})
    assert (single.generations, single.critical_path) == ([["only"]], ["only"])
    empty = schedule(build_task_graph({}), {})
    assert (empty.generations, empty.order, empty.critical_path) == ([], [], [])


def test_cycle_names_the_views() -> None:
    with pytest.raises(PlanCycleError, match="dependency cycle") as err:
        build_task_graph(_chain_deps({"a": ("c",), "b": ("a",), "c": ("b",)}))
    message = str(err.value)
    cycle = message.removeprefix("dependency cycle: ").split(" -> ")
    assert cycle[0] == cycle[-1] and sorted(cycle[:-1]) == ["a", "b", "c"]
    with pytest.raises(PlanCycleError, match="self -> self"):
        build_task_graph(_chain_deps({"self": ("self",)}))
    with pytest.raises(ValueError, match="'ghost'"):
        build_task_graph(_chain_deps({"a": ("ghost",)}))


def test_consistency_check_detects_tampering(costs: dict[str, TaskCost]) -> None:
    deps = _deps(GRAPH)
    plan = schedule(build_task_graph(deps), costs)
    bundles = {v: d.plan_fingerprint for v, d in deps.items()}
    assert check_plan_schedule(plan, deps, bundles) == []

    tampered = {**bundles, "joined": "fp-stale"}
    assert check_plan_schedule(plan, deps, tampered) == [
        "joined: deps plan fingerprint fp-joined != plan bundle fingerprint fp-stale"
    ]
    no_bundle = {v: f for v, f in bundles.items() if v != "left"}
    assert check_plan_schedule(plan, deps, no_bundle) == ["left: scheduled without a plan bundle"]

    dropped = plan.generations[:-1]
    bad = type(plan)(generations=dropped, order=plan.order[:-1], critical_path=[], costs=[])
    assert check_plan_schedule(bad, deps, bundles) == [
        "nodes_out: scheduled 0 times, expected once"
    ]
    swapped = [plan.generations[2], plan.generations[1], plan.generations[0], plan.generations[3]]
    order = [v for layer in swapped for v in layer]
    bad = type(plan)(generations=swapped, order=order, critical_path=[], costs=[])
    violations = check_plan_schedule(bad, deps, bundles)
    assert "joined: input left runs in generation 1, not before 0" in violations
    assert "left: input base runs in generation 2, not before 1" in violations
    twice = type(plan)(
        generations=[*plan.generations, ["left"]],
        order=[*plan.order, "left"],
        critical_path=[],
        costs=[],
    )
    assert "left: scheduled 2 times, expected once" in check_plan_schedule(twice, deps, bundles)


def test_materialisation_from_topology_and_role(costs: dict[str, TaskCost]) -> None:
    deps = _deps(GRAPH)
    policy = compile_policy(build_task_graph(deps), deps, _roles(), SCHEMAS, costs)
    by_view = {p.view: p for p in policy.views}
    assert list(by_view) == sorted(GRAPH)
    expected = {
        "base": "cache",  # read by left, right, edges_out; 10 rows
        "huge": "delta_staging",  # read by nodes_out, edges_out; > threshold rows
        "blind": "cache",  # read by edges_out, props_out; size unknown
        "left": "lazy",
        "right": "lazy",
        "joined": "lazy",
        "nodes_out": "delta_output",
        "edges_out": "delta_output",
        "props_out": "delta_output",
    }
    assert {v: p.materialization for v, p in by_view.items()} == expected
    for output in ("nodes_out", "edges_out", "props_out"):
        assert by_view[output].confidence.evidence_sources == ("view_role",)
        assert by_view[output].confidence.score == 1.0
    for lazy in ("left", "right", "joined"):
        conf = by_view[lazy].confidence
        assert (conf.score, conf.fallback_reason) == (1.0, None)
        assert "task_graph.out_degree" in conf.evidence_sources
    for fan_out in ("base", "huge"):
        conf = by_view[fan_out].confidence
        assert conf.evidence_sources == ("task_graph.out_degree", "plan_statistics")
        assert (conf.score, conf.fallback_reason) == (0.9, None)
    blind = by_view["blind"].confidence
    assert blind.score < 0.9
    assert blind.fallback_reason is not None and "Rows=Absent" in blind.fallback_reason
    assert by_view["nodes_out"].required_udfs == ("stable_id",)
    assert by_view["base"].required_udfs == ()


def test_policy_ignores_view_names(costs: dict[str, TaskCost]) -> None:
    # names chosen to mislead a name heuristic and to reverse the sort order
    rename = {
        "base": "zz_cpg_nodes",
        "left": "yy_output_table",
        "right": "xx_cached",
        "joined": "ww_staging",
        "huge": "vv_tmp_small",
        "blind": "uu_delta_output",
        "nodes_out": "tt_intermediate_tmp",
        "edges_out": "ss_lazy_view",
        "props_out": "rr_cache_me",
    }
    graph = {
        rename[v]: (tuple(rename[i] for i in ins), ev, role) for v, (ins, ev, role) in GRAPH.items()
    }
    renamed_deps = _deps(graph)
    renamed_costs = {
        rename[v]: TaskCost(
            view=rename[v],
            cost=c.cost,
            source=c.source,
            estimated_rows=c.estimated_rows,
            fallback_reason=c.fallback_reason,
        )
        for v, c in costs.items()
    }
    renamed_policy = compile_policy(
        build_task_graph(renamed_deps),
        renamed_deps,
        {v: role for v, (_, _, role) in graph.items()},
        {rename[v]: s for v, s in SCHEMAS.items()},
        renamed_costs,
    )
    deps = _deps(GRAPH)
    policy = compile_policy(build_task_graph(deps), deps, _roles(), SCHEMAS, costs)
    original = {p.view: (p.materialization, p.confidence) for p in policy.views}
    renamed = {p.view: (p.materialization, p.confidence) for p in renamed_policy.views}
    assert {v: renamed[rename[v]] for v in GRAPH} == original
    writes = {w.view: w for w in policy.writes}
    for w in renamed_policy.writes:
        source = writes[next(v for v, r in rename.items() if r == w.view)]
        assert (w.sort_by, w.stats_columns, w.constraints) == (
            source.sort_by,
            source.stats_columns,
            source.constraints,
        )


def test_write_policy_from_schemas(costs: dict[str, TaskCost]) -> None:
    deps = _deps(GRAPH)
    policy = compile_policy(build_task_graph(deps), deps, _roles(), SCHEMAS, costs)
    writes = {w.view: w for w in policy.writes}
    assert list(writes) == ["edges_out", "nodes_out", "props_out"]
    assert all(w.partition_by == () for w in writes.values())

    nodes = writes["nodes_out"]
    assert nodes.sort_by == ("file_id",)
    assert nodes.stats_columns == ("file_id", "bstart", "bend")  # semantic metadata
    assert nodes.confidence.fallback_reason is None
    assert nodes.constraints == {
        "bstart_le_bend": "bstart IS NULL OR bend IS NULL OR bstart <= bend",
        "line_start_positive": "line_start IS NULL OR line_start >= 1",
    }

    edges = writes["edges_out"]
    assert edges.sort_by == ()  # no file_id column
    assert edges.stats_columns == ("edge_id", "src_node_id", "dst_node_id")  # leading columns
    assert edges.confidence.fallback_reason is not None
    assert sorted(edges.constraints) == ["bstart_le_bend", "confidence_in_unit_interval"]

    props = writes["props_out"]
    assert props.constraints == {}  # no spans, no lines, confidence is not numeric


def test_constraints_hold_in_delta(tmp_path: Path) -> None:
    """The derived constraints are valid Delta CHECK constraints: nulls pass, bad rows fail."""
    schema = pa.schema([f.remove_metadata() for f in NODES_SCHEMA]).append(
        pa.field("confidence", pa.float64())
    )
    constraints = write_policy("t", schema).constraints
    assert len(constraints) == 3
    good = pa.table(
        {
            "node_id": ["n1", "n2"],
            "file_id": ["f", None],
            "bstart": [0, None],
            "bend": [4, None],
            "line_start": pa.array([1, None], pa.int32()),
            "name": ["x", None],
            "confidence": [1.0, None],
        },
        schema=schema,
    )
    path = str(tmp_path / "t")
    write_deltalake(path, good)
    DeltaTable(path).alter.add_constraint(constraints)
    write_deltalake(path, good, mode="append")  # nulls and boundary values pass
    bad_rows: list[dict[str, object]] = [
        {"bstart": 5, "bend": 4},
        {"line_start": 0},
        {"confidence": 1.5},
        {"confidence": -0.1},
    ]
    for change in bad_rows:
        row = {**good.slice(0, 1).to_pylist()[0], **change}
        with pytest.raises(DeltaError, match="failed validation check"):
            write_deltalake(path, pa.Table.from_pylist([row], schema=schema), mode="append")
    assert DeltaTable(path).to_pyarrow_table().num_rows == 4


def test_fingerprint_deterministic_and_sensitive(costs: dict[str, TaskCost]) -> None:
    deps = _deps(GRAPH)
    graph = build_task_graph(deps)
    first = compile_policy(graph, deps, _roles(), SCHEMAS, costs)
    shuffled_deps = dict(reversed(list(deps.items())))
    again = compile_policy(
        build_task_graph(shuffled_deps),
        shuffled_deps,
        dict(reversed(list(_roles().items()))),
        dict(reversed(list(SCHEMAS.items()))),
        dict(reversed(list(costs.items()))),
    )
    assert again == first
    assert len(first.fingerprint) == 64
    warn = compile_policy(graph, deps, _roles(), SCHEMAS, costs, validation_mode="warn")
    assert warn.fingerprint != first.fingerprint
    no_conf = {
        **SCHEMAS,
        "edges_out": EDGES_SCHEMA.remove(EDGES_SCHEMA.get_field_index("confidence")),
    }
    assert compile_policy(graph, deps, _roles(), no_conf, costs).fingerprint != first.fingerprint
    smaller = {**costs, "huge": _cost("huge", 100.0)}
    changed = compile_policy(graph, deps, _roles(), SCHEMAS, smaller)
    assert {p.view: p.materialization for p in changed.views}["huge"] == "cache"
    assert changed.fingerprint != first.fingerprint


def test_decisions_cover_every_policy_choice(costs: dict[str, TaskCost]) -> None:
    deps = _deps(GRAPH)
    policy = compile_policy(build_task_graph(deps), deps, _roles(), SCHEMAS, costs)
    found = decisions(policy)
    materialised = {d.subject: d.value for d in found if d.decision_type == "materialization"}
    assert materialised == {p.view: p.materialization for p in policy.views}
    write_kinds = {
        (d.subject, d.decision_type) for d in found if d.decision_type != "materialization"
    }
    kinds = ["write.partition_by", "write.sort_by", "write.stats_columns", "write.constraints"]
    assert write_kinds == {(w.view, k) for w in policy.writes for k in kinds}
    sort = next(d for d in found if (d.subject, d.decision_type) == ("nodes_out", "write.sort_by"))
    assert sort.value == "file_id"


def test_missing_inputs_are_refused(costs: dict[str, TaskCost]) -> None:
    deps = _deps(GRAPH)
    graph = build_task_graph(deps)
    roles = {v: r for v, r in _roles().items() if v != "left"}
    with pytest.raises(ValueError, match="left"):
        compile_policy(graph, deps, roles, SCHEMAS, costs)
    with pytest.raises(ValueError, match="props_out"):
        compile_policy(graph, deps, _roles(), {"nodes_out": NODES_SCHEMA}, costs)
    partial = {v: c for v, c in costs.items() if v != "base"}
    with pytest.raises(ValueError, match="base"):
        schedule(graph, partial)
    # a fan-out view without any cost estimate is cached, with the gap recorded
    policy = compile_policy(graph, deps, _roles(), SCHEMAS, partial)
    base = next(p for p in policy.views if p.view == "base")
    assert base.materialization == "cache"
    assert base.confidence.fallback_reason is not None
