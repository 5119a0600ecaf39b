"""Run extraction over a process pool and stream the results into sinks.

Files are cut into batches of roughly ``batch_bytes`` of source, in ``file_id`` order.
At most ``2 × jobs`` batches are in flight and results are consumed in submission order,
so output is deterministic and memory holds only the batches in flight.

A worker that dies (a parser segfault, the OOM killer) breaks the pool and every batch
in flight with it. Those batches are retried once, one file at a time, in a separate
single-worker pool; a file that kills its worker again becomes a ``worker_crashed`` file
with an error row, and the other files of its batch come out normally. Workers that die
on every file before any file succeeded are not bad input but a broken setup: the run
stops with :class:`WorkersUnavailable` instead of crawling through the repository.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from codeanatomy.extract.catalog import EvidencePlan
from codeanatomy.extract.errors import EXTRACT_ERRORS
from codeanatomy.extract.file_tables import REPO_FILES
from codeanatomy.extract.worker import (
    FAULT_ENV,
    BatchResult,
    BatchTask,
    failure_file_row,
    run_batch,
)
from codeanatomy.ids import file_id_for

DEFAULT_BATCH_BYTES = 256 * 1024
MAX_FILES_PER_BATCH = 64
SYSTEMIC_CRASHES = 3


class WorkersUnavailable(RuntimeError):
    """Worker processes die before extracting anything (a setup problem, not a file's)."""


class BatchSink(Protocol):
    def add(self, batch: pa.RecordBatch) -> None: ...


@dataclass
class ExtractionStats:
    """What the extraction did, summed over batches."""

    files: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    layer_seconds: Counter[str] = field(default_factory=Counter)


def plan_batches(
    root: Path, paths: Sequence[str], batch_bytes: int = DEFAULT_BATCH_BYTES
) -> list[tuple[str, ...]]:
    """Cut ``paths`` (ordered by file id) into batches of about ``batch_bytes``."""
    ordered = sorted(paths, key=file_id_for)
    batches: list[tuple[str, ...]] = []
    current: list[str] = []
    size = 0
    for rel in ordered:
        try:
            file_size = (root / rel).stat().st_size
        except OSError:
            file_size = 0
        if current and (size + file_size > batch_bytes or len(current) >= MAX_FILES_PER_BATCH):
            batches.append(tuple(current))
            current, size = [], 0
        current.append(rel)
        size += file_size
    if current:
        batches.append(tuple(current))
    return batches


def run_extraction(
    root: Path,
    paths: Sequence[str],
    plan: EvidencePlan,
    sinks: Mapping[str, BatchSink],
    *,
    jobs: int,
    max_file_bytes: int,
    on_files_done: Callable[[int], None] | None = None,
) -> ExtractionStats:
    """Extract ``paths`` under ``root`` with ``jobs`` workers into ``sinks``."""
    stats = ExtractionStats()
    fault = os.environ.get(FAULT_ENV)
    tasks = (
        BatchTask(str(root), batch, plan.names, max_file_bytes, fault)
        for batch in plan_batches(root, paths)
    )
    for result in _results(tasks, jobs):
        for table, batch in result.batches.items():
            sinks[table].add(batch)
        stats.files += result.files
        stats.statuses.update(result.statuses)
        stats.layer_seconds.update(result.layer_seconds)
        if on_files_done is not None:
            on_files_done(result.files)
    return stats


def _pool(workers: int) -> ProcessPoolExecutor:
    # forkserver: workers start from a clean server process, not from a parent that
    # already runs Delta writer threads (forking those is unsafe). The server imports
    # what every worker needs once; pandas is in the list because pyarrow imports it on
    # its first Python-sequence conversion (~1.2 s per worker otherwise).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["codeanatomy.extract.worker", "pandas"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def _results(tasks: Iterator[BatchTask], jobs: int) -> Iterator[BatchResult]:
    window = max(2, 2 * jobs)
    pool = _pool(jobs)
    inflight: deque[tuple[BatchTask, Future[BatchResult]]] = deque()
    health = _Health()
    try:
        for task in _take(tasks, window):
            inflight.append((task, pool.submit(run_batch, task)))
        while inflight:
            task, future = inflight.popleft()
            try:
                result = future.result()
            except BrokenProcessPool:
                broken = [(task, future), *inflight]
                inflight.clear()
                pool.shutdown(wait=True, cancel_futures=True)
                for item_task, item_future in broken:
                    yield from _recover(item_task, item_future, health)
                pool = _pool(jobs)
            except Exception:
                # A batch that raised outside the per-layer guards: find the file.
                yield from _recover(task, future, health)
            else:
                health.succeeded = True
                yield result
            for task in _take(tasks, window - len(inflight)):
                inflight.append((task, pool.submit(run_batch, task)))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class _Health:
    succeeded: bool = False
    consecutive_crashes: int = 0

    def crashed(self) -> None:
        self.consecutive_crashes += 1
        if not self.succeeded and self.consecutive_crashes >= SYSTEMIC_CRASHES:
            raise WorkersUnavailable(
                "extraction workers die before extracting any file; when calling "
                "codeanatomy from a script, guard it with `if __name__ == '__main__':`"
            )


def _recover(
    task: BatchTask, future: Future[BatchResult], health: _Health
) -> Iterator[BatchResult]:
    """Result of a batch caught in a pool crash: its own if it finished, else per file."""
    if future.done() and not future.cancelled() and future.exception() is None:
        yield future.result()
        return
    isolation = _pool(1)
    try:
        for relpath in task.paths:
            single = BatchTask(
                task.root, (relpath,), task.layers, task.max_file_bytes, task.fault_kill_path
            )
            try:
                result = isolation.submit(run_batch, single).result()
            except BrokenProcessPool:
                isolation.shutdown(wait=True, cancel_futures=True)
                health.crashed()
                isolation = _pool(1)
                yield _crashed(single, "WorkerCrashed", _CRASH_MESSAGE)
            except Exception as exc:
                yield _crashed(single, type(exc).__name__, f"extraction failed: {exc}")
            else:
                health.succeeded = True
                health.consecutive_crashes = 0
                yield result
    finally:
        isolation.shutdown(wait=True, cancel_futures=True)


_CRASH_MESSAGE = "the worker process died while extracting this file (retried once in isolation)"


def _crashed(task: BatchTask, error_type: str, message: str) -> BatchResult:
    (relpath,) = task.paths
    file_id = file_id_for(relpath)
    try:
        size = (Path(task.root) / relpath).stat().st_size
    except OSError:
        size = 0
    batches = {spec.name: spec.batch([]) for spec in EvidencePlan.from_names(task.layers).tables}
    batches[REPO_FILES.name] = REPO_FILES.batch(
        [failure_file_row(file_id, relpath, "worker_crashed", size)]
    )
    batches[EXTRACT_ERRORS.name] = EXTRACT_ERRORS.batch(
        [(file_id, relpath, "worker", error_type, message[:500], None, None)]
    )
    return BatchResult(batches=batches, files=1, statuses=Counter({"worker_crashed": 1}))


def _take(tasks: Iterator[BatchTask], count: int) -> list[BatchTask]:
    taken: list[BatchTask] = []
    for _ in range(max(0, count)):
        task = next(tasks, None)
        if task is None:
            break
        taken.append(task)
    return taken
