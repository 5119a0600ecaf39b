"""Task graph, cost estimates and schedule of the views, all read off the plans.

Edges come from :class:`InferredDeps` (what each plan reads), costs from the row
statistics DataFusion attaches to each physical plan, and the schedule is the
topological generations of that graph plus its cost-weighted critical path. Nothing
here is declared by hand, so the schedule cannot drift from the plans it runs.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import rustworkx as rx
from datafusion import DataFrame, ExplainFormat

from codeanatomy.plan.contracts import InferredDeps, TaskCost, TaskSchedule

# Cost of a view whose plan has no row statistics and no upstream view with a cost: one
# unit, i.e. "a step of the schedule of unknown size". The TaskCost says it fell back.
FALLBACK_COST = 1.0

# The first ``Rows=`` after the physical-plan marker is the root operator's estimate.
_ROWS_PATTERN = r"Rows=(?:(Exact|Inexact)\((\d+)\)|Absent)"
_ROWS = re.compile(_ROWS_PATTERN)  # drift: allow D1 parses EXPLAIN statistics, not names


class PlanCycleError(ValueError):
    """The views read each other in a cycle, so no order can run them."""


@dataclass(frozen=True)
class TaskGraph:
    """Views as nodes, an edge from each view to every view that reads it.

    Nodes are added in sorted name order so indices, and every traversal built on
    them, are the same for the same views whatever order ``deps`` came in.
    """

    graph: rx.PyDiGraph[str, None]
    index: Mapping[str, int]

    @property
    def views(self) -> tuple[str, ...]:
        return tuple(self.index)

    def out_degree(self, view: str) -> int:
        """How many views read this one (its fan-out)."""
        return self.graph.out_degree(self.index[view])

    def downstream(self, view: str) -> tuple[str, ...]:
        return tuple(sorted(self.graph[i] for i in self.graph.successor_indices(self.index[view])))

    def upstream(self, view: str) -> tuple[str, ...]:
        return tuple(
            sorted(self.graph[i] for i in self.graph.predecessor_indices(self.index[view]))
        )


def build_task_graph(deps: Mapping[str, InferredDeps]) -> TaskGraph:
    """Build the DAG of views from their inferred inputs; a cycle or unknown input raises."""
    graph: rx.PyDiGraph[str, None] = rx.PyDiGraph(check_cycle=True)
    index = {view: graph.add_node(view) for view in sorted(deps)}
    for view in sorted(deps):
        for upstream in sorted(set(deps[view].inputs)):
            if upstream not in index:
                raise ValueError(f"view {view!r} reads view {upstream!r}, which has no deps")
            if upstream == view:
                raise PlanCycleError(f"dependency cycle: {view} -> {view}")
            try:
                graph.add_edge(index[upstream], index[view], None)
            except rx.DAGWouldCycle:
                raise PlanCycleError(
                    "dependency cycle: " + " -> ".join(_cycle(graph, upstream, view, index))
                ) from None
    return TaskGraph(graph=graph, index=MappingProxyType(index))


def _cycle(
    graph: rx.PyDiGraph[str, None], upstream: str, view: str, index: dict[str, int]
) -> list[str]:
    """Name the views of the cycle that edge upstream -> view would close."""
    paths = rx.digraph_dijkstra_shortest_paths(graph, index[view], target=index[upstream])
    back = [graph[i] for i in paths[index[upstream]]]
    return [upstream, *back]


def estimate_costs(
    frames: Mapping[str, DataFrame],
    deps: Mapping[str, InferredDeps] | None = None,
    *,
    physical_plans: Mapping[str, str] | None = None,
    evidence_rows: Mapping[str, int] | None = None,
) -> dict[str, TaskCost]:
    """Estimate each view's cost from the row statistics of its physical plan.

    cost = max(estimated rows, 1): the root operator's ``Rows=Exact(n)`` or
    ``Rows=Inexact(n)``, floored at one so an empty view still counts as a step. When
    the plan reports ``Rows=Absent`` the cost falls back to the largest cost of the
    views it reads (from ``deps``; its output is taken to be no bigger than its biggest
    input), else to :data:`FALLBACK_COST`; ``fallback_reason`` says which.

    The statistics come from ``DataFrame.explain(show_statistics=True)``, a per-statement
    option: the caller's SessionContext config is never changed. That method prints, so
    its output is captured by redirecting ``sys.stdout`` for the call, which is why this
    must not run concurrently with other code printing from the same process.

    A view whose physical plan (``physical_plans``) scans through a ``DatasetExec`` is not
    explained at all: pyarrow dataset scans report no statistics, so EXPLAIN can only say
    Absent (it cost 8.6 s for 58 views on the stdlib corpus). Its fallback cost also
    counts the rows of the evidence tables it reads (``evidence_rows``, from the Delta
    log). ``frames`` need not hold such views.
    """
    order = _cost_order({*(physical_plans or {}), *frames}, deps)
    costs: dict[str, TaskCost] = {}
    for view in order:
        plan = (physical_plans or {}).get(view, "")
        rows: int | str
        if not reports_statistics(plan) or view not in frames:
            rows = f"{_NO_STATISTICS} (pyarrow dataset) scans report no statistics"
        else:
            rows = _explain_rows(frames[view])
        if isinstance(rows, int):
            costs[view] = TaskCost(
                view=view,
                cost=float(max(rows, 1)),
                source="plan_statistics",
                estimated_rows=rows,
            )
            continue
        inputs = deps[view].inputs if deps is not None and view in deps else ()
        upstream = [costs[i].cost for i in inputs if i in costs]
        evidence = deps[view].evidence if deps is not None and view in deps else ()
        read = sum((evidence_rows or {}).get(table, 0) for table in evidence)
        if upstream or read:
            cost = float(max([*upstream, read]))
            how = "cost = max cost of the views it reads, or rows of evidence read if more"
        else:
            cost, how = FALLBACK_COST, f"no upstream view cost; unit cost {FALLBACK_COST}"
        costs[view] = TaskCost(
            view=view,
            cost=cost,
            source="fallback",
            estimated_rows=None,
            fallback_reason=f"{rows}; {how}",
        )
    return dict(sorted(costs.items()))


def _cost_order(views: Iterable[str], deps: Mapping[str, InferredDeps] | None) -> list[str]:
    """Upstream views first, so a fallback can use the costs of the views it reads."""
    names = set(views)
    if deps is None:
        return sorted(names)
    graph = build_task_graph(deps)
    ordered = [graph.graph[i] for i in rx.topological_sort(graph.graph) if graph.graph[i] in names]
    return ordered + sorted(names - set(ordered))


_NO_STATISTICS = "DatasetExec"


def reports_statistics(physical_plan: str) -> bool:
    """Whether EXPLAIN can give row statistics: not when any scan is a DatasetExec."""
    return _NO_STATISTICS not in physical_plan


def _explain_rows(frame: DataFrame) -> int | str:
    """The root operator's row estimate, or why there is none."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        frame.explain(show_statistics=True, format=ExplainFormat.INDENT)
    text = out.getvalue()
    start = text.find("| physical_plan")
    if start < 0:
        return "EXPLAIN printed no physical plan"
    found = _ROWS.search(text, start)
    if found is None:
        return "EXPLAIN printed no row statistics"
    if found.group(2) is None:
        return "plan statistics report Rows=Absent"
    return int(found.group(2))


def schedule(graph: TaskGraph, costs: Mapping[str, TaskCost]) -> TaskSchedule:
    """Order the views in topological generations and find the cost-weighted critical path.

    The critical path is the chain of views whose summed costs is largest. Each node's
    cost sits on its incoming edges; a virtual root with an edge to every source view
    carries the sources' own costs, so a chain's first view counts too and a single-view
    graph has a path.
    """
    missing = sorted(set(graph.index) - set(costs))
    if missing:
        raise ValueError(f"no cost for views {missing}")
    generations = [
        sorted(graph.graph[i] for i in layer) for layer in rx.topological_generations(graph.graph)
    ]
    return TaskSchedule(
        generations=generations,
        order=[view for layer in generations for view in layer],
        critical_path=_critical_path(graph, costs),
        costs=[costs[view] for view in sorted(graph.index)],
    )


def _critical_path(graph: TaskGraph, costs: Mapping[str, TaskCost]) -> list[str]:
    """Heaviest path (sum of task costs), ties broken by view name so it is deterministic.

    rustworkx's ``dag_weighted_longest_path`` picks among equal-cost paths arbitrarily
    from run to run; a longest-path pass over generations in name order does not.
    """
    best: dict[str, tuple[float, list[str]]] = {}
    for generation in rx.topological_generations(graph.graph):
        for view in sorted(graph.graph[i] for i in generation):
            cost = costs[view].cost
            candidates = [best[up] for up in graph.upstream(view)]
            heaviest = max(candidates, key=_path_key, default=(0.0, []))
            best[view] = (heaviest[0] + cost, [*heaviest[1], view])
    if not best:
        return []
    return max(best.values(), key=_path_key)[1]


def _path_key(candidate: tuple[float, list[str]]) -> tuple[float, list[tuple[int, ...]]]:
    """Heavier first; among equals, the path whose view names sort first."""
    cost, path = candidate
    return cost, [tuple(-ord(ch) for ch in view) for view in path]


def check_plan_schedule(
    plan_schedule: TaskSchedule,
    deps: Mapping[str, InferredDeps],
    bundle_fingerprints: Mapping[str, str],
) -> list[str]:
    """Violations of plan-schedule consistency (empty when consistent).

    Every scheduled task has deps whose plan fingerprint equals its plan bundle's; every
    view with deps is scheduled exactly once; every input of a task runs in an earlier
    generation; the order is the generations flattened.
    """
    violations: list[str] = []
    scheduled = [view for layer in plan_schedule.generations for view in layer]
    if plan_schedule.order != scheduled:
        violations.append("schedule order is not its generations flattened")
    generation = {view: g for g, layer in enumerate(plan_schedule.generations) for view in layer}
    for view in sorted(set(scheduled)):
        if view not in deps:
            violations.append(f"{view}: scheduled without inferred deps")
        elif view not in bundle_fingerprints:
            violations.append(f"{view}: scheduled without a plan bundle")
        elif deps[view].plan_fingerprint != bundle_fingerprints[view]:
            violations.append(
                f"{view}: deps plan fingerprint {deps[view].plan_fingerprint} != "
                f"plan bundle fingerprint {bundle_fingerprints[view]}"
            )
    counts = Counter(scheduled)
    for view in sorted(deps):
        if counts[view] != 1:
            violations.append(f"{view}: scheduled {counts[view]} times, expected once")
        for upstream in sorted(deps[view].inputs):
            if view not in generation:
                break
            if upstream not in generation:
                violations.append(f"{view}: input {upstream} is not scheduled")
            elif generation[upstream] >= generation[view]:
                violations.append(
                    f"{view}: input {upstream} runs in generation {generation[upstream]}, "
                    f"not before {generation[view]}"
                )
    return violations
