"""One build: scan → extract (→ the semantic stages compile on top of this evidence).

Usage problems (no repository, unwritable output) raise :class:`UsageError` before any
work starts; everything a file can do wrong is data in ``extract_errors``.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from codeanatomy import __version__
from codeanatomy.artifacts import LayerInfo, RunManifest, TableInfo, write_artifact
from codeanatomy.extract.catalog import EvidencePlan, LayerSelectionError, all_tables
from codeanatomy.extract.errors import EXTRACT_ERRORS
from codeanatomy.extract.runner import run_extraction
from codeanatomy.extract.scip import layer as scip_layer
from codeanatomy.extract.scip.run import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, ScipLimits
from codeanatomy.scan.discover import discover
from codeanatomy.storage.delta import DeltaTableSink, DeltaWriter

DEFAULT_MAX_FILE_BYTES = 4 * 1024 * 1024
EVIDENCE_DIR = "evidence"
ARTIFACTS_DIR = "artifacts"
RUN_MANIFEST = "run_manifest.json"


class UsageError(Exception):
    """The command cannot run as asked (reported as one line, exit code 2)."""


@dataclass(frozen=True)
class BuildOptions:
    repo: Path
    out: Path
    layers: str = "default"
    jobs: int = 0
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    scip_timeout_s: float = DEFAULT_TIMEOUT_S
    scip_memory_mb: int = DEFAULT_MEMORY_MB


@dataclass
class Progress:
    """Callbacks a surface can hook to show progress (all optional)."""

    on_files_found: Callable[[int], None] = field(default=lambda n: None)
    on_files_done: Callable[[int], None] = field(default=lambda n: None)


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def build(options: BuildOptions, progress: Progress | None = None) -> RunManifest:
    """Run a build and return its manifest (also written under ``OUT/artifacts``)."""
    progress = progress or Progress()
    repo, out = _check_paths(options.repo, options.out)
    try:
        plan = EvidencePlan.from_selection(options.layers)
    except LayerSelectionError as exc:
        raise UsageError(str(exc)) from exc
    if options.max_file_bytes <= 0:
        raise UsageError("--max-file-bytes must be positive")
    if options.scip_timeout_s <= 0 or options.scip_memory_mb <= 0:
        raise UsageError("--scip-timeout and --scip-memory-mb must be positive")
    jobs = options.jobs or default_jobs()
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    found = discover(repo, include=options.include, exclude=options.exclude)
    seconds["discover"] = time.perf_counter() - started
    progress.on_files_found(len(found.paths))

    started = time.perf_counter()
    writer = DeltaWriter()
    evidence = out / EVIDENCE_DIR
    sinks = {
        spec.name: DeltaTableSink(evidence / spec.name, spec.schema, writer, description=spec.doc)
        for spec in all_tables()
    }
    errors = _ErrorTally(sinks[EXTRACT_ERRORS.name])
    # --- SCIP (repository-level, opt-in): scip-python runs while the workers extract.
    scip = None
    if plan.repo_layers:
        limits = ScipLimits(options.scip_timeout_s, options.scip_memory_mb)
        scip = scip_layer.start(repo, found.paths, out / ARTIFACTS_DIR, limits)
    scip_info = None
    # --- end SCIP
    try:
        stats = run_extraction(
            repo,
            found.paths,
            plan,
            {**sinks, EXTRACT_ERRORS.name: errors},
            jobs=jobs,
            max_file_bytes=options.max_file_bytes,
            on_files_done=progress.on_files_done,
        )
        if scip is not None:
            seconds["extract"] = time.perf_counter() - started
            scip_started = time.perf_counter()
            scip_info = scip.finish({**sinks, EXTRACT_ERRORS.name: errors})
            seconds["scip"] = time.perf_counter() - scip_started
    finally:
        if scip is not None:
            scip.close()
        seconds.setdefault("extract", time.perf_counter() - started)
        started = time.perf_counter()
        # Tables of layers not selected are written empty: consumers always find the
        # full, correctly typed evidence set (graceful degradation).
        rows = {name: sink.close() for name, sink in sinks.items()}
        writer.close()
        seconds["write"] = time.perf_counter() - started

    manifest = RunManifest(
        codeanatomy_version=__version__,
        python_version=platform.python_version(),
        python_implementation=sys.implementation.name,
        repo=str(repo),
        out=str(out),
        jobs=jobs,
        layers=[LayerInfo(name=layer.name, version=layer.version()) for layer in plan.layers]
        + [LayerInfo(name=layer.name, version=layer.version()) for layer in plan.repo_layers],
        files=stats.files,
        file_statuses=dict(sorted(stats.statuses.items())),
        tables=[
            TableInfo(name=name, path=f"{EVIDENCE_DIR}/{name}", rows=count)
            for name, count in rows.items()
        ],
        errors_by_layer=dict(sorted(errors.by_layer.items())),
        errors_by_type=dict(sorted(errors.by_type.items())),
        seconds_by_stage={k: round(v, 3) for k, v in seconds.items()},
        worker_seconds_by_layer={k: round(v, 3) for k, v in sorted(stats.layer_seconds.items())},
        scan_issues=dict(sorted(Counter(issue.kind for issue in found.issues).items())),
        scip=scip_info,
    )
    write_artifact(out / ARTIFACTS_DIR / RUN_MANIFEST, manifest)
    return manifest


def _check_paths(repo: Path, out: Path) -> tuple[Path, Path]:
    if not repo.exists():
        raise UsageError(f"repository not found: {repo}")
    if not repo.is_dir():
        raise UsageError(f"repository is not a directory: {repo}")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".codeanatomy-write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write output directory {out}: {exc.strerror or exc}") from exc
    return repo.resolve(), out.resolve()


class _ErrorTally:
    """Passes ``extract_errors`` batches to their sink, counting them by layer and type."""

    def __init__(self, sink: DeltaTableSink) -> None:
        self._sink = sink
        self.by_layer: Counter[str] = Counter()
        self.by_type: Counter[str] = Counter()

    def add(self, batch: pa.RecordBatch) -> None:
        self.by_layer.update(batch.column("layer").to_pylist())
        self.by_type.update(batch.column("error_type").to_pylist())
        self._sink.add(batch)
