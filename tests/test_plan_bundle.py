"""Plan bundles, lineage and inferred dependencies on real DataFusion plans over Arrow tables.

Expected dependencies, columns and functions are read from the SQL / DataFrame code of
the views below, not from the planner's output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from datafusion import DataFrame, SessionContext, col, lit, udf
from datafusion import functions as f
from datafusion.substrait import Serde

from codeanatomy.plan.bundle import PlannedProgram, UnplannableViewsError, plan_views
from codeanatomy.plan.views import ViewDefinition

VERSIONS = {"defs": 3, "files": 7, "calls": 2}
EVIDENCE = ("calls", "defs", "files")


def _evidence_context() -> SessionContext:
    ctx = SessionContext()
    ctx.from_arrow(
        pa.table(
            {
                "file_id": [1, 1, 2],
                "def_id": [10, 11, 20],
                "name": ["f", "C", "g"],
                "kind": ["function", "class", "function"],
                "bstart": [0, 30, 0],
                "bend": [20, 60, 15],
            }
        ),
        name="defs",
    )
    ctx.from_arrow(
        pa.table({"file_id": [1, 2], "path": ["a.py", "b.py"], "size": [60, 15]}), name="files"
    )
    ctx.from_arrow(
        pa.table({"call_id": [100, 101], "callee_name": ["f", "print"], "bstart": [5, 9]}),
        name="calls",
    )
    shout = udf(pc.utf8_upper, [pa.string()], pa.string(), "immutable", name="shout")
    ctx.register_udf(shout)
    return ctx


def _file_defs(ctx: SessionContext) -> DataFrame:
    defs = ctx.table("defs")
    return defs.filter(col("kind") == lit("function")).select("file_id", "def_id", "name")


def _def_paths(ctx: SessionContext) -> DataFrame:
    files = ctx.table("files").select("file_id", "path")
    return (
        ctx.table("file_defs")
        .join(files, on="file_id")
        .select(col("def_id"), col("name"), col("path"))
    )


def _defs_per_file(ctx: SessionContext) -> DataFrame:
    return ctx.table("file_defs").aggregate(
        [col("file_id")], [f.count(col("def_id")).alias("n_defs")]
    )


def _called_defs(ctx: SessionContext) -> DataFrame:
    return ctx.sql(
        "SELECT d.def_id, d.name, (SELECT max(size) FROM files) AS max_file_size "
        "FROM def_paths d "
        "WHERE EXISTS (SELECT 1 FROM calls c WHERE c.callee_name = d.name)"
    )


def _def_labels(ctx: SessionContext) -> DataFrame:
    return ctx.sql("SELECT def_id, shout(name) AS label FROM called_defs")


def _def_summary(ctx: SessionContext) -> DataFrame:
    paths = ctx.table("def_paths").select(col("def_id").alias("path_def_id"), col("path"))
    labels = ctx.table("def_labels")
    return labels.join(paths, left_on="def_id", right_on="path_def_id").select("label", "path")


def _views(
    def_labels: Callable[[SessionContext], DataFrame] = _def_labels,
) -> list[ViewDefinition]:
    return [
        ViewDefinition("file_defs", _file_defs),
        ViewDefinition("def_paths", _def_paths),
        ViewDefinition("defs_per_file", _defs_per_file, role="output"),
        ViewDefinition("called_defs", _called_defs),
        ViewDefinition("def_labels", def_labels),
        ViewDefinition("def_summary", _def_summary, role="output"),
    ]


def _plan(
    views: Sequence[ViewDefinition], versions: Mapping[str, int] = VERSIONS
) -> PlannedProgram:
    return plan_views(_evidence_context(), views, versions)


def _fingerprints(program: PlannedProgram) -> dict[str, str]:
    return {view: bundle.fingerprint for view, bundle in program.bundles.items()}


def test_dependencies_columns_and_functions_read_off_the_plans() -> None:
    program = _plan(list(reversed(_views())))  # reversed: every view waits for its inputs
    deps = program.deps
    expected = {
        "file_defs": ((), ("defs",), {"defs": ("def_id", "file_id", "kind", "name")}, ()),
        "def_paths": (
            ("file_defs",),
            ("files",),
            {"file_defs": ("def_id", "file_id", "name"), "files": ("file_id", "path")},
            (),
        ),
        "defs_per_file": (("file_defs",), (), {"file_defs": ("def_id", "file_id")}, ("count",)),
        "called_defs": (
            ("def_paths",),
            ("calls", "files"),
            {"calls": ("callee_name",), "def_paths": ("def_id", "name"), "files": ("size",)},
            ("max",),
        ),
        "def_labels": (("called_defs",), (), {"called_defs": ("def_id", "name")}, ("shout",)),
        "def_summary": (
            ("def_labels", "def_paths"),
            (),
            {"def_labels": ("def_id", "label"), "def_paths": ("def_id", "path")},
            (),
        ),
    }
    assert set(deps) == set(expected)
    for view, (inputs, evidence, columns, udfs) in expected.items():
        assert deps[view].inputs == inputs, view
        assert deps[view].evidence == evidence, view
        assert deps[view].required_columns == columns, view
        assert deps[view].required_udfs == udfs, view
        assert deps[view].plan_fingerprint == program.bundles[view].fingerprint
        assert program.lineage[view].tables == tuple(sorted(inputs + evidence))
    assert program.bundles["called_defs"].input_versions == {"calls": 2, "files": 7}
    assert program.bundles["def_labels"].input_versions == {}
    assert program.schemas["def_labels"].names == ["def_id", "label"]


def test_bundle_holds_plans_substrait_and_snapshots() -> None:
    program = _plan(_views())
    bundle = program.bundles["def_paths"]
    assert "TableScan: file_defs" in bundle.logical_plan
    assert "HashJoinExec" in bundle.physical_plan
    assert '"file_defs"' in Serde.deserialize_bytes(bundle.substrait).to_json()
    assert "shout" in bundle.udf_snapshot and "count" in bundle.udf_snapshot
    assert list(bundle.udf_snapshot) == sorted(bundle.udf_snapshot)
    # the aggregate's physical plan runs over the real rows, not a zero-row placeholder
    assert "AggregateExec" in program.bundles["defs_per_file"].physical_plan


def test_no_placeholder_or_view_left_registered() -> None:
    ctx = _evidence_context()
    plan_views(ctx, _views(), VERSIONS)
    for view in _views():
        assert not ctx.table_exist(view.name)
    assert all(ctx.table_exist(table) for table in EVIDENCE)


def test_same_views_plan_to_the_same_fingerprints() -> None:
    assert _fingerprints(_plan(_views())) == _fingerprints(_plan(list(reversed(_views()))))


def test_fingerprints_are_stable_across_processes() -> None:
    """Substrait lists functions in hash-map order; fingerprints must not depend on it."""
    script = (
        "import json; from tests.test_plan_bundle import _plan, _views, _fingerprints; "
        "print(json.dumps(_fingerprints(_plan(_views()))))"
    )
    root = Path(__file__).resolve().parents[1]
    runs = [
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    ]
    assert json.loads(runs[0]) == json.loads(runs[1]) == _fingerprints(_plan(_views()))


def test_input_version_changes_the_fingerprints_of_views_that_depend_on_it() -> None:
    before = _fingerprints(_plan(_views()))
    after = _fingerprints(_plan(_views(), {**VERSIONS, "files": 8}))
    changed = {view for view in before if before[view] != after[view]}
    # files is read by def_paths and called_defs; the rest follow through the view graph
    assert changed == {"def_paths", "called_defs", "def_labels", "def_summary"}


def test_view_logic_change_changes_it_and_its_downstream_only() -> None:
    def lower_labels(ctx: SessionContext) -> DataFrame:
        return ctx.sql("SELECT def_id, lower(name) AS label FROM called_defs")

    before = _plan(_views())
    after = _plan(_views(def_labels=lower_labels))
    changed = {v for v in before.bundles if _fingerprints(before)[v] != _fingerprints(after)[v]}
    assert changed == {"def_labels", "def_summary"}
    assert after.deps["def_labels"].required_udfs == ("lower",)


def test_setting_that_changes_results_changes_the_fingerprint() -> None:
    ctx = _evidence_context()
    ctx.sql("SET datafusion.execution.time_zone = '+02:00'").collect()
    changed = plan_views(ctx, _views(), VERSIONS)
    assert _fingerprints(changed)["file_defs"] != _fingerprints(_plan(_views()))["file_defs"]


def test_missing_table_and_cycle_are_named() -> None:
    views = [
        *_views(),
        ViewDefinition("orphan", lambda ctx: ctx.table("no_such_table")),
        ViewDefinition("loop_a", lambda ctx: ctx.sql("SELECT * FROM loop_b")),
        ViewDefinition("loop_b", lambda ctx: ctx.table("loop_a")),
    ]
    ctx = _evidence_context()
    with pytest.raises(UnplannableViewsError) as raised:
        plan_views(ctx, views, VERSIONS)
    assert raised.value.missing == {
        "loop_a": ("loop_b",),
        "loop_b": ("loop_a",),
        "orphan": ("no_such_table",),
    }
    assert "no_such_table" in str(raised.value)
    assert not any(ctx.table_exist(view.name) for view in views)


def test_builder_bug_is_not_mistaken_for_a_missing_input() -> None:
    broken = ViewDefinition("broken", lambda ctx: ctx.table("defs").select("no_such_column"))
    with pytest.raises(Exception, match="no_such_column"):
        _plan([broken])


def test_recursive_view_plans_without_substrait() -> None:
    """Substrait has no recursive query: the fingerprint falls back to the plan text."""
    reach = ViewDefinition(
        "reach",
        lambda ctx: ctx.sql(
            "WITH RECURSIVE r(a, b) AS (SELECT file_id, def_id FROM defs "
            "UNION ALL SELECT r.a, d.def_id FROM r JOIN defs d ON r.b = d.file_id) "
            "SELECT a, b FROM r"
        ),
    )
    first, second = _plan([reach]), _plan([reach])
    assert first.bundles["reach"].substrait == b""
    assert first.deps["reach"].evidence == ("defs",)
    assert first.deps["reach"].required_columns == {"defs": ("def_id", "file_id")}
    assert _fingerprints(first) == _fingerprints(second)
