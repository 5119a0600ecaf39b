"""Extraction of one batch of files, run inside a worker process.

For each file: read it (size limit first), classify it, emit its ``repo_files`` and
``file_lines`` rows, then run every selected layer. A layer either contributes all of its
rows for the file or one ``extract_errors`` row; nothing a file contains can stop the
batch. Rows accumulate as tuples and leave the process as one Arrow batch per table.
"""

from __future__ import annotations

import gc
import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from codeanatomy.extract.catalog import EvidencePlan
from codeanatomy.extract.errors import EXTRACT_ERRORS, error_row
from codeanatomy.extract.file_tables import FILE_LINES, REPO_FILES, WIDE_CHARS
from codeanatomy.extract.layer import RowTuples
from codeanatomy.ids import file_id_for
from codeanatomy.scan.source import SourceDecodeError, SourceFile

# Test hook for the crash-isolation path: when the build's environment names a
# repo-relative path here, the worker that reaches it dies on the spot, exactly as a
# segfaulting parser would. Read by the parent and carried on the task, because
# forkserver workers do not see the parent's later environment changes.
FAULT_ENV = "CODEANATOMY_FAULT_KILL_WORKER_ON"
FAULT_EXIT_CODE = 70


@dataclass(frozen=True)
class BatchTask:
    root: str
    paths: tuple[str, ...]
    layers: tuple[str, ...]
    max_file_bytes: int
    fault_kill_path: str | None = None


@dataclass
class BatchResult:
    batches: dict[str, pa.RecordBatch]
    files: int
    statuses: Counter[str] = field(default_factory=Counter)
    layer_seconds: dict[str, float] = field(default_factory=dict)


class FileFailure(Exception):
    """A file that cannot be extracted at all; ``status`` goes to ``repo_files``."""

    def __init__(self, status: str, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type


def run_batch(task: BatchTask) -> BatchResult:
    """Extract every file of ``task`` (the entry point of worker processes).

    The cyclic garbage collector is paused for the batch: the millions of row tuples it
    creates hold no cycles, and collecting over them cost ~20% of a layer's time.
    """
    gc.disable()
    try:
        return _run_batch(task)
    finally:
        gc.enable()


def _run_batch(task: BatchTask) -> BatchResult:
    plan = EvidencePlan.from_names(task.layers)
    rows: dict[str, RowTuples] = {spec.name: [] for spec in plan.tables}
    result = BatchResult(batches={}, files=len(task.paths))
    seconds: dict[str, float] = defaultdict(float)
    for relpath in task.paths:
        if relpath == task.fault_kill_path:
            os._exit(FAULT_EXIT_CODE)
        status = _extract_file(Path(task.root), relpath, plan, task.max_file_bytes, rows, seconds)
        result.statuses[status] += 1
    result.batches = {spec.name: spec.batch(rows[spec.name]) for spec in plan.tables}
    result.layer_seconds = dict(seconds)
    return result


def _extract_file(
    root: Path,
    relpath: str,
    plan: EvidencePlan,
    max_file_bytes: int,
    rows: dict[str, RowTuples],
    seconds: dict[str, float],
) -> str:
    started = time.perf_counter()
    file_id = file_id_for(relpath)
    try:
        source = _read(root / relpath, relpath, max_file_bytes)
    except FileFailure as failure:
        rows[REPO_FILES.name].append(
            failure_file_row(file_id, relpath, failure.status, _size_or_zero(root / relpath))
        )
        rows[EXTRACT_ERRORS.name].append(
            (file_id, relpath, "scan", failure.error_type, str(failure), None, None)
        )
        seconds["scan"] += time.perf_counter() - started
        return failure.status
    status = _classify(source)
    rows[REPO_FILES.name].append(
        (
            file_id,
            relpath,
            source.size,
            source.sha256,
            _encoding_or_none(source),
            source.bom,
            source.line_count,
            relpath.endswith(".pyi"),
            status,
        )
    )
    lines = rows[FILE_LINES.name]
    for line_no, (start, end) in enumerate(
        zip(source.line_starts, source.line_ends, strict=True), 1
    ):
        lines.append((file_id, line_no, start, end))
    if status == "ok":
        rows[WIDE_CHARS.name].extend(source.wide_chars())
    seconds["scan"] += time.perf_counter() - started
    if status == "binary":
        rows[EXTRACT_ERRORS.name].append(
            (
                file_id,
                relpath,
                "scan",
                "BinaryFile",
                "file holds NUL bytes and does not decode: not Python source",
                None,
                None,
            )
        )
        return status
    for layer in plan.layers:
        started = time.perf_counter()
        try:
            produced = layer.extract(source)
        except Exception as exc:  # any failure of one layer on one file is data
            rows[EXTRACT_ERRORS.name].append(error_row(source, file_id, relpath, layer.name, exc))
        else:
            for table, table_rows in produced.items():
                rows[table].extend(table_rows)
        seconds[layer.name] += time.perf_counter() - started
    return status


def _read(path: Path, relpath: str, max_file_bytes: int) -> SourceFile:
    try:
        size = path.stat().st_size
        if size > max_file_bytes:
            raise FileFailure(
                "too_large",
                "FileTooLarge",
                f"{size} bytes exceeds --max-file-bytes {max_file_bytes}; skipped",
            )
        return SourceFile(relpath, path.read_bytes())
    except OSError as exc:
        raise FileFailure("unreadable", type(exc).__name__, exc.strerror or str(exc)) from exc


def _classify(source: SourceFile) -> str:
    try:
        _ = source.text
    except SourceDecodeError:
        return "binary" if source.has_nul else "undecodable"
    return "ok"


def _encoding_or_none(source: SourceFile) -> str | None:
    try:
        return source.encoding
    except SourceDecodeError:
        return None


def _size_or_zero(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def failure_file_row(
    file_id: str, relpath: str, status: str, size: int
) -> tuple[str, str, int, None, None, bool, int, bool, str]:
    """``repo_files`` row of a file whose content never reached a layer."""
    return (file_id, relpath, size, None, None, False, 0, relpath.endswith(".pyi"), status)
