"""One test (or a few) per invariant of ARCHITECTURE.md, on real builds of the messy repo.

The traced build runs the real ``pipeline.run`` with recording wrappers around the
functions as ``pipeline`` looks them up, so identity checks compare the objects each
stage actually received with the ones the run created, never an object with itself.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from datafusion import DataFrame, SessionContext, col, lit
from deltalake import DeltaTable

from codeanatomy import pipeline
from codeanatomy.build import ARTIFACTS_DIR, BuildOptions
from codeanatomy.execute import runner
from codeanatomy.execute.materialize import materialize_cache
from codeanatomy.execute.runner import ExecutionReport
from codeanatomy.extract.catalog import EvidencePlan
from codeanatomy.plan import builders, bundle, policy, schedule, session
from codeanatomy.plan.bundle import PlannedProgram, function_snapshot
from codeanatomy.plan.contracts import InferredDeps, TaskCost
from codeanatomy.plan.schedule import build_task_graph, check_plan_schedule, reports_statistics
from codeanatomy.plan.views import ViewDefinition
from codeanatomy.semantics import compiler
from codeanatomy.semantics.bindings import DatasetResolver, UnknownDatasetError
from codeanatomy.semantics.compiler import OUTPUTS, DatasetBinding
from codeanatomy.semantics.decisions import InferenceConfidence
from tests.fixture_repos import BAD_FILES

REPO = Path(__file__).resolve().parent.parent
UNDECODABLE = "random_bytes.py"  # random non-UTF-8 bytes: no parser can read it
AST_UNPARSABLE = set(BAD_FILES)  # syntax error, random bytes, NUL byte, nesting too deep


@dataclasses.dataclass
class Trace:
    """What each stage of one traced run received (objects, kept alive for ``is``)."""

    compiles: int = 0
    sessions: list[SessionContext] = dataclasses.field(default_factory=list)
    resolvers: list[DatasetResolver] = dataclasses.field(default_factory=list)
    registered: list[tuple[SessionContext, DatasetResolver]] = dataclasses.field(
        default_factory=list
    )
    builds: list[tuple[SessionContext, DataFrame]] = dataclasses.field(default_factory=list)
    planned_on: list[SessionContext] = dataclasses.field(default_factory=list)
    snapshot_before_planning: tuple[str, ...] = ()
    planned: list[PlannedProgram] = dataclasses.field(default_factory=list)
    cost_frames: list[Mapping[str, DataFrame]] = dataclasses.field(default_factory=list)
    policy_inputs: list[tuple[Mapping[str, InferredDeps], Mapping[str, pa.Schema]]] = (
        dataclasses.field(default_factory=list)
    )
    prepared: list[pipeline.PreparedProgram] = dataclasses.field(default_factory=list)
    executed: list[tuple[SessionContext, DatasetResolver]] = dataclasses.field(default_factory=list)


def _traced_run(repo: Path, out: Path) -> Trace:
    trace = Trace()
    with pytest.MonkeyPatch.context() as mp:
        _instrument(mp, trace)
        pipeline.run(BuildOptions(repo=repo, out=out, jobs=2))
    return trace


def _instrument(mp: pytest.MonkeyPatch, trace: Trace) -> None:
    # The originals, from their home modules: ``pipeline`` looks up these names.
    real_compile = compiler.compile_program
    real_session = session.new_session
    real_register = pipeline.register_evidence
    real_views = builders.view_definitions
    real_plan = bundle.plan_views
    real_costs = schedule.estimate_costs
    real_policy = policy.compile_policy
    real_prepare = pipeline.prepare
    real_execute = runner.execute
    real_init = DatasetResolver.__init__

    def compile_program(*args: Any, **kwargs: Any) -> Any:
        trace.compiles += 1
        return real_compile(*args, **kwargs)

    def new_session(*args: Any, **kwargs: Any) -> SessionContext:
        ctx = real_session(*args, **kwargs)
        trace.sessions.append(ctx)
        return ctx

    def resolver_init(self: DatasetResolver, bindings: Any) -> None:
        real_init(self, bindings)
        trace.resolvers.append(self)

    def register_evidence(
        ctx: SessionContext, datasets: DatasetResolver
    ) -> tuple[dict[str, int], dict[str, int]]:
        trace.registered.append((ctx, datasets))
        return real_register(ctx, datasets)

    def traced_build(build: Callable[[SessionContext], DataFrame]) -> Any:
        def run(ctx: SessionContext) -> DataFrame:
            frame = build(ctx)
            trace.builds.append((ctx, frame))
            return frame

        return run

    def view_definitions(manifest: Any) -> list[ViewDefinition]:
        return [dataclasses.replace(v, build=traced_build(v.build)) for v in real_views(manifest)]

    def plan_views(ctx: SessionContext, *args: Any) -> PlannedProgram:
        trace.planned_on.append(ctx)
        trace.snapshot_before_planning = function_snapshot(ctx)
        planned = real_plan(ctx, *args)
        trace.planned.append(planned)
        return planned

    def estimate_costs(
        frames: Mapping[str, DataFrame], *args: Any, **kwargs: Any
    ) -> dict[str, TaskCost]:
        trace.cost_frames.append(frames)
        return real_costs(frames, *args, **kwargs)

    def compile_policy(graph: Any, deps: Any, roles: Any, schemas: Any, *args: Any) -> Any:
        trace.policy_inputs.append((deps, schemas))
        return real_policy(graph, deps, roles, schemas, *args)

    def prepare(*args: Any) -> pipeline.PreparedProgram:
        program = real_prepare(*args)
        trace.prepared.append(program)
        return program

    def execute(ctx: SessionContext, *args: Any) -> ExecutionReport:
        trace.executed.append((ctx, args[-1]))
        return real_execute(ctx, *args)

    mp.setattr(pipeline, "compile_program", compile_program)
    mp.setattr(pipeline, "new_session", new_session)
    mp.setattr(DatasetResolver, "__init__", resolver_init)
    mp.setattr(pipeline, "register_evidence", register_evidence)
    mp.setattr(pipeline, "view_definitions", view_definitions)
    mp.setattr(pipeline, "plan_views", plan_views)
    mp.setattr(pipeline, "estimate_costs", estimate_costs)
    mp.setattr(pipeline, "compile_policy", compile_policy)
    mp.setattr(pipeline, "prepare", prepare)
    mp.setattr(runner, "execute", execute)


@pytest.fixture(scope="module")
def traced(messy_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Trace]:
    out = tmp_path_factory.mktemp("traced_out")
    return out, _traced_run(messy_repo, out)


@pytest.fixture(scope="module")
def program(traced: tuple[Path, Trace]) -> pipeline.PreparedProgram:
    _, trace = traced
    assert len(trace.prepared) == 1
    return trace.prepared[0]


@pytest.fixture(scope="module")
def plain_out(messy_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plain_out")
    pipeline.run(BuildOptions(repo=messy_repo, out=out, jobs=2))
    return out


def _table(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = DeltaTable(str(path)).to_pyarrow_table().to_pylist()
    return rows


def _sorted_rows(path: Path) -> list[str]:
    return sorted(json.dumps(row, sort_keys=True, default=str) for row in _table(path))


# single compilation ------------------------------------------------------------------------


def test_one_compile_per_run(traced: tuple[Path, Trace]) -> None:
    _, trace = traced
    assert trace.compiles == 1


# one resolver, one context -----------------------------------------------------------------


def test_every_stage_gets_the_one_session(traced: tuple[Path, Trace]) -> None:
    _, trace = traced
    assert len(trace.sessions) == 1
    session = trace.sessions[0]
    assert [ctx is session for ctx, _ in trace.registered] == [True]
    assert [ctx is session for ctx in trace.planned_on] == [True]
    assert [ctx is session for ctx, _ in trace.executed] == [True]
    # Every view was built on it: while planning, for cost frames and when executing.
    assert len(trace.builds) > 0
    assert all(ctx is session for ctx, _ in trace.builds)


def test_cost_frames_and_policy_inputs_come_from_that_session(
    traced: tuple[Path, Trace], program: pipeline.PreparedProgram
) -> None:
    _, trace = traced
    session = trace.sessions[0]
    built_on_session = [frame for ctx, frame in trace.builds if ctx is session]
    [frames] = trace.cost_frames
    # frames are built (on this session) only for views whose scans report statistics
    # and that read no other view (upstream views are placeholders while planning)
    with_statistics = [
        name
        for name, bundle in program.planned.bundles.items()
        if reports_statistics(bundle.physical_plan) and not program.planned.deps[name].inputs
    ]
    assert sorted(frames) == sorted(with_statistics)
    assert sorted(c.view for c in program.schedule.costs) == sorted(v.name for v in program.views)
    for name, frame in frames.items():
        assert any(frame is built for built in built_on_session), name
    [planned] = trace.planned
    [(deps, schemas)] = trace.policy_inputs
    assert deps is planned.deps
    assert schemas is planned.schemas
    assert program.planned is planned


def test_one_resolver_from_registration_to_execution(
    traced: tuple[Path, Trace], program: pipeline.PreparedProgram
) -> None:
    out, trace = traced
    assert len(trace.resolvers) == 1
    resolver = trace.resolvers[0]
    assert [datasets is resolver for _, datasets in trace.registered] == [True]
    assert [datasets is resolver for _, datasets in trace.executed] == [True]
    assert program.datasets is resolver
    # And the tables are where the resolver says, under the run's output directory.
    assert resolver.output_names() == tuple(sorted(OUTPUTS))
    for name in resolver.output_names():
        assert resolver.path(name) == out / name
        assert DeltaTable.is_deltatable(str(resolver.path(name)))
    for name in resolver.evidence_names():
        assert resolver.path(name) == out / "evidence" / name
    assert resolver.staging_path("some_view") == out / "_staging" / "some_view"


def test_resolver_is_immutable_and_refuses_ambiguity(tmp_path: Path) -> None:
    bindings = [
        DatasetBinding(name="ev", path=str(tmp_path / "evidence" / "ev"), role="evidence"),
        DatasetBinding(name="cpg_nodes", path=str(tmp_path / "cpg_nodes"), role="output"),
    ]
    resolver = DatasetResolver(bindings)
    assert resolver.evidence_names() == ("ev",)
    assert resolver.role("cpg_nodes") == "output"
    with pytest.raises(AttributeError):
        resolver._paths = {}
    with pytest.raises(UnknownDatasetError):
        resolver.path("missing")
    with pytest.raises(ValueError, match="bound dataset"):
        resolver.staging_path("cpg_nodes")
    with pytest.raises(ValueError, match="bound twice"):
        DatasetResolver([*bindings, bindings[0]])
    clash = DatasetBinding(name="other", path=str(tmp_path / "cpg_nodes"), role="output")
    with pytest.raises(ValueError, match="same path"):
        DatasetResolver([*bindings, clash])
    assert DatasetResolver(bindings) != resolver  # equality is identity


# plan–schedule consistency -----------------------------------------------------------------


def test_schedule_is_consistent_with_the_plans(program: pipeline.PreparedProgram) -> None:
    deps = program.planned.deps
    fingerprints = {name: b.fingerprint for name, b in program.planned.bundles.items()}
    assert check_plan_schedule(program.schedule, deps, fingerprints) == []

    victim = program.schedule.order[-1]
    tampered = {**fingerprints, victim: "0" * 64}
    problems = check_plan_schedule(program.schedule, deps, tampered)
    assert len(problems) == 1 and problems[0].startswith(f"{victim}: deps plan fingerprint")

    stale = dict(deps)
    stale[victim] = msgspec.structs.replace(deps[victim], plan_fingerprint="f" * 64)
    assert len(check_plan_schedule(program.schedule, stale, fingerprints)) == 1


# UDF availability --------------------------------------------------------------------------


def test_every_required_udf_was_registered_before_planning(
    traced: tuple[Path, Trace], program: pipeline.PreparedProgram
) -> None:
    _, trace = traced
    available = set(trace.snapshot_before_planning)
    required = {udf for deps in program.planned.deps.values() for udf in deps.required_udfs}
    assert required, "the CPG plans call functions (hashing for ids at least)"
    assert required <= available, sorted(required - available)
    for view_policy in program.policy.views:
        assert set(view_policy.required_udfs) <= available
    for planned_bundle in program.planned.bundles.values():
        assert tuple(planned_bundle.udf_snapshot) == trace.snapshot_before_planning


# no orphans --------------------------------------------------------------------------------


def test_views_and_tasks_correspond_one_to_one(program: pipeline.PreparedProgram) -> None:
    registered = Counter(view.name for view in program.views)
    assert all(count == 1 for count in registered.values())
    graph = build_task_graph(program.planned.deps)
    assert set(graph.views) == set(registered)
    assert Counter(program.schedule.order) == registered
    assert {p.view for p in program.policy.views} == set(registered)
    outputs = {view.name for view in program.views if view.role == "output"}
    assert outputs == set(OUTPUTS) == {w.view for w in program.policy.writes}


def test_every_edge_endpoint_is_a_node(traced: tuple[Path, Trace]) -> None:
    out, _ = traced
    nodes = [row["node_id"] for row in _table(out / "cpg_nodes")]
    assert len(nodes) == len(set(nodes))
    edges = _table(out / "cpg_edges")
    assert edges
    node_ids = set(nodes)
    dangling = [e for e in edges if not {e["src_node_id"], e["dst_node_id"]} <= node_ids]
    assert dangling == []
    props = _table(out / "cpg_props")
    assert {p["entity_id"] for p in props if p["entity_kind"] == "node"} <= node_ids


# determinism -------------------------------------------------------------------------------


def test_two_builds_give_identical_tables(traced: tuple[Path, Trace], plain_out: Path) -> None:
    out, _ = traced
    assert out != plain_out
    for name in OUTPUTS:
        first, second = _sorted_rows(out / name), _sorted_rows(plain_out / name)
        assert first, name
        assert first == second, name


def _artifacts(out: Path) -> dict[str, Any]:
    """Every artifact with timings removed and the output directory masked."""
    found = {}
    for path in sorted((out / ARTIFACTS_DIR).glob("*.json")):
        text = path.read_text().replace(str(out), "<OUT>")
        found[path.name] = _without_timings(json.loads(text))
    return found


def _without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if "seconds" not in k}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def test_two_builds_give_identical_fingerprints_and_artifacts(
    traced: tuple[Path, Trace], plain_out: Path
) -> None:
    out, _ = traced
    first, second = _artifacts(out), _artifacts(plain_out)
    assert sorted(first) == sorted(second)
    manifest = first["semantic_manifest.json"]
    assert manifest["fingerprint"] == second["semantic_manifest.json"]["fingerprint"]
    assert len(manifest["fingerprint"]) == 64
    policy = first["compiled_policy.json"]
    assert policy["fingerprint"] == second["compiled_policy.json"]["fingerprint"]
    bundles = {b["view"]: b["fingerprint"] for b in first["plan_bundles.json"]["bundles"]}
    assert bundles == {b["view"]: b["fingerprint"] for b in second["plan_bundles.json"]["bundles"]}
    for name in sorted(first):
        assert first[name] == second[name], name


# graceful degradation ----------------------------------------------------------------------


def _layer_tables(layer: str) -> set[str]:
    return {table.name for table in EvidencePlan.from_names([layer]).layers[0].tables}


def _single_layer_build(repo: Path, out: Path, layer: str) -> dict[str, list[dict[str, Any]]]:
    pipeline.run(BuildOptions(repo=repo, out=out, jobs=2, layers=layer))
    return {name: _table(out / name) for name in OUTPUTS}


def _definitions(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return (n for n in nodes if n["node_kind"] in ("MODULE", "CLASS", "FUNCTION"))


def test_ast_only_build_still_yields_the_graph(
    messy_repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    graph = _single_layer_build(messy_repo, tmp_path_factory.mktemp("ast_only"), "ast")
    nodes = graph["cpg_nodes"]
    assert graph["cpg_edges"] and graph["cpg_props"]
    kinds = {n["node_kind"] for n in nodes}
    assert {"FILE", "MODULE", "CLASS", "FUNCTION"} <= kinds
    ast_tables = _layer_tables("ast")
    assert {n["origin"] for n in _definitions(nodes)} <= ast_tables
    files = {n["path"] for n in nodes if n["node_kind"] == "FILE"}
    modules = {n["path"] for n in nodes if n["node_kind"] == "MODULE"}
    assert modules == files - AST_UNPARSABLE
    qualnames = {n["qualname"] for n in nodes if n["node_kind"] in ("CLASS", "FUNCTION")}
    assert {"pkg.core.Derived", "pkg.core.Derived.run", "pkg.sub.helpers.shout"} <= qualnames


def test_tree_sitter_only_build_takes_definitions_from_tree_sitter(
    messy_repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    graph = _single_layer_build(messy_repo, tmp_path_factory.mktemp("ts_only"), "tree_sitter")
    nodes = graph["cpg_nodes"]
    assert graph["cpg_props"]
    assert {"FILE", "MODULE", "CLASS", "FUNCTION"} <= {n["node_kind"] for n in nodes}
    ts_tables = _layer_tables("tree_sitter")
    assert {n["origin"] for n in _definitions(nodes)} <= ts_tables
    files = {n["path"] for n in nodes if n["node_kind"] == "FILE"}
    modules = Counter(n["path"] for n in nodes if n["node_kind"] == "MODULE")
    # tree-sitter parses every file it can decode, syntax errors included, once each.
    assert set(modules) == files - {UNDECODABLE}
    assert set(modules.values()) == {1}
    names = {n["name"] for n in nodes if n["node_kind"] in ("CLASS", "FUNCTION")}
    assert {"Derived", "run", "make_adder", "shout", "Widget"} <= names


# decisions are explained -------------------------------------------------------------------


def _explained(confidence: InferenceConfidence) -> bool:
    if not confidence.evidence_sources:
        return False
    if confidence.fallback_reason is not None:
        return confidence.score < 1.0 and bool(confidence.fallback_reason.strip())
    return True


def test_every_policy_decision_is_explained(program: pipeline.PreparedProgram) -> None:
    policy = program.policy
    for view_policy in policy.views:
        assert _explained(view_policy.confidence), view_policy
    for write in policy.writes:
        assert _explained(write.confidence), write
    # A decision resting on a cost that fell back says so.
    graph = build_task_graph(program.planned.deps)
    costs = {cost.view: cost for cost in program.schedule.costs}
    roles = {view.name: view.role for view in program.views}
    sized = [
        p for p in policy.views if roles[p.view] == "intermediate" and graph.out_degree(p.view) >= 2
    ]
    fell_back = [p for p in sized if costs[p.view].source == "fallback"]
    assert fell_back, "some shared views have no plan statistics on this build"
    for view_policy in fell_back:
        assert view_policy.confidence.fallback_reason, view_policy
    for cost in costs.values():
        assert (cost.source == "fallback") == bool(cost.fallback_reason), cost


def test_decision_provenance_covers_every_policy_decision(traced: tuple[Path, Trace]) -> None:
    out, trace = traced
    provenance = json.loads((out / ARTIFACTS_DIR / "decisions.json").read_text())["decisions"]
    program = trace.prepared[0]
    subjects = Counter((d["subject"], d["decision_type"]) for d in provenance)
    assert all(count == 1 for count in subjects.values())
    for view_policy in program.policy.views:
        assert (view_policy.view, "materialization") in subjects
    for write in program.policy.writes:
        assert (write.view, "write.stats_columns") in subjects


def test_semantic_inferences_are_explained(program: pipeline.PreparedProgram) -> None:
    for view in program.manifest.ir.views:
        if view.source is not None:
            assert view.confidence is not None and _explained(view.confidence), view.name
        if view.join is not None:
            assert _explained(view.join.confidence), view.name
            if view.join.override_reason:
                assert view.join.confidence.fallback_reason, view.name


# no naming heuristics, no hard-coded join keys (and the other static rules) ----------------


def test_drift_checker_passes_on_the_repo() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "check_drift.py")],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert (proc.returncode, proc.stdout) == (0, "")


def test_a_cached_view_over_an_empty_evidence_table_is_empty_not_an_error() -> None:
    ctx = SessionContext()
    schema = pa.schema([pa.field("file_id", pa.string()), pa.field("bstart", pa.int64())])
    ctx.register_dataset("absent_layer", ds.dataset([], schema=schema))  # no files at all
    frame = ctx.table("absent_layer").filter(col("bstart") > lit(0))
    materialize_cache(ctx, "shared", frame)
    assert ctx.table("shared").schema() == schema
    assert ctx.sql("SELECT count(*) AS n FROM shared").to_pylist() == [{"n": 0}]
