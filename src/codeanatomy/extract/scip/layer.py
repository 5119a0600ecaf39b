"""The SCIP layer: one scip-python run per build, read into the SCIP evidence tables.

Unlike the per-file layers, SCIP is repository-level: :func:`start` launches scip-python
on a mirror of the scanned files before the per-file extraction begins (the two overlap),
and :meth:`ScipRun.finish` waits for it and streams the index into the build's sinks.

Nothing here raises for a tool problem. No node, no scip-python, a timeout, running out
of memory, a non-zero exit, an unreadable index, or an index without a single document
of a scanned file (scip-python exits 0 in some of those cases) each become one
``extract_errors`` row of layer ``scip`` for the repository as a whole (path ``.``, see
:data:`REPO_PATH`) and the SCIP tables stay empty with their full schema; the build goes
on. :class:`ScipRunInfo` records what happened in the run manifest.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec

from codeanatomy.extract.errors import EXTRACT_ERRORS
from codeanatomy.extract.schema import TableSpec
from codeanatomy.extract.scip.collect import LAYER_NAME, BatchSink, IndexCounts, collect_index
from codeanatomy.extract.scip.reader import IndexFormatError
from codeanatomy.extract.scip.run import (
    ProcessOutcome,
    ScipLimits,
    ScipProcess,
    make_mirror,
)
from codeanatomy.extract.scip.tables import TABLES
from codeanatomy.extract.scip.tool import find_node, find_scip_python
from codeanatomy.ids import file_id_for

REPO_PATH = "."  # the path of repository-level rows (the run, not one file, failed)
LOG_NAME = "scip-python.log"


@dataclass(frozen=True)
class RepoLayerSpec:
    """A layer computed once per repository rather than per file."""

    name: str
    doc: str
    tables: tuple[TableSpec, ...]
    version: Callable[[], str]
    default: bool = False


class ScipAgreement(msgspec.Struct, frozen=True, kw_only=True):
    """How SCIP's resolution of loaded names compares with REFERS_TO (see scip_mapping).

    The headline (``agree``/``uses_both_resolved``) counts NAME uses; attribute uses are
    counted apart, since our attribute REFERS_TO points at the value an attribute holds
    (points-to) where SCIP points at the attribute's own symbol.
    """

    uses_both_resolved: int  # NAME loads both resolve
    agree: int
    disagree: int
    agreement_rate: float | None
    in_repo_both: int  # ... whose SCIP symbol is defined in the repository
    in_repo_agree: int
    external_both: int  # ... whose SCIP symbol is defined outside it
    external_agree: int
    attributes_both: int  # attribute loads both resolve
    attributes_agree: int
    refers_to_only: int  # names and attributes our REFERS_TO resolves, SCIP does not
    scip_only: int  # ... SCIP resolves to a repository definition, REFERS_TO does not
    occurrences_matched: int  # SCIP occurrences at a CPG node's span
    occurrences_unmatched: int


class ScipRunInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What the SCIP layer did in one build (part of the run manifest)."""

    status: str  # ok | missing_tool | timeout | out_of_memory | failed | bad_index | empty_index
    message: str
    scip_python_version: str | None
    node_version: str | None
    timeout_s: float
    memory_mb: int
    seconds_tool: float  # scip-python's own wall time
    seconds_read: float  # reading the index into evidence
    max_rss_mib: float  # scip-python's peak RSS
    exit_code: int | None
    documents: int
    documents_outside_scan: int
    files_without_document: int
    occurrences: int
    symbols: int
    relationships: int
    diagnostics: int
    bad_ranges: int
    agreement: ScipAgreement | None = None


def _version() -> str:
    return find_scip_python().version or "unavailable"


class ScipRun:
    """One scip-python run of a build, from launch to evidence rows."""

    def __init__(
        self, repo: Path, paths: Sequence[str], artifacts: Path, limits: ScipLimits
    ) -> None:
        self._repo = repo
        self._paths = tuple(paths)
        self._limits = limits
        self._log = artifacts / LOG_NAME
        self._node = find_node()
        self._scip = find_scip_python()
        self._workdir: Path | None = None
        self._process: ScipProcess | None = None
        missing = [tool.problem for tool in (self._node, self._scip) if not tool.ok]
        self._missing = "; ".join(p for p in missing if p)
        if self._missing or not self._paths:
            return
        self._workdir = Path(tempfile.mkdtemp(prefix="codeanatomy-scip-"))
        mirror = self._workdir / "mirror"
        make_mirror(repo, self._paths, mirror)
        self._process = ScipProcess(
            self._node, self._scip, mirror, self._workdir / "index.scip", self._log, limits
        )

    def finish(self, sinks: Mapping[str, BatchSink]) -> ScipRunInfo:
        """Wait for scip-python, read its index into ``sinks``, say what happened."""
        if self._missing:
            return self._report(sinks, "missing_tool", f"SCIP layer skipped: {self._missing}")
        if self._process is None:
            return self._report(sinks, "ok", "no Python files to index")
        outcome = self._process.wait()
        if outcome.status != "ok":
            return self._report(sinks, outcome.status, outcome.message, outcome)
        started = time.perf_counter()
        scanned = {rel: file_id_for(rel) for rel in self._paths}
        try:
            counts = collect_index(self._process.output, self._repo, scanned, sinks)
        except (OSError, IndexFormatError) as exc:
            return self._report(sinks, "bad_index", f"unreadable SCIP index: {exc}", outcome)
        seconds_read = time.perf_counter() - started
        if counts.documents == 0:
            return self._report(
                sinks,
                "empty_index",
                f"scip-python exited 0 but its index has no document of the "
                f"{len(self._paths)} scanned files ({counts.documents_outside_scan} outside "
                f"the scan); see {LOG_NAME}",
                outcome,
                counts,
                seconds_read,
            )
        return self._report(sinks, "ok", "", outcome, counts, seconds_read)

    def close(self) -> None:
        """Stop scip-python if it still runs; remove the mirror and the index."""
        if self._process is not None:
            self._process.abort()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def _report(
        self,
        sinks: Mapping[str, BatchSink],
        status: str,
        message: str,
        outcome: ProcessOutcome | None = None,
        counts: IndexCounts | None = None,
        seconds_read: float = 0.0,
    ) -> ScipRunInfo:
        if status != "ok":
            error_type = "Scip" + "".join(p.capitalize() for p in status.split("_"))
            sinks[EXTRACT_ERRORS.name].add(
                EXTRACT_ERRORS.batch(
                    [
                        (
                            file_id_for(REPO_PATH),
                            REPO_PATH,
                            LAYER_NAME,
                            error_type,
                            message[:500],
                            None,
                            None,
                        )
                    ]
                )
            )
        missing_docs = len(set(self._paths) - counts.paths) if counts is not None else 0
        counts = counts or IndexCounts()
        return ScipRunInfo(
            status=status,
            message=message,
            scip_python_version=self._scip.version,
            node_version=self._node.version,
            timeout_s=self._limits.timeout_s,
            memory_mb=self._limits.memory_mb,
            seconds_tool=round(outcome.seconds, 3) if outcome else 0.0,
            seconds_read=round(seconds_read, 3),
            max_rss_mib=round(outcome.max_rss_mib, 1) if outcome else 0.0,
            exit_code=outcome.exit_code if outcome else None,
            documents=counts.documents,
            documents_outside_scan=counts.documents_outside_scan,
            files_without_document=missing_docs,
            occurrences=counts.occurrences,
            symbols=counts.symbols,
            relationships=counts.relationships,
            diagnostics=counts.diagnostics,
            bad_ranges=counts.bad_ranges,
        )


def start(repo: Path, paths: Sequence[str], artifacts: Path, limits: ScipLimits) -> ScipRun:
    """Launch scip-python now (it runs while the per-file layers extract)."""
    return ScipRun(repo, paths, artifacts, limits)


LAYER = RepoLayerSpec(
    name=LAYER_NAME,
    doc="scip-python (pyright) index: definitions, references, symbols (opt-in, slow)",
    tables=TABLES,
    version=_version,
)
