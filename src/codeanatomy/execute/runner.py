"""Run the scheduled views through a Hamilton driver generated from the task graph.

One Hamilton node per view, named by the view and taking its upstream views (from the
inferred dependencies) as parameters, so Hamilton's DAG is the task graph and nothing is
declared twice. Each node builds its DataFrame on the run's one session and materialises
it per its compiled :class:`ViewPolicy`. Requesting the views in schedule order makes
Hamilton's depth-first execution follow that order exactly.

Hamilton imports pandas (~1.3 s), so it is imported only inside :func:`execute`.
"""

from __future__ import annotations

import inspect
import keyword
import sys
import time
import types
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import msgspec

from codeanatomy.execute.materialize import (
    DeltaWrite,
    materialize_cache,
    materialize_delta_output,
    materialize_delta_staging,
    materialize_lazy,
)
from codeanatomy.plan.contracts import (
    CompiledExecutionPolicy,
    InferredDeps,
    Materialization,
    TaskSchedule,
    ViewPolicy,
    WritePolicy,
)

if TYPE_CHECKING:
    from datafusion import SessionContext

    from codeanatomy.plan.views import ViewDefinition
    from codeanatomy.semantics.bindings import DatasetResolver


class ViewExecution(msgspec.Struct, frozen=True, kw_only=True):
    """One executed view: how it was materialised, what it waited for, what it wrote."""

    view: str
    materialization: Materialization
    upstream: tuple[str, ...]  # the views Hamilton handed to this node
    seconds: float  # build + materialise
    rows_written: int | None = None
    files_written: int | None = None
    delta_version: int | None = None
    path: str | None = None


class ExecutionReport(msgspec.Struct, frozen=True, kw_only=True):
    """Every view in the order it ran, plus the cost of Hamilton itself."""

    views: list[ViewExecution]
    driver_seconds: float  # node generation + Hamilton driver construction
    execute_seconds: float  # Hamilton execution, all views included


def execute(
    ctx: SessionContext,
    views: Mapping[str, ViewDefinition],
    schedule: TaskSchedule,
    policy: CompiledExecutionPolicy,
    deps: Mapping[str, InferredDeps],
    datasets: DatasetResolver,
) -> ExecutionReport:
    """Build every view of the schedule on ``ctx`` and materialise it per ``policy``.

    Output views are written to ``datasets.path(view)``, spilled intermediates to
    ``datasets.staging_path(view)``: ``datasets`` is the run's one resolver.
    """
    from hamilton import driver

    view_policies = {p.view: p for p in policy.views}
    write_policies = {w.view: w for w in policy.writes}
    _validate(views, schedule, view_policies, write_policies, deps, datasets)
    executed: list[ViewExecution] = []

    def node_for(name: str) -> Callable[..., ViewExecution]:
        def run_view(**upstream: ViewExecution) -> ViewExecution:
            record = _run_view(
                ctx, views[name], view_policies[name], write_policies.get(name), datasets, upstream
            )
            executed.append(record)
            return record

        return run_view

    driver_start = time.perf_counter()
    module = _node_module({name: deps[name].inputs for name in schedule.order}, node_for)
    sys.modules[module.__name__] = module  # Hamilton ignores modules not in sys.modules
    try:
        hamilton_driver = driver.Builder().with_modules(module).build()
    finally:
        del sys.modules[module.__name__]
    driver_seconds = time.perf_counter() - driver_start

    execute_start = time.perf_counter()
    hamilton_driver.execute(list(schedule.order))
    return ExecutionReport(
        views=executed,
        driver_seconds=driver_seconds,
        execute_seconds=time.perf_counter() - execute_start,
    )


def _node_module(
    inputs: Mapping[str, tuple[str, ...]],
    node_for: Callable[[str], Callable[..., ViewExecution]],
) -> types.ModuleType:
    """A module with one function per view whose parameters are its upstream views."""
    module = types.ModuleType(f"codeanatomy_views_{uuid.uuid4().hex}")
    for name, upstream in inputs.items():
        fn = node_for(name)
        params = sorted(set(upstream))
        fn.__name__ = fn.__qualname__ = name
        fn.__module__ = module.__name__
        fn.__doc__ = f"Build and materialise view {name}."
        fn.__annotations__ = {**dict.fromkeys(params, ViewExecution), "return": ViewExecution}
        fn.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [
                inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY, annotation=ViewExecution)
                for p in params
            ],
            return_annotation=ViewExecution,
        )
        setattr(module, name, fn)
    return module


def _run_view(
    ctx: SessionContext,
    view: ViewDefinition,
    view_policy: ViewPolicy,
    write_policy: WritePolicy | None,
    datasets: DatasetResolver,
    upstream: Mapping[str, ViewExecution],
) -> ViewExecution:
    start = time.perf_counter()
    df = view.build(ctx)
    written: DeltaWrite | None = None
    match view_policy.materialization:
        case "lazy":
            materialize_lazy(ctx, view.name, df)
        case "cache":
            materialize_cache(ctx, view.name, df)
        case "delta_staging":
            path = datasets.staging_path(view.name)
            written = materialize_delta_staging(ctx, view.name, df, path)
        case "delta_output":
            if write_policy is None:
                raise ValueError(f"view {view.name} is a Delta output without a write policy")
            path = datasets.path(view.name)
            written = materialize_delta_output(ctx, view.name, df, path, write_policy)
    return ViewExecution(
        view=view.name,
        materialization=view_policy.materialization,
        upstream=tuple(sorted(upstream)),
        seconds=time.perf_counter() - start,
        rows_written=None if written is None else written.rows,
        files_written=None if written is None else written.files,
        delta_version=None if written is None else written.version,
        path=None if written is None else written.path,
    )


def _validate(
    views: Mapping[str, ViewDefinition],
    schedule: TaskSchedule,
    view_policies: Mapping[str, ViewPolicy],
    write_policies: Mapping[str, WritePolicy],
    deps: Mapping[str, InferredDeps],
    datasets: DatasetResolver,
) -> None:
    """Refuse inputs that would make Hamilton's DAG differ from the scheduled task graph.

    Also refuse before any work a Delta output the resolver does not bind, so a run never
    fails half-written on an unknown location.
    """
    names = set(views)
    if len(schedule.order) != len(set(schedule.order)) or set(schedule.order) != names:
        raise ValueError("schedule order must list every view exactly once")
    for name in schedule.order:
        reserved = name.startswith("_")  # drift: allow D1 Hamilton drops "_" functions
        if not name.isidentifier() or keyword.iskeyword(name) or reserved:
            raise ValueError(f"view name {name!r} cannot name a Hamilton node")
    for label, keyed in (("policy", view_policies), ("dependencies", deps)):
        missing = sorted(names - set(keyed))
        if missing:
            raise ValueError(f"no {label} for views {missing}")
    unknown_writes = sorted(set(write_policies) - names)
    if unknown_writes:
        raise ValueError(f"write policies for unknown views {unknown_writes}")
    unbound = sorted(
        name
        for name, policy in view_policies.items()
        if policy.materialization == "delta_output" and name not in datasets.output_names()
    )
    if unbound:
        raise ValueError(f"Delta outputs without an output binding: {unbound}")
    position = {name: index for index, name in enumerate(schedule.order)}
    for name in schedule.order:
        for upstream in deps[name].inputs:
            if upstream not in position:
                raise ValueError(f"view {name} reads {upstream!r}, which is not a view")
            if position[upstream] >= position[name]:
                raise ValueError(f"schedule runs {name} before its input {upstream}")
