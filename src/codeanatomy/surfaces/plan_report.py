"""What ``codeanatomy plan`` shows: the prepared program, without executing it.

Everything shown is read off the :class:`PreparedProgram` the build itself would run
(plans, inferred deps, schedule, compiled policy), so the plan cannot disagree with the
build. A repository is planned by first building its evidence into a temporary
directory, because plans, costs and policy depend on the real evidence tables.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import msgspec

from codeanatomy.build import EVIDENCE_DIR, BuildOptions, UsageError
from codeanatomy.pipeline import PreparedProgram
from codeanatomy.plan.contracts import Materialization, TaskCost, WritePolicy
from codeanatomy.plan.views import ViewRole
from codeanatomy.semantics.decisions import InferenceConfidence

PlanFormat = Literal["text", "json", "dot"]
FORMATS: tuple[PlanFormat, ...] = ("text", "json", "dot")

# A built OUT is recognised by its evidence of the files themselves (always written).
_BUILT_MARKER = Path(EVIDENCE_DIR) / "repo_files" / "_delta_log"


class PlannedView(msgspec.Struct, frozen=True, kw_only=True):
    """One view as the build would run it: policy, confidence, lineage, deps, cost."""

    name: str
    role: ViewRole
    generation: int
    materialization: Materialization
    confidence: InferenceConfidence
    inputs: tuple[str, ...]  # views read (inferred from the plan)
    evidence: tuple[str, ...]  # evidence tables read
    columns: dict[str, tuple[str, ...]]  # lineage: table or view -> columns read
    required_udfs: tuple[str, ...]
    cost: TaskCost | None
    plan_fingerprint: str


class PlanReport(msgspec.Struct, frozen=True, kw_only=True):
    """The whole prepared program: views in schedule order, generations, fingerprints."""

    views: list[PlannedView]
    generations: list[list[str]]
    critical_path: list[str]
    writes: list[WritePolicy]
    semantic_fingerprint: str
    policy_fingerprint: str


def is_built_output(path: Path) -> bool:
    return (path / _BUILT_MARKER).is_dir()


@contextmanager
def evidence_for(path: Path, *, layers: str, jobs: int) -> Iterator[Path]:
    """Yield an OUT holding evidence for ``path``: itself if built, else a temporary build.

    Raises :class:`UsageError` when ``path`` is neither a build output nor a directory
    with Python files to build from.
    """
    if not path.exists():
        raise UsageError(f"{path} does not exist")
    if is_built_output(path):
        yield path
        return
    if not path.is_dir():
        raise UsageError(f"{path} is not a directory")
    from codeanatomy.build import build
    from codeanatomy.scan.discover import discover

    if not discover(path).paths:
        raise UsageError(
            f"{path} is neither a build output (no {_BUILT_MARKER}) nor a repository "
            "with Python files"
        )
    with tempfile.TemporaryDirectory(prefix="codeanatomy-plan-") as tmp:
        build(BuildOptions(repo=path, out=Path(tmp), layers=layers, jobs=jobs))
        yield Path(tmp)


def plan_report(program: PreparedProgram) -> PlanReport:
    """Collect, per view in schedule order, what the prepared program decided about it."""
    roles = {view.name: view.role for view in program.views}
    policies = {p.view: p for p in program.policy.views}
    costs = {c.view: c for c in program.schedule.costs}
    generation_of = {
        name: number
        for number, generation in enumerate(program.schedule.generations)
        for name in generation
    }
    views = []
    for name in program.schedule.order:
        deps, lineage, policy = (
            program.planned.deps[name],
            program.planned.lineage[name],
            policies[name],
        )
        views.append(
            PlannedView(
                name=name,
                role=roles[name],
                generation=generation_of[name],
                materialization=policy.materialization,
                confidence=policy.confidence,
                inputs=deps.inputs,
                evidence=deps.evidence,
                columns=lineage.columns,
                required_udfs=deps.required_udfs,
                cost=costs.get(name),
                plan_fingerprint=deps.plan_fingerprint,
            )
        )
    return PlanReport(
        views=views,
        generations=[list(g) for g in program.schedule.generations],
        critical_path=list(program.schedule.critical_path),
        writes=sorted(program.policy.writes, key=lambda w: w.view),
        semantic_fingerprint=program.manifest.fingerprint,
        policy_fingerprint=program.policy.fingerprint,
    )


def render_plan(report: PlanReport, fmt: PlanFormat) -> str:
    if fmt == "json":
        return msgspec.json.format(msgspec.json.encode(report), indent=2).decode() + "\n"
    if fmt == "dot":
        return render_dot(report)
    return render_text(report)


def render_text(report: PlanReport) -> str:
    """Per generation, each view with its policy, deps, evidence and cost; then the totals."""
    position = {name: i for i, name in enumerate(view.name for view in report.views)}
    by_name = {view.name: view for view in report.views}
    lines: list[str] = []
    for number, generation in enumerate(report.generations):
        lines.append(f"generation {number}:")
        for name in sorted(generation, key=position.__getitem__):
            lines.extend(_view_lines(by_name[name]))
    lines.append("critical path: " + (" -> ".join(report.critical_path) or "none"))
    lines.append(f"semantic fingerprint: {report.semantic_fingerprint}")
    lines.append(f"policy fingerprint: {report.policy_fingerprint}")
    return "\n".join(lines) + "\n"


def _view_lines(view: PlannedView) -> list[str]:
    conf = view.confidence
    decided = f"{view.materialization} (confidence {conf.score:.2f}"
    decided += f"; fallback: {conf.fallback_reason})" if conf.fallback_reason else ")"
    evidence = ", ".join(
        f"{table}({', '.join(view.columns.get(table, ()))})" for table in view.evidence
    )
    lines = [
        f"  {view.name} [{view.role}]",
        f"    materialization: {decided}",
        f"    inputs: {', '.join(view.inputs) or 'none'}",
        f"    evidence: {evidence or 'none'}",
    ]
    if view.required_udfs:
        lines.append(f"    functions: {', '.join(view.required_udfs)}")
    lines.append(f"    cost: {_cost_text(view.cost)}")
    return lines


def _cost_text(cost: TaskCost | None) -> str:
    if cost is None:
        return "unknown"
    text = f"{cost.cost:,.0f} ({cost.source}"
    if cost.estimated_rows is not None:
        text += f", {cost.estimated_rows:,} rows estimated"
    if cost.fallback_reason:
        text += f"; {cost.fallback_reason}"
    return text + ")"


def render_dot(report: PlanReport) -> str:
    """A Graphviz digraph: evidence cylinders feeding view boxes, outputs filled and bold."""
    lines = [
        "digraph plan {",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=10];',
    ]
    tables = sorted({table for view in report.views for table in view.evidence})
    lines += [f"  {_dot_id('evidence', t)} [shape=cylinder, label={_quote(t)}];" for t in tables]
    for view in report.views:
        style = (
            'shape=box, style="filled,bold", fillcolor="lightblue", penwidth=2'
            if view.role == "output"
            else "shape=box, style=rounded"
        )
        label = _quote(f"{view.name}\n{view.materialization}")
        lines.append(f"  {_dot_id('view', view.name)} [{style}, label={label}];")
    for view in report.views:
        target = _dot_id("view", view.name)
        lines += [f"  {_dot_id('evidence', t)} -> {target} [style=dashed];" for t in view.evidence]
        lines += [f"  {_dot_id('view', source)} -> {target};" for source in view.inputs]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_id(kind: str, name: str) -> str:
    """Node ids are namespaced so an evidence table and a view never share a node."""
    return _quote(f"{kind}:{name}")


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
