"""Human and machine renderings of a build: the progress bar and the summary."""

from __future__ import annotations

from types import TracebackType

import msgspec
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from codeanatomy.artifacts import RunManifest
from codeanatomy.build import Progress as BuildHooks
from codeanatomy.pipeline import GraphSummary


class BuildProgress:
    """A rich progress bar on stderr while files are extracted (a no-op when disabled)."""

    def __init__(self, *, enabled: bool) -> None:
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        if enabled:
            self._bar = Progress(
                TextColumn("extracting"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                transient=True,
            )

    def __enter__(self) -> BuildProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def hooks(self) -> BuildHooks:
        bar = self._bar
        if bar is None:
            return BuildHooks()

        def found(total: int) -> None:
            self._task = bar.add_task("extract", total=total)

        def done(count: int) -> None:
            if self._task is not None:
                bar.advance(self._task, count)

        return BuildHooks(on_files_found=found, on_files_done=done)


def render_build(manifest: RunManifest, graph: GraphSummary, *, as_json: bool) -> str:
    """The summary printed after a build: evidence, then the graph."""
    if as_json:
        payload = msgspec.json.encode({"evidence": manifest, "graph": graph})
        return msgspec.json.format(payload, indent=2).decode() + "\n"
    lines = [render_manifest(manifest).rstrip("\n"), "graph:"]
    lines.append(
        f"  nodes {sum(graph.nodes_by_kind.values()):,}: "
        + ", ".join(f"{k} {v:,}" for k, v in graph.nodes_by_kind.items())
    )
    lines.append(
        f"  edges {sum(graph.edges_by_kind.values()):,}: "
        + ", ".join(f"{k} {v:,}" for k, v in graph.edges_by_kind.items())
    )
    lines.append(f"  props {graph.props:,}")
    lines.append(
        "  seconds: " + ", ".join(f"{k} {v:.2f}s" for k, v in graph.seconds_by_stage.items())
    )
    return "\n".join(lines) + "\n"


def render_manifest(manifest: RunManifest) -> str:
    """The evidence part of the summary."""
    statuses = ", ".join(f"{k} {v}" for k, v in manifest.file_statuses.items()) or "none"
    lines = [
        f"built {manifest.repo} -> {manifest.out}",
        f"layers: {', '.join(layer.name for layer in manifest.layers)}",
        f"files: {manifest.files} ({statuses})",
        "rows:",
    ]
    width = max((len(t.name) for t in manifest.tables), default=0)
    lines += [f"  {t.name:<{width}}  {t.rows:>10,}" for t in manifest.tables if t.rows]
    errors = ", ".join(f"{k} {v}" for k, v in manifest.errors_by_layer.items()) or "none"
    lines.append(f"errors by layer: {errors}")
    if manifest.errors_by_type:
        lines.append(
            "errors by type: " + ", ".join(f"{k} {v}" for k, v in manifest.errors_by_type.items())
        )
    if manifest.scan_issues:
        lines.append(
            "scan issues: " + ", ".join(f"{k} {v}" for k, v in manifest.scan_issues.items())
        )
    stages = ", ".join(f"{k} {v:.2f}s" for k, v in manifest.seconds_by_stage.items())
    lines.append(f"seconds: {stages}, total {sum(manifest.seconds_by_stage.values()):.2f}s")
    return "\n".join(lines) + "\n"
