"""The four ways a view is materialised, each leaving the view registered in the session.

Downstream builders read a view with ``ctx.table(name)`` whatever its materialisation, so
every function ends with ``name`` registered. Delta materialisations are handed the path
to write, resolved by the caller from the run's ``DatasetResolver``: nothing here composes
one. Delta writes stream the DataFusion plan into Delta through the Arrow C stream (no
table is ever collected in Python), and written tables are registered as pyarrow datasets
because that path pushes filters down and prunes files, which registering a
``DeltaTable`` directly does not.

DataFusion, deltalake and pyarrow are imported inside the functions: they pull in pandas,
and modules the CLI imports for ``--help`` must stay light.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from codeanatomy.plan.contracts import WritePolicy

if TYPE_CHECKING:
    from datafusion import DataFrame, SessionContext

_CONSTRAINT_PREFIX = "delta.constraints."
_STATS_COLUMNS_KEY = "delta.dataSkippingStatsColumns"


class DeltaWrite(msgspec.Struct, frozen=True, kw_only=True):
    """What one Delta materialisation wrote, read back from the Delta log (not the data)."""

    path: str
    rows: int
    files: int
    version: int
    seconds: float


def materialize_lazy(ctx: SessionContext, name: str, df: DataFrame) -> None:
    """Register the plan itself: every reader re-plans it, nothing is computed now."""
    _replace_registration(ctx, name)
    ctx.register_view(name, df)


def materialize_cache(ctx: SessionContext, name: str, df: DataFrame) -> None:
    """Compute once into DataFusion memory so several readers share one evaluation."""
    from codeanatomy.plan.session import cache_frame

    cached = cache_frame(ctx, df)
    _replace_registration(ctx, name)
    ctx.register_view(name, cached)


def materialize_delta_staging(
    ctx: SessionContext, name: str, df: DataFrame, path: Path
) -> DeltaWrite:
    """Spill an intermediate to ``path`` (the resolver's staging path) and read it back."""
    start = time.perf_counter()
    _stream_to_delta(path, df)
    return _register_written(ctx, name, path, start)


def materialize_delta_output(
    ctx: SessionContext, name: str, df: DataFrame, path: Path, write: WritePolicy
) -> DeltaWrite:
    """Write an output table to ``path`` (its binding) per its write policy, then register it.

    The table keeps its Delta history. It is first reset to an empty table of the new
    schema carrying the policy's constraints, so the data write itself is checked: rows
    violating a constraint are never committed, and later writes stay checked too.
    """
    import pyarrow as pa
    from datafusion import col
    from deltalake import DeltaTable, write_deltalake

    start = time.perf_counter()
    configuration = (
        {_STATS_COLUMNS_KEY: ",".join(write.stats_columns)} if write.stats_columns else {}
    )
    if DeltaTable.is_deltatable(str(path)):
        _prepare_existing(DeltaTable(str(path)), configuration)
    schema: pa.Schema = df.schema()
    write_deltalake(
        str(path),
        schema.empty_table(),
        mode="overwrite",
        schema_mode="overwrite",
        partition_by=list(write.partition_by) or None,
        configuration=configuration or None,
    )
    if write.constraints:
        DeltaTable(str(path)).alter.add_constraint(dict(sorted(write.constraints.items())))
    if write.sort_by:
        df = df.sort(
            *(col(column).sort(ascending=True, nulls_first=True) for column in write.sort_by)
        )
    write_deltalake(str(path), df, mode="append", partition_by=list(write.partition_by) or None)
    return _register_written(ctx, name, path, start)


def _prepare_existing(table: Any, configuration: dict[str, str]) -> None:
    """Drop old constraints and set stats columns before the table is rewritten.

    Old constraints could reject the new data or name columns that no longer exist. An
    overwrite keeps the table's configuration and ignores the one it is given, so stats
    columns must be set here for the new files to carry the right statistics.
    """
    current: dict[str, str] = table.metadata().configuration
    for key in sorted(current):
        if key.startswith(_CONSTRAINT_PREFIX):  # drift: allow D1 Delta protocol config key
            table.alter.drop_constraint(key.removeprefix(_CONSTRAINT_PREFIX))
    changed = {k: v for k, v in configuration.items() if current.get(k) != v}
    if changed:
        table.alter.set_table_properties(changed)


def _stream_to_delta(path: Path, df: DataFrame) -> None:
    from deltalake import write_deltalake

    write_deltalake(str(path), df, mode="overwrite", schema_mode="overwrite")


def _register_written(ctx: SessionContext, name: str, path: Path, start: float) -> DeltaWrite:
    """Register the written table for pushdown reads and summarise it from its log."""
    import pyarrow as pa
    from deltalake import DeltaTable

    table = DeltaTable(str(path))
    records = pa.table(table.get_add_actions(flatten=True)).column("num_records").to_pylist()
    if any(count is None for count in records):
        raise ValueError(f"Delta log of {path} lacks num_records for some files")
    _replace_registration(ctx, name)
    ctx.register_dataset(name, table.to_pyarrow_dataset())
    return DeltaWrite(
        path=str(path),
        rows=sum(records),
        files=len(records),
        version=table.version(),
        seconds=time.perf_counter() - start,
    )


def _replace_registration(ctx: SessionContext, name: str) -> None:
    """Drop a table of the same name (e.g. a planning placeholder) before registering."""
    if ctx.table_exist(name):
        ctx.deregister_table(name)
