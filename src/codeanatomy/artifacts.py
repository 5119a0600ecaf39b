"""Typed run artifacts (msgspec Structs, JSON on disk, JSON Schema exported to ``schemas/``).

The set is deliberately small. Timings live in the manifest for people; they are never
part of a fingerprint.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from codeanatomy.extract.scip.layer import ScipRunInfo


class LayerInfo(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    version: str


class TableInfo(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    path: str
    rows: int


class RunManifest(msgspec.Struct, frozen=True, kw_only=True):
    """What one ``codeanatomy build`` read, produced and spent."""

    codeanatomy_version: str
    python_version: str
    python_implementation: str
    repo: str
    out: str
    jobs: int
    layers: list[LayerInfo]
    files: int
    file_statuses: dict[str, int]
    tables: list[TableInfo]
    errors_by_layer: dict[str, int]
    errors_by_type: dict[str, int]
    seconds_by_stage: dict[str, float]
    worker_seconds_by_layer: dict[str, float]
    scan_issues: dict[str, int]
    scip: ScipRunInfo | None = None  # the SCIP layer's run, when it was selected


ARTIFACT_TYPES: tuple[type[msgspec.Struct], ...] = (RunManifest,)


def write_artifact(path: Path, artifact: msgspec.Struct) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.json.format(msgspec.json.encode(artifact), indent=2) + b"\n")
