"""The whole build: evidence, then the one compile, planning, schedule, policy, execution.

This is the only caller of :func:`compile_program` (the drift checker enforces it) and the
only place the run's single ``SessionContext`` and its single :class:`DatasetResolver` are
created; every later stage receives the manifest, that context and that resolver (the same
objects, not equal copies).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import msgspec
from datafusion import DataFrame, SessionContext
from deltalake import DeltaTable

from codeanatomy.artifacts import RunManifest, write_artifact
from codeanatomy.build import ARTIFACTS_DIR, RUN_MANIFEST, BuildOptions, Progress, build
from codeanatomy.extract.catalog import all_tables
from codeanatomy.plan.builders import view_definitions
from codeanatomy.plan.bundle import PlannedProgram, plan_views
from codeanatomy.plan.contracts import (
    CompiledExecutionPolicy,
    InferredDeps,
    Lineage,
    PlanBundle,
    TaskSchedule,
)
from codeanatomy.plan.policy import compile_policy, decisions
from codeanatomy.plan.schedule import (
    build_task_graph,
    check_plan_schedule,
    estimate_costs,
    reports_statistics,
    schedule,
)
from codeanatomy.plan.session import new_session
from codeanatomy.plan.views import ViewDefinition
from codeanatomy.semantics.bindings import DatasetResolver
from codeanatomy.semantics.callgraph import RULES as CALLGRAPH_RULES
from codeanatomy.semantics.compiler import SemanticProgramManifest, compile_program
from codeanatomy.semantics.decisions import Decision
from codeanatomy.semantics.mapping import ENTITIES, RELATIONSHIPS
from codeanatomy.semantics.resolution import RULES as RESOLUTION_RULES
from codeanatomy.semantics.scip_mapping import scip_agreement, scip_rules


class GraphSummary(msgspec.Struct, frozen=True, kw_only=True):
    """What the graph stages produced and spent (added to the run manifest's artifacts)."""

    semantic_fingerprint: str
    policy_fingerprint: str
    nodes_by_kind: dict[str, int]
    edges_by_kind: dict[str, int]
    props: int
    seconds_by_stage: dict[str, float]


@dataclass(frozen=True)
class BuildResult:
    evidence: RunManifest
    graph: GraphSummary


class PlanScheduleMismatch(RuntimeError):
    """A scheduled task whose inferred deps do not match its plan bundle."""


@dataclass(frozen=True)
class PreparedProgram:
    """A compiled and planned program, ready to execute (what ``plan`` shows)."""

    manifest: SemanticProgramManifest
    datasets: DatasetResolver  # built once from ``manifest.bindings``; execution writes here
    views: list[ViewDefinition]
    planned: PlannedProgram
    schedule: TaskSchedule
    policy: CompiledExecutionPolicy
    seconds_by_stage: dict[str, float]


def prepare(ctx: SessionContext, out: Path) -> PreparedProgram:
    """Compile the mapping once and derive plans, schedule and policy (no execution)."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    tables = all_tables()
    rules = (*RESOLUTION_RULES, *CALLGRAPH_RULES)
    rules = (*rules, *scip_rules(rules))  # SCIP rules read the REFERS_TO rules above
    manifest = compile_program(
        ENTITIES, RELATIONSHIPS, {t.name: t.schema for t in tables}, out, rules=rules
    )
    datasets = DatasetResolver.from_manifest(manifest)
    versions, evidence_rows = register_evidence(ctx, datasets)
    views = view_definitions(manifest)
    seconds["compile"] = time.perf_counter() - started

    started = time.perf_counter()
    planned = plan_views(ctx, views, versions)
    physical = {name: bundle.physical_plan for name, bundle in planned.bundles.items()}
    costs = estimate_costs(
        _statistics_frames(ctx, views, planned),
        planned.deps,
        physical_plans=physical,
        evidence_rows=evidence_rows,
    )
    graph = build_task_graph(planned.deps)
    task_schedule = schedule(graph, costs)
    fingerprints = {name: bundle.fingerprint for name, bundle in planned.bundles.items()}
    problems = check_plan_schedule(task_schedule, planned.deps, fingerprints)
    if problems:
        raise PlanScheduleMismatch("; ".join(problems))
    roles = {view.name: view.role for view in views}
    policy = compile_policy(graph, planned.deps, roles, planned.schemas, costs)
    seconds["plan"] = time.perf_counter() - started
    return PreparedProgram(manifest, datasets, views, planned, task_schedule, policy, seconds)


def register_evidence(
    ctx: SessionContext, datasets: DatasetResolver
) -> tuple[dict[str, int], dict[str, int]]:
    """Register every evidence table at its bound path; return versions and row counts.

    Registered as a pyarrow dataset, the path that prunes (see ``plan/session.py``). Row
    counts come from the Delta log's add actions, not from reading the data.
    """
    versions: dict[str, int] = {}
    rows: dict[str, int] = {}
    for name in datasets.evidence_names():
        table = DeltaTable(str(datasets.path(name)))
        ctx.register_dataset(name, table.to_pyarrow_dataset())
        versions[name] = table.version()
        actions = table.get_add_actions(flatten=True)
        rows[name] = int(sum(actions.column("num_records").to_pylist() or [0]))
    return versions, rows


def _statistics_frames(
    ctx: SessionContext, views: list[ViewDefinition], planned: PlannedProgram
) -> dict[str, DataFrame]:
    """DataFrames of the views whose statistics mean something at plan time.

    That is a view whose scans report statistics and that reads no other view: upstream
    views are empty placeholders while planning, and rebuilding them for real would inline
    every upstream plan (exponential over the unrolled resolution rounds).
    """
    wanted = {
        name
        for name, bundle in planned.bundles.items()
        if reports_statistics(bundle.physical_plan) and not planned.deps[name].inputs
    }
    return {view.name: view.build(ctx) for view in views if view.name in wanted}


def run(options: BuildOptions, progress: Progress | None = None) -> BuildResult:
    """Build the evidence and compile it into ``cpg_nodes``/``cpg_edges``/``cpg_props``."""
    evidence = build(options, progress)
    out = Path(evidence.out)
    ctx = new_session()
    program = prepare(ctx, out)
    seconds = dict(program.seconds_by_stage)

    from codeanatomy.execute.runner import execute

    started = time.perf_counter()
    views = {v.name: v for v in program.views}
    execute(ctx, views, program.schedule, program.policy, program.planned.deps, program.datasets)
    seconds["execute"] = time.perf_counter() - started

    summary = GraphSummary(
        semantic_fingerprint=program.manifest.fingerprint,
        policy_fingerprint=program.policy.fingerprint,
        nodes_by_kind=_counts(ctx, "cpg_nodes", "node_kind"),
        edges_by_kind=_counts(ctx, "cpg_edges", "edge_kind"),
        props=ctx.table("cpg_props").count(),
        seconds_by_stage={k: round(v, 3) for k, v in seconds.items()},
    )
    _write_artifacts(out / ARTIFACTS_DIR, program, summary)
    evidence = _with_scip_agreement(ctx, out, evidence)
    return BuildResult(evidence=evidence, graph=summary)


def _with_scip_agreement(ctx: SessionContext, out: Path, evidence: RunManifest) -> RunManifest:
    """The run manifest with SCIP's agreement with REFERS_TO, once the graph is built."""
    if evidence.scip is None or evidence.scip.status != "ok":
        return evidence
    scip = msgspec.structs.replace(evidence.scip, agreement=scip_agreement(ctx))
    updated = msgspec.structs.replace(evidence, scip=scip)
    write_artifact(out / ARTIFACTS_DIR / RUN_MANIFEST, updated)
    return updated


def _counts(ctx: SessionContext, table: str, column: str) -> dict[str, int]:
    from datafusion import col
    from datafusion import functions as f

    rows = (
        ctx.table(table)
        .aggregate([col(column)], [f.count(col(column)).alias("n")])
        .sort(col(column))
        .to_pylist()
    )
    return {row[column]: row["n"] for row in rows}


def _write_artifacts(directory: Path, program: PreparedProgram, summary: GraphSummary) -> None:
    manifest, planned = program.manifest, program.planned
    task_schedule, policy = program.schedule, program.policy
    write_artifact(directory / "semantic_manifest.json", manifest)
    write_artifact(
        directory / "plan_bundles.json",
        PlanBundles(
            bundles=list(planned.bundles.values()),
            lineage=list(planned.lineage.values()),
            deps=list(planned.deps.values()),
        ),
    )
    write_artifact(directory / "schedule.json", task_schedule)
    write_artifact(directory / "compiled_policy.json", policy)
    write_artifact(directory / "decisions.json", DecisionProvenance(decisions=decisions(policy)))
    write_artifact(directory / "graph_summary.json", summary)


class PlanBundles(msgspec.Struct, frozen=True, kw_only=True):
    """Every view's plan bundle, lineage and inferred dependencies."""

    bundles: list[PlanBundle]
    lineage: list[Lineage]
    deps: list[InferredDeps]


class DecisionProvenance(msgspec.Struct, frozen=True, kw_only=True):
    """Every inferred decision of the run, with its confidence and evidence."""

    decisions: list[Decision]
