"""The run's one DataFusion session and the registration of Delta tables into it.

Delta tables are registered as pyarrow datasets (``DeltaTable(p).to_pyarrow_dataset()``
with ``ctx.register_dataset``) because that is the path that prunes. Measured with
datafusion 55.0.0 / deltalake 1.6.6 on 2 cores, predicate ``file_id = '<one id>'`` over a
Delta table appended in 16 files of 200k rows each, every file holding one disjoint
file_id range (``tests/test_query.py`` re-measures the same on a small table):

* ``ctx.register_table(name, DeltaTable(p))``: ``EXPLAIN ANALYZE`` shows a ``FilterExec``
  over the Delta scan with ``files_opened=16``, ``files_ranges_pruned_statistics=16 total →
  16 matched`` and scan ``output_rows=3.20 M``; 101 ms median of 9.
* ``ctx.register_dataset(name, DeltaTable(p).to_pyarrow_dataset())``: the plan is a single
  ``DatasetExec: number_of_fragments=1, filter_expr=(file_id == ...), projection=[...]``
  (the filter is exact inside the scan, no ``FilterExec`` remains); 17.6 ms median of 9.

A dataset captures the table's file list at the version it was opened at; that version
is returned so plan fingerprints can name the exact snapshot they ran against.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import pyarrow as pa
from datafusion import DataFrame, SessionConfig, SessionContext
from deltalake import DeltaTable

from codeanatomy.plan.udfs import register_udfs

EVIDENCE_DIR = "evidence"
CPG_TABLES = ("cpg_nodes", "cpg_edges", "cpg_props")
DELTA_LOG = "_delta_log"


def new_session(target_partitions: int | None = None) -> SessionContext:
    """Create the one session a run uses (the caller owns it and passes it down).

    ``target_partitions`` defaults to the cores this process may use, so scans and joins
    use the machine without oversubscribing it; logical plans, which feed fingerprints,
    are the same for any value. ``information_schema``
    is on so ``SHOW TABLES`` and ``information_schema.columns`` work in queries.

    Dynamic filter pushdown is off: a hash join pushes a runtime filter (``true`` until
    the build side is read) into its probe-side scan, and the pyarrow dataset scans that
    give us file pruning cannot convert it ("Cannot convert BooleanScalar to
    Expression", datafusion 55). Static predicates still push down and prune.
    """
    partitions = target_partitions or _usable_cores()
    config = (
        SessionConfig()
        .with_target_partitions(partitions)
        .with_information_schema(True)
        .set("datafusion.optimizer.enable_dynamic_filter_pushdown", "false")
        .set("datafusion.optimizer.enable_join_dynamic_filter_pushdown", "false")
    )
    ctx = SessionContext(config)
    register_udfs(ctx)
    return ctx


_NO_PARTITIONS = "No partitions provided"


def cache_frame(ctx: SessionContext, df: DataFrame) -> DataFrame:
    """``df`` computed once into memory, as a DataFrame later plans scan.

    A plan with no partitions (it scans only an empty evidence table, e.g. of a layer not
    selected) cannot be cached in datafusion 55 ("No partitions provided"); its result is
    empty by construction, so an empty table of its schema stands in. Asking the physical
    plan first would plan every cached frame twice, so the error is what tells.
    """
    try:
        return df.cache()
    except Exception as error:
        if _NO_PARTITIONS not in str(error):
            raise
        return ctx.from_arrow(df.schema().empty_table())


def compact_strings_sql(ctx: SessionContext, sql: str) -> str:
    """``sql`` with its ``Utf8View`` columns copied into fresh buffers (Utf8 and back).

    A view array produced by a join or filter keeps references to every data buffer of
    its inputs. A fixpoint feeds each iteration's output into the next, so those lists
    compound: measured on 170 stdlib modules (datafusion 55), the state's buffer count
    grew ninefold per iteration (6.0 M buffers for 145 k rows by iteration 19) and each
    iteration took ten times longer than the one before. One copy per step keeps it flat.
    The result is SQL, so the cast is in the plan that runs and in the plans reported.
    It casts back to ``Utf8View`` because later steps union these columns with view
    columns of other relations, and plain ``Utf8`` there fails type coercion.
    """
    schema = ctx.sql(sql).schema()
    if all(field.type != pa.string_view() for field in schema):
        return sql
    columns = ", ".join(
        f"arrow_cast(arrow_cast({_quoted(field.name)}, 'Utf8'), 'Utf8View')"
        f" AS {_quoted(field.name)}"
        if field.type == pa.string_view()
        else _quoted(field.name)
        for field in schema
    )
    return f"SELECT {columns} FROM ({sql}) compacted"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def register_placeholder(ctx: SessionContext, name: str, schema: pa.Schema) -> None:
    """An empty table with ``schema``, so plans over ``name`` scan it by name."""
    ctx.register_record_batches(name, [[pa.RecordBatch.from_pylist([], schema=schema)]])


def register_delta_tables(ctx: SessionContext, root: Path, names: Iterable[str]) -> dict[str, int]:
    """Register each Delta table ``root/name`` under its last path component; return versions.

    ``name`` may be a relative path (``evidence/ast_calls``, as :func:`discover_tables`
    returns), the table is then registered as ``ast_calls``. Two paths ending in the same
    name would shadow each other, so that raises ``ValueError``.
    """
    versions: dict[str, int] = {}
    for name in names:
        table_name = PurePosixPath(name).name
        if table_name in versions:
            raise ValueError(f"two Delta tables would be registered as {table_name!r}")
        table = DeltaTable(str(root / name))
        ctx.register_dataset(table_name, table.to_pyarrow_dataset())
        versions[table_name] = table.version()
    return versions


def discover_tables(out: Path) -> list[str]:
    """The Delta tables of a build output, as paths relative to ``out``, sorted.

    Evidence tables are every directory under ``out/evidence`` holding a ``_delta_log``;
    CPG tables are ``out/cpg_nodes|cpg_edges|cpg_props`` when they exist.
    """
    found: list[str] = []
    evidence = out / EVIDENCE_DIR
    if evidence.is_dir():
        found.extend(
            f"{EVIDENCE_DIR}/{child.name}"
            for child in evidence.iterdir()
            if (child / DELTA_LOG).is_dir()
        )
    found.extend(name for name in CPG_TABLES if (out / name / DELTA_LOG).is_dir())
    return sorted(found)


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
