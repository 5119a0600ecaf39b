"""Compile the execution policy: how each view is materialised and each output written.

Decisions come from the task graph's topology, the view's role, plan statistics and the
output schemas, never from a view's name, and each carries an InferenceConfidence so the
set of them is the decision-provenance artifact.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Literal

import msgspec
import pyarrow as pa

from codeanatomy.plan.contracts import (
    CompiledExecutionPolicy,
    InferredDeps,
    Materialization,
    TaskCost,
    ViewPolicy,
    WritePolicy,
)
from codeanatomy.plan.schedule import TaskGraph
from codeanatomy.plan.views import ViewRole
from codeanatomy.semantics.decisions import Decision, InferenceConfidence, certain, fallback

# A view read by several others is computed once. Up to this many rows it is cached in
# memory; above, it is staged to Delta. STACK_FACTS measured ~110 bytes per row for
# wide tables collected to Arrow (20M rows, 2.2 GiB), so 5M rows is ~0.5 GiB: about the
# peak of a streamed Delta write, and a fair share of a small machine's memory.
STAGING_ROW_THRESHOLD = 5_000_000

# Without semantic metadata, Delta collects statistics on the leading columns only (the
# keys of the CPG tables come first); more would only slow writes.
LEADING_STATS_COLUMNS = 3

_STATS_SEMANTICS = ("file_id", "span_start", "span_end")


def compile_policy(
    graph: TaskGraph,
    deps: Mapping[str, InferredDeps],
    roles: Mapping[str, ViewRole],
    schemas: Mapping[str, pa.Schema],
    costs: Mapping[str, TaskCost],
    validation_mode: Literal["strict", "warn"] = "strict",
) -> CompiledExecutionPolicy:
    """Decide materialisation for every view and a write policy for every output view.

    ``schemas`` must hold every output view's schema; ``costs`` those of
    :func:`codeanatomy.plan.schedule.estimate_costs` (a view without one is treated as
    of unknown size).
    """
    views = sorted(graph.index)
    missing = [v for v in views if v not in deps or v not in roles]
    if missing:
        raise ValueError(f"views without deps or role: {missing}")
    outputs = [v for v in views if roles[v] == "output"]
    no_schema = [v for v in outputs if v not in schemas]
    if no_schema:
        raise ValueError(f"output views without a schema: {no_schema}")
    recursive_inputs = {i for d in deps.values() if d.recursive for i in d.inputs}
    view_policies = [
        ViewPolicy(
            view=view,
            materialization=mat,
            confidence=conf,
            required_udfs=tuple(sorted(deps[view].required_udfs)),
        )
        for view in views
        for mat, conf in [
            _materialization(
                roles[view],
                _reads(view, graph.out_degree(view), deps),
                costs.get(view),
                read_in_recursion=view in recursive_inputs,
            )
        ]
    ]
    writes = [write_policy(view, schemas[view]) for view in outputs]
    return CompiledExecutionPolicy(
        views=view_policies,
        writes=writes,
        validation_mode=validation_mode,
        fingerprint=policy_fingerprint(view_policies, writes, validation_mode),
    )


def _reads(view: str, out_degree: int, deps: Mapping[str, InferredDeps]) -> int:
    """How many scans read ``view``: readers, counting a reader that scans it twice twice."""
    scanned = sum(d.scans.get(view, 1) for d in deps.values() if view in d.inputs)
    return max(out_degree, scanned)


def _materialization(
    role: ViewRole, out_degree: int, cost: TaskCost | None, *, read_in_recursion: bool = False
) -> tuple[Materialization, InferenceConfidence]:
    if role == "output":
        return "delta_output", certain("view_role")
    if read_in_recursion and out_degree < 2:
        # A recursive query re-executes its inputs on every iteration: inlined, the whole
        # upstream plan would run once per iteration.
        return "cache", certain("task_graph.out_degree", "plan.recursive_reader")
    if out_degree < 2:
        # Scanned at most once: inlining it into its reader lets DataFusion optimise across.
        return "lazy", certain("view_role", "task_graph.out_degree")
    if cost is None:
        reason = "no cost estimate; unknown size, cached in memory"
        return "cache", fallback(0.5, reason, "task_graph.out_degree")
    mat: Materialization = "delta_staging" if cost.cost > STAGING_ROW_THRESHOLD else "cache"
    if cost.source == "plan_statistics":
        return mat, InferenceConfidence(
            score=0.9, evidence_sources=("task_graph.out_degree", "plan_statistics")
        )
    return mat, fallback(0.6, f"cost fell back: {cost.fallback_reason}", "task_graph.out_degree")


def write_policy(view: str, schema: pa.Schema) -> WritePolicy:
    """Derive how an output table is written from its schema alone.

    No partitioning: like the evidence tables, outputs are written in ``file_id`` order
    so each data file covers a narrow ``file_id`` range and min/max statistics prune a
    per-file replace, without the many tiny files per-file partitions would make.
    """
    names = schema.names
    semantic = [f.name for f in schema if _semantic(f) in _STATS_SEMANTICS]
    file_ids = [f.name for f in schema if _semantic(f) == "file_id"]
    sort_by = tuple(file_ids[:1]) if file_ids else tuple(n for n in names if n == "file_id")
    if semantic:
        stats = tuple(semantic)
        conf = certain("output_schema", "schema.semantic_metadata")
    else:
        stats = tuple(names[:LEADING_STATS_COLUMNS])
        conf = fallback(
            0.7, "no semantic metadata in schema; stats on leading columns", "output_schema"
        )
    return WritePolicy(
        view=view,
        partition_by=(),
        sort_by=sort_by,
        stats_columns=stats,
        constraints=_constraints(schema),
        confidence=conf,
    )


def _semantic(field: pa.Field) -> str | None:
    meta = field.metadata or {}
    value = meta.get(b"semantic")
    return value.decode() if value is not None else None


def _constraints(schema: pa.Schema) -> dict[str, str]:
    """Delta CHECK constraints implied by the columns present (nulls always pass)."""
    numeric = {
        f.name for f in schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
    }
    found: dict[str, str] = {}
    if {"bstart", "bend"} <= numeric:
        found["bstart_le_bend"] = "bstart IS NULL OR bend IS NULL OR bstart <= bend"
    if "confidence" in numeric:
        found["confidence_in_unit_interval"] = (
            "confidence IS NULL OR (confidence >= 0 AND confidence <= 1)"
        )
    if "line_start" in numeric:
        found["line_start_positive"] = "line_start IS NULL OR line_start >= 1"
    return dict(sorted(found.items()))


def policy_fingerprint(
    views: list[ViewPolicy], writes: list[WritePolicy], validation_mode: str
) -> str:
    """sha256 of the policy without its fingerprint, encoded with sorted keys."""
    body = {
        "views": sorted(views, key=lambda p: p.view),
        "writes": sorted(writes, key=lambda w: w.view),
        "validation_mode": validation_mode,
    }
    return hashlib.sha256(msgspec.json.encode(body, order="sorted")).hexdigest()


def decisions(policy: CompiledExecutionPolicy) -> list[Decision]:
    """Every decision of the policy, one per (subject, decision type), for provenance."""
    out = [
        Decision(
            subject=p.view,
            decision_type="materialization",
            value=p.materialization,
            confidence=p.confidence,
        )
        for p in policy.views
    ]
    for w in policy.writes:
        values = {
            "write.partition_by": ",".join(w.partition_by),
            "write.sort_by": ",".join(w.sort_by),
            "write.stats_columns": ",".join(w.stats_columns),
            "write.constraints": msgspec.json.encode(w.constraints, order="sorted").decode(),
        }
        out.extend(
            Decision(subject=w.view, decision_type=kind, value=value, confidence=w.confidence)
            for kind, value in values.items()
        )
    return out
