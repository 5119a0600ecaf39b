"""Typed results of planning: plan bundles, lineage, inferred dependencies, schedule, policy.

These Structs are what the planning modules hand to each other and what lands under
``OUT/artifacts/`` (JSON Schemas exported to ``schemas/``).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from codeanatomy.semantics.decisions import InferenceConfidence


class PlanBundle(msgspec.Struct, frozen=True, kw_only=True):
    """Everything DataFusion says about one view's plan, and its deterministic fingerprint."""

    view: str
    logical_plan: str  # optimized logical plan, display_indent()
    physical_plan: str  # display_indent() of the execution plan
    substrait: bytes  # Producer.to_substrait_plan(...).encode()
    fingerprint: str  # sha256 over substrait + settings + UDF snapshot + input versions
    settings_fingerprint: str
    udf_snapshot: tuple[str, ...]
    input_versions: dict[str, int]  # Delta version of every evidence table read


class Lineage(msgspec.Struct, frozen=True, kw_only=True):
    """What one view's plan reads: tables (evidence or views), their columns, UDFs."""

    view: str
    tables: tuple[str, ...]
    columns: dict[str, tuple[str, ...]]
    udfs: tuple[str, ...]


class InferredDeps(msgspec.Struct, frozen=True, kw_only=True):
    """A view's dependencies, read off its plan (never declared)."""

    view: str
    inputs: tuple[str, ...]  # other views this view reads (evidence tables excluded)
    evidence: tuple[str, ...]  # evidence tables this view reads
    required_columns: dict[str, tuple[str, ...]]
    required_udfs: tuple[str, ...]
    plan_fingerprint: str
    recursive: bool = False  # the plan has a recursive query, which re-reads its inputs
    scans: dict[str, int] = {}  # times each input view is scanned in the plan


class TaskCost(msgspec.Struct, frozen=True, kw_only=True):
    view: str
    cost: float
    source: Literal["plan_statistics", "fallback"]
    estimated_rows: int | None
    fallback_reason: str | None = None


class TaskSchedule(msgspec.Struct, frozen=True, kw_only=True):
    """Topological generations of the task graph, with costs and the critical path."""

    generations: list[list[str]]
    order: list[str]
    critical_path: list[str]
    costs: list[TaskCost]


Materialization = Literal["lazy", "cache", "delta_staging", "delta_output"]


class ViewPolicy(msgspec.Struct, frozen=True, kw_only=True):
    view: str
    materialization: Materialization
    confidence: InferenceConfidence
    required_udfs: tuple[str, ...] = ()


class WritePolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How an output table is written and kept (decided from data, not names)."""

    view: str
    partition_by: tuple[str, ...]
    sort_by: tuple[str, ...]
    stats_columns: tuple[str, ...]
    constraints: dict[str, str]  # Delta CHECK constraints: name -> SQL predicate
    confidence: InferenceConfidence


class CompiledExecutionPolicy(msgspec.Struct, frozen=True, kw_only=True):
    views: list[ViewPolicy]
    writes: list[WritePolicy]
    validation_mode: Literal["strict", "warn"]
    fingerprint: str
