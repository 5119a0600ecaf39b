"""Plan every view of the program once: plan bundles, lineage and inferred dependencies.

DataFusion inlines registered views, so a view's plan over another view would show the
other view's base tables. Each view is therefore planned against schema-only placeholders
(empty in-memory tables) of the views it reads, registered under their names in the run's
one SessionContext: the downstream plan then shows a ``TableScan`` of the upstream view.
Nothing declares inputs: views are built in passes, a view whose builder fails on a table
that is not registered yet waits for the next pass, until no view makes progress.

The physical plan is taken in a second pass, against the real upstream views (registered
as views, hence inlined): a plan over empty placeholders is not the plan that runs (exact
zero-row statistics fold ``count(*)`` to a literal, flip join sides).

State left in ``ctx``: exactly the tables it had on entry; every placeholder and view
registered here is deregistered before returning, also on error.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
from datafusion import DataFrame, LogicalPlan, SessionContext
from datafusion.substrait import Plan, Producer

from codeanatomy.plan.contracts import InferredDeps, Lineage, PlanBundle
from codeanatomy.plan.lineage import merge_lineage, read_lineage, scan_counts
from codeanatomy.plan.session import register_placeholder
from codeanatomy.plan.views import ViewDefinition

# Settings that change neither a plan's meaning nor its result: how plans are displayed,
# machine parallelism, and runtime resource limits. Everything else is fingerprinted.
_UNFINGERPRINTED_PREFIXES = ("datafusion.explain.", "datafusion.format.", "datafusion.runtime.")
_UNFINGERPRINTED_KEYS = frozenset(
    {"datafusion.execution.target_partitions", "datafusion.execution.planning_concurrency"}
)
_MISSING_TABLE = (
    re.compile(r"No table named '(?P<name>[^']+)'"),  # drift: allow D1 error text
    re.compile(r"table '(?P<name>[^']+)' not found"),  # drift: allow D1 error text
)


@dataclass(frozen=True)
class PlannedProgram:
    """Per view: its plan bundle, lineage, inferred dependencies and output schema."""

    bundles: dict[str, PlanBundle]
    lineage: dict[str, Lineage]
    deps: dict[str, InferredDeps]
    schemas: dict[str, pa.Schema]


class UnplannableViewsError(ValueError):
    """Views that never planned: each with the tables it could not find (cycle or unknown)."""

    def __init__(self, missing: Mapping[str, tuple[str, ...]]) -> None:
        self.missing = dict(sorted(missing.items()))
        detail = "; ".join(
            f"{view} reads missing {list(tables)}" for view, tables in self.missing.items()
        )
        super().__init__(f"views cannot be planned (cycle or unknown input): {detail}")


_RECURSIVE = "RecursiveQuery"
_STATEMENT_SEPARATOR = "\n-- next statement --\n"  # between the plans of a view's statements


def plan_views(
    ctx: SessionContext, views: Sequence[ViewDefinition], input_versions: Mapping[str, int]
) -> PlannedProgram:
    """Plan ``views`` in ``ctx`` (evidence already registered); deps read off the plans."""
    _check_names(ctx, views)
    settings = settings_fingerprint(ctx)
    functions = function_snapshot(ctx)
    view_names = frozenset(view.name for view in views)
    registered: list[str] = []
    try:
        order, frames = _plan_in_passes(ctx, views, registered)
        physical = _physical_plans(frames, order)
        bundles: dict[str, PlanBundle] = {}
        lineage: dict[str, Lineage] = {}
        deps: dict[str, InferredDeps] = {}
        for name in order:
            optimized = [frame.optimized_logical_plan() for frame in frames[name]]
            lineage[name] = merge_lineage(
                name, [read_lineage(name, plan, ctx, frozenset(functions)) for plan in optimized]
            )
            inputs = tuple(t for t in lineage[name].tables if t in view_names)
            evidence = tuple(t for t in lineage[name].tables if t not in view_names)
            bundles[name] = _bundle(
                name,
                optimized,
                ctx,
                settings=settings,
                functions=functions,
                input_versions=_versions_of(name, evidence, input_versions),
                upstream={view: bundles[view].fingerprint for view in inputs},
                physical_plan=physical[name],
            )
            deps[name] = InferredDeps(
                view=name,
                inputs=inputs,
                evidence=evidence,
                required_columns=lineage[name].columns,
                required_udfs=lineage[name].udfs,
                plan_fingerprint=bundles[name].fingerprint,
                recursive=_RECURSIVE in bundles[name].logical_plan,
                scans={
                    view: count
                    for view, count in sorted(scan_counts(bundles[name].logical_plan).items())
                    if view in inputs
                },
            )
        schemas = {name: frames[name][-1].schema() for name in order}
    finally:
        for name in registered:
            if ctx.table_exist(name):
                ctx.deregister_table(name)
    return PlannedProgram(bundles=bundles, lineage=lineage, deps=deps, schemas=schemas)


def settings_fingerprint(ctx: SessionContext) -> str:
    """sha256 of the session settings that can change a plan or its result, sorted."""
    try:
        table = ctx.sql("SELECT name, value FROM information_schema.df_settings").to_arrow_table()
    except Exception as error:
        raise ValueError(
            "the session's settings cannot be read: enable information_schema "
            "(SessionConfig().with_information_schema(True)) so plans can be fingerprinted"
        ) from error
    entries = sorted(
        f"{name}={value}"
        for name, value in zip(
            table.column("name").to_pylist(), table.column("value").to_pylist(), strict=True
        )
        if name not in _UNFINGERPRINTED_KEYS and not _unfingerprinted_namespace(name)
    )
    return _digest(entry.encode() for entry in entries)


def _unfingerprinted_namespace(name: str) -> bool:
    return name.startswith(_UNFINGERPRINTED_PREFIXES)  # drift: allow D1 config keys


def function_snapshot(ctx: SessionContext) -> tuple[str, ...]:
    """Sorted names of every scalar, aggregate and window function registered in ``ctx``."""
    return tuple(sorted(set(ctx.udfs()) | set(ctx.udafs()) | set(ctx.udwfs())))


def _check_names(ctx: SessionContext, views: Sequence[ViewDefinition]) -> None:
    """A view name must be unique and not already a table, or placeholders would shadow it."""
    names = [view.name for view in views]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"duplicate view names: {duplicates}")
    taken = sorted(name for name in names if ctx.table_exist(name))
    if taken:
        raise ValueError(f"view names already registered in the session: {taken}")


def _plan_in_passes(
    ctx: SessionContext, views: Sequence[ViewDefinition], registered: list[str]
) -> tuple[list[str], dict[str, tuple[DataFrame, ...]]]:
    """Build views until no progress; each built view becomes a placeholder for the next."""
    pending = list(views)
    order: list[str] = []
    frames: dict[str, tuple[DataFrame, ...]] = {}
    missing: dict[str, tuple[str, ...]] = {}
    while pending:
        waiting: list[ViewDefinition] = []
        missing = {}
        for view in pending:
            try:
                planned = view.planned(ctx)
            except Exception as error:
                absent = _missing_tables(error)
                if not absent:
                    raise
                missing[view.name] = absent
                waiting.append(view)
                continue
            register_placeholder(ctx, view.name, planned[-1].schema())
            registered.append(view.name)
            order.append(view.name)
            frames[view.name] = planned
        if len(waiting) == len(pending):
            raise UnplannableViewsError(missing)
        pending = waiting
    return order, frames


def _missing_tables(error: Exception) -> tuple[str, ...]:
    """Names of unregistered tables a builder tried to read (last part of a qualified name)."""
    text = str(error)
    names = {
        m["name"].rsplit(".", 1)[-1] for pattern in _MISSING_TABLE for m in pattern.finditer(text)
    }
    return tuple(sorted(names))


def _versions_of(
    view: str, evidence: tuple[str, ...], input_versions: Mapping[str, int]
) -> dict[str, int]:
    """The versions of the evidence tables one view reads; an unversioned one is an error."""
    unknown = [table for table in evidence if table not in input_versions]
    if unknown:
        raise ValueError(f"view {view} reads evidence tables without a version: {unknown}")
    return {table: input_versions[table] for table in evidence}


def _bundle(
    name: str,
    optimized: Sequence[LogicalPlan],
    ctx: SessionContext,
    *,
    settings: str,
    functions: tuple[str, ...],
    input_versions: dict[str, int],
    upstream: dict[str, str],
    physical_plan: str,
) -> PlanBundle:
    """The bundle of one view; its fingerprint also covers its upstream views' fingerprints.

    Upstream views are placeholders in this plan, so without their fingerprints a change in
    an upstream view's logic would leave this view's fingerprint (and cache) unchanged.
    """
    logical_text = _STATEMENT_SEPARATOR.join(plan.display_indent() for plan in optimized)
    # One Substrait plan per view: a view of several statements has none.
    substrait = canonical_substrait(optimized[0], ctx) if len(optimized) == 1 else b""
    plan_identity = b"substrait:" + substrait if substrait else b"plan:" + logical_text.encode()
    fingerprint = _digest(
        [
            plan_identity,
            settings.encode(),
            "\n".join(functions).encode(),
            *(f"{table}={version}".encode() for table, version in sorted(input_versions.items())),
            *(f"{view}@{fp}".encode() for view, fp in sorted(upstream.items())),
        ]
    )
    return PlanBundle(
        view=name,
        logical_plan=logical_text,
        physical_plan=physical_plan,
        substrait=substrait,
        fingerprint=fingerprint,
        settings_fingerprint=settings,
        udf_snapshot=functions,
        input_versions=input_versions,
    )


def canonical_substrait(plan: LogicalPlan, ctx: SessionContext) -> bytes:
    """Substrait bytes of ``plan`` in a canonical form; empty if Substrait cannot express it.

    DataFusion lists a plan's function extensions in hash-map order, so the raw bytes differ
    between processes; sorted by anchor and re-encoded they are stable. Recursive queries
    and UNNEST have no Substrait producer (datafusion 55): those bundles carry empty bytes
    and their fingerprint covers the optimized plan text instead.
    """
    try:
        document = json.loads(Producer.to_substrait_plan(plan, ctx).to_json())
    except Exception:
        return b""
    for key in ("extensions", "extensionUris", "extensionUrns"):
        if key in document:
            document[key].sort(key=lambda entry: json.dumps(entry, sort_keys=True))
    return bytes(Plan.from_json(json.dumps(document, sort_keys=True)).encode())


def _physical_plans(
    frames: Mapping[str, tuple[DataFrame, ...]], order: list[str]
) -> dict[str, str]:
    """Physical plans of each view over its upstream placeholders.

    Planning against the real upstream views would inline every upstream plan into every
    downstream one: the unrolled resolution rounds read each previous round several times,
    so inlined plans grow exponentially with the rounds. A view's own physical operators
    are what its bundle records; upstream views have bundles of their own.
    """
    return {
        name: _STATEMENT_SEPARATOR.join(
            frame.execution_plan().display_indent() for frame in frames[name]
        )
        for name in order
    }


def _digest(parts: Iterable[bytes]) -> str:
    """sha256 over length-prefixed parts, so part boundaries cannot shift."""
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(len(part).to_bytes(8, "big"))
        hasher.update(part)
    return hasher.hexdigest()
