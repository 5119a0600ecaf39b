"""Execution: a Hamilton driver generated from the schedule materialises every view per policy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datafusion import DataFrame, SessionContext, col, lit
from datafusion import functions as f
from deltalake import DeltaTable, write_deltalake

from codeanatomy.execute.runner import ExecutionReport, execute
from codeanatomy.plan.contracts import (
    CompiledExecutionPolicy,
    InferredDeps,
    Materialization,
    TaskSchedule,
    ViewPolicy,
    WritePolicy,
)
from codeanatomy.plan.views import ViewDefinition
from codeanatomy.semantics.bindings import DatasetResolver
from codeanatomy.semantics.compiler import DatasetBinding
from codeanatomy.semantics.decisions import certain

# Evidence: definitions and calls of two files, deliberately not in file_id order.
EV_NODES = pa.table(
    {
        "file_id": pa.array([2, 2, 1, 1, 1], pa.int64()),
        "bstart": pa.array([0, 12, 0, 6, 10], pa.int64()),
        "bend": pa.array([10, 20, 5, 9, 14], pa.int64()),
        "kind": ["def", "call", "def", "call", "call"],
        "name": ["f", "g", "g", "f", "h"],
    }
)

CONSTRAINTS = {"span_ordered": "bstart <= bend", "confidence_range": "confidence BETWEEN 0 AND 1"}


def _defs(ctx: SessionContext) -> DataFrame:
    return (
        ctx.table("ev_nodes")
        .filter(col("kind") == lit("def"))
        .select("file_id", "bstart", "bend", "name")
    )


def _calls(ctx: SessionContext) -> DataFrame:
    return (
        ctx.table("ev_nodes")
        .filter(col("kind") == lit("call"))
        .select("file_id", "bstart", "bend", "name")
    )


def _resolved(ctx: SessionContext) -> DataFrame:
    defs = ctx.table("defs").select(col("name").alias("def_name"), col("file_id").alias("target"))
    return (
        ctx.table("calls")
        .join(defs, left_on="name", right_on="def_name", how="inner")
        .select("file_id", "bstart", "bend", "target")
    )


def _nodes_out(ctx: SessionContext) -> DataFrame:
    defs = ctx.table("defs").select(
        "file_id", "bstart", "bend", lit(1.0).alias("confidence"), "name"
    )
    calls = ctx.table("calls").select(
        "file_id", "bstart", "bend", lit(0.9).alias("confidence"), "name"
    )
    return defs.union(calls)


def _edges_out(ctx: SessionContext) -> DataFrame:
    resolved = ctx.table("resolved").select(
        col("file_id").alias("r_file"), col("bstart").alias("r_bstart"), "target"
    )
    joined = ctx.table("calls").join(
        resolved, left_on=["file_id", "bstart"], right_on=["r_file", "r_bstart"], how="left"
    )
    confidence = f.when(col("target").is_null(), lit(0.5)).otherwise(lit(1.0))
    return joined.select("file_id", "bstart", "bend", confidence.alias("confidence"), "target")


VIEWS = {
    v.name: v
    for v in (
        ViewDefinition("defs", _defs),
        ViewDefinition("calls", _calls),
        ViewDefinition("resolved", _resolved),
        ViewDefinition("cpg_nodes_out", _nodes_out, role="output"),
        ViewDefinition("cpg_edges_out", _edges_out, role="output"),
    )
}
INPUTS = {
    "defs": (),
    "calls": (),
    "resolved": ("calls", "defs"),
    "cpg_nodes_out": ("calls", "defs"),
    "cpg_edges_out": ("calls", "resolved"),
}
MATERIALIZATION: dict[str, Materialization] = {
    "defs": "lazy",
    "calls": "cache",
    "resolved": "delta_staging",
    "cpg_nodes_out": "delta_output",
    "cpg_edges_out": "delta_output",
}
GENERATIONS = [["calls", "defs"], ["cpg_nodes_out", "resolved"], ["cpg_edges_out"]]
ORDER = [name for generation in GENERATIONS for name in generation]


def _deps(inputs: dict[str, tuple[str, ...]]) -> dict[str, InferredDeps]:
    return {
        view: InferredDeps(
            view=view,
            inputs=upstream,
            evidence=() if upstream else ("ev_nodes",),
            required_columns={},
            required_udfs=(),
            plan_fingerprint=view,
        )
        for view, upstream in inputs.items()
    }


def _schedule(order: list[str]) -> TaskSchedule:
    return TaskSchedule(generations=GENERATIONS, order=order, critical_path=[], costs=[])


def _policy(constraints: dict[str, str] = CONSTRAINTS) -> CompiledExecutionPolicy:
    return CompiledExecutionPolicy(
        views=[
            ViewPolicy(view=v, materialization=m, confidence=certain("test"))
            for v, m in MATERIALIZATION.items()
        ],
        writes=[
            WritePolicy(
                view="cpg_nodes_out",
                partition_by=(),
                sort_by=("file_id", "bstart"),
                stats_columns=("file_id", "bstart"),
                constraints=constraints,
                confidence=certain("test"),
            ),
            WritePolicy(
                view="cpg_edges_out",
                partition_by=(),
                sort_by=("file_id",),
                stats_columns=(),
                constraints=constraints,
                confidence=certain("test"),
            ),
        ],
        validation_mode="strict",
        fingerprint="test",
    )


def _session() -> SessionContext:
    ctx = SessionContext()
    ctx.register_record_batches("ev_nodes", [EV_NODES.to_batches()])
    return ctx


def _datasets(out: Path) -> DatasetResolver:
    """The two output views bound under ``out``, as a manifest would bind them."""
    return DatasetResolver(
        DatasetBinding(name=name, path=str(out / name), role="output")
        for name in ("cpg_nodes_out", "cpg_edges_out")
    )


def _run(ctx: SessionContext, out: Path) -> ExecutionReport:
    return execute(ctx, VIEWS, _schedule(ORDER), _policy(), _deps(INPUTS), _datasets(out))


@pytest.fixture
def executed(tmp_path: Path) -> tuple[SessionContext, Path, ExecutionReport]:
    ctx = _session()
    return ctx, tmp_path, _run(ctx, tmp_path)


def _delta_rows(path: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = DeltaTable(str(path)).to_pyarrow_table().to_pylist()
    return rows


def test_outputs_hold_exactly_the_rows_derived_from_the_evidence(executed) -> None:
    _, out, report = executed
    # defs: (2,0,10,f) (1,0,5,g) at 1.0; calls: (2,12,20,g) (1,6,9,f) (1,10,14,h) at 0.9;
    # sorted by (file_id, bstart).
    assert _delta_rows(out / "cpg_nodes_out") == [
        {"file_id": 1, "bstart": 0, "bend": 5, "confidence": 1.0, "name": "g"},
        {"file_id": 1, "bstart": 6, "bend": 9, "confidence": 0.9, "name": "f"},
        {"file_id": 1, "bstart": 10, "bend": 14, "confidence": 0.9, "name": "h"},
        {"file_id": 2, "bstart": 0, "bend": 10, "confidence": 1.0, "name": "f"},
        {"file_id": 2, "bstart": 12, "bend": 20, "confidence": 0.9, "name": "g"},
    ]
    # call f in file 1 resolves to def f in file 2, call g in file 2 to def g in file 1,
    # call h has no definition.
    edges = sorted(_delta_rows(out / "cpg_edges_out"), key=lambda r: (r["file_id"], r["bstart"]))
    assert edges == [
        {"file_id": 1, "bstart": 6, "bend": 9, "confidence": 1.0, "target": 2},
        {"file_id": 1, "bstart": 10, "bend": 14, "confidence": 0.5, "target": None},
        {"file_id": 2, "bstart": 12, "bend": 20, "confidence": 1.0, "target": 1},
    ]
    by_view = {v.view: v for v in report.views}
    assert by_view["cpg_nodes_out"].rows_written == 5
    assert by_view["cpg_edges_out"].rows_written == 3
    assert by_view["resolved"].rows_written == 2
    for name in ("cpg_nodes_out", "cpg_edges_out"):
        table = DeltaTable(str(out / name))
        assert by_view[name].delta_version == table.version()
        assert by_view[name].files_written == len(table.file_uris())
    assert by_view["defs"].rows_written is None
    assert by_view["calls"].delta_version is None


def test_each_view_is_registered_per_its_materialization(executed) -> None:
    ctx, out, _ = executed
    staged = sorted(
        _delta_rows(out / "_staging" / "resolved"), key=lambda r: (r["file_id"], r["bstart"])
    )
    assert staged == [
        {"file_id": 1, "bstart": 6, "bend": 9, "target": 2},
        {"file_id": 2, "bstart": 12, "bend": 20, "target": 1},
    ]
    # Delta-backed views are read as datasets, so a predicate reaches the scan.
    for name in ("resolved", "cpg_nodes_out"):
        plan = str(ctx.sql(f"SELECT * FROM {name} WHERE file_id = 1").execution_plan())
        assert "DatasetExec" in plan
        assert "filter_expr=(file_id == 1)" in plan
    assert ctx.sql("SELECT count(*) AS n FROM cpg_nodes_out").to_pylist() == [{"n": 5}]
    # The lazy view is still a plan over the evidence; the cached one is computed batches
    # that no longer read the evidence at all.
    lazy_plan = ctx.table("defs").logical_plan().display_indent()
    assert "TableScan: ev_nodes" in lazy_plan
    assert "Filter:" in lazy_plan
    cached_plan = ctx.table("calls").logical_plan().display_indent()
    assert "ev_nodes" not in cached_plan
    assert "Filter" not in cached_plan
    assert ctx.sql("SELECT count(*) AS n FROM calls").to_pylist() == [{"n": 3}]


def test_hamilton_runs_the_schedule_with_the_inferred_edges(executed) -> None:
    _, _, report = executed
    assert [v.view for v in report.views] == ORDER
    assert {v.view: v.upstream for v in report.views} == {
        view: tuple(sorted(upstream)) for view, upstream in INPUTS.items()
    }
    assert {v.view: v.materialization for v in report.views} == MATERIALIZATION
    assert report.driver_seconds > 0
    assert report.execute_seconds >= sum(v.seconds for v in report.views)


def test_output_constraints_are_recorded_and_enforced(executed) -> None:
    _, out, _ = executed
    table = DeltaTable(str(out / "cpg_nodes_out"))
    configuration = table.metadata().configuration
    assert configuration["delta.constraints.span_ordered"] == "bstart <= bend"
    # delta-rs stores BETWEEN normalised to two comparisons.
    assert configuration["delta.constraints.confidence_range"] == (
        "confidence >= 0 AND confidence <= 1"
    )
    assert configuration["delta.dataSkippingStatsColumns"] == "file_id,bstart"
    stats = pa.table(table.get_add_actions(flatten=True)).column_names
    assert "min.file_id" in stats
    assert "min.name" not in stats
    bad_span = pa.table(
        {
            "file_id": pa.array([3], pa.int64()),
            "bstart": pa.array([9], pa.int64()),
            "bend": pa.array([1], pa.int64()),
            "confidence": [1.0],
            "name": ["x"],
        }
    )
    with pytest.raises(Exception, match="failed validation"):
        write_deltalake(str(out / "cpg_nodes_out"), bad_span, mode="append")
    bad_confidence = bad_span.set_column(1, "bstart", pa.array([0], pa.int64())).set_column(
        3, "confidence", pa.array([1.5])
    )
    with pytest.raises(Exception, match="failed validation"):
        write_deltalake(str(out / "cpg_nodes_out"), bad_confidence, mode="append")
    assert DeltaTable(str(out / "cpg_nodes_out")).version() == table.version()


def test_outputs_are_sorted_by_file_id_within_every_file(executed) -> None:
    _, out, _ = executed
    for name in ("cpg_nodes_out", "cpg_edges_out"):
        for uri in DeltaTable(str(out / name)).file_uris():
            file_ids = pq.read_table(uri.removeprefix("file://"), columns=["file_id"])
            values = file_ids.column("file_id").to_pylist()
            assert values == sorted(values)


def test_rerun_replaces_outputs_and_keeps_constraints(executed) -> None:
    _, out, first = executed
    second = _run(_session(), out)
    first_versions = {v.view: v.delta_version for v in first.views}
    for record in second.views:
        if record.materialization == "delta_output":
            assert record.delta_version is not None
            assert record.delta_version > (first_versions[record.view] or 0)
            assert record.rows_written == {"cpg_nodes_out": 5, "cpg_edges_out": 3}[record.view]
    configuration = DeltaTable(str(out / "cpg_nodes_out")).metadata().configuration
    assert sorted(k for k in configuration if k.startswith("delta.constraints.")) == [
        "delta.constraints.confidence_range",
        "delta.constraints.span_ordered",
    ]


def test_output_violating_a_constraint_fails_the_run(tmp_path: Path) -> None:
    policy = _policy({"span_reversed": "bstart > bend"})
    with pytest.raises(Exception, match="5 rows failed validation"):
        execute(_session(), VIEWS, _schedule(ORDER), policy, _deps(INPUTS), _datasets(tmp_path))
    # The violating rows were never committed; the constraint is in place.
    table = DeltaTable(str(tmp_path / "cpg_nodes_out"))
    assert table.to_pyarrow_table().num_rows == 0
    assert table.metadata().configuration["delta.constraints.span_reversed"] == "bstart > bend"


def test_schedule_against_the_dependencies_is_refused(tmp_path: Path) -> None:
    order = ["resolved", "calls", "defs", "cpg_nodes_out", "cpg_edges_out"]
    with pytest.raises(ValueError, match="before its input"):
        execute(_session(), VIEWS, _schedule(order), _policy(), _deps(INPUTS), _datasets(tmp_path))


def test_view_names_must_be_identifiers(tmp_path: Path) -> None:
    views = {"bad-name": ViewDefinition("bad-name", _defs)}
    policy = CompiledExecutionPolicy(
        views=[ViewPolicy(view="bad-name", materialization="lazy", confidence=certain("t"))],
        writes=[],
        validation_mode="strict",
        fingerprint="t",
    )
    schedule = TaskSchedule(
        generations=[["bad-name"]], order=["bad-name"], critical_path=[], costs=[]
    )
    with pytest.raises(ValueError, match="cannot name a Hamilton node"):
        execute(_session(), views, schedule, policy, _deps({"bad-name": ()}), _datasets(tmp_path))


def test_importing_the_runner_does_not_import_hamilton_or_pandas() -> None:
    code = (
        "import sys, codeanatomy.execute.runner\n"
        "print(sorted(m for m in ('hamilton', 'pandas', 'datafusion', 'deltalake')"
        " if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
