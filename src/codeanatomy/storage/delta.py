"""Streaming Arrow batches into Delta tables.

Batches arrive per table as extraction proceeds. Each :class:`DeltaTableSink` buffers up
to ``flush_rows`` rows and hands them to the one :class:`DeltaWriter` thread, so parsing
and writing overlap while memory stays bounded by the buffers plus a short queue (the
queue's bound is the back-pressure). The first write of a run replaces the table (schema
included); later ones append. A table that receives no rows is still written, empty and
with its full schema, so every consumer finds every table.

Layout decision: no partitioning. Files are extracted in ``file_id`` order, so every data
file covers a narrow ``file_id`` range and its min/max statistics let a ``file_id``
predicate skip the others (what incremental rebuilds need), without the thousands of tiny
files a per-file partitioning would make.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from deltalake import write_deltalake

_QUEUE_DEPTH = 4
_STOP = None


@dataclass(frozen=True)
class _WriteJob:
    path: str
    table: pa.Table
    replace: bool  # first write of the run: replace content and schema; else append
    description: str


class DeltaWriter:
    """One background thread performing Delta writes in submission order."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[_WriteJob | None] = queue.Queue(maxsize=_QUEUE_DEPTH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="delta-writer", daemon=True)
        self._thread.start()

    def submit(self, job: _WriteJob) -> None:
        self._raise_pending()
        self._jobs.put(job)

    def close(self) -> None:
        self._jobs.put(_STOP)
        self._thread.join()
        self._raise_pending()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if self._error is not None:
                continue
            try:
                if job.replace:
                    write_deltalake(
                        job.path,
                        job.table,
                        mode="overwrite",
                        schema_mode="overwrite",
                        description=job.description or None,
                    )
                else:
                    write_deltalake(job.path, job.table, mode="append")
            except BaseException as exc:  # surfaced on the caller's thread
                self._error = exc

    def _raise_pending(self) -> None:
        if self._error is not None:
            raise self._error


class DeltaTableSink:
    """Buffers one table's batches and flushes them through a :class:`DeltaWriter`."""

    def __init__(
        self,
        path: Path,
        schema: pa.Schema,
        writer: DeltaWriter,
        *,
        description: str = "",
        flush_rows: int = 100_000,
    ) -> None:
        self.path = path
        self.schema = schema
        self.rows_written = 0
        self._writer = writer
        self._description = description
        self._flush_rows = flush_rows
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._writes = 0

    def add(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= self._flush_rows:
            self._flush()

    def close(self) -> int:
        """Write what is left (an empty table if nothing was written); return the row count."""
        if self._pending or self._writes == 0:
            self._flush()
        return self.rows_written

    def _flush(self) -> None:
        table = pa.Table.from_batches(self._pending, schema=self.schema)
        self._writer.submit(_WriteJob(str(self.path), table, self._writes == 0, self._description))
        self._writes += 1
        self.rows_written += table.num_rows
        self._pending = []
        self._pending_rows = 0
