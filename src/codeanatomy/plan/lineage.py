"""Read a view's lineage (tables, columns, functions) off its optimized logical plan.

Two complementary readings of the same plan, united:

- the node tree (``inputs()`` / ``to_variant()``): every reachable ``TableScan`` gives its
  table and projection, exact in an optimized plan;
- the ``display_indent()`` text: a subquery kept inside an expression (a scalar subquery
  in SELECT, an undecorrelated EXISTS) is not reachable through ``inputs()`` but its
  ``TableScan:`` line is printed, so it is seen too.

Filter columns pushed into a scan (``full_filters``/``partial_filters``) are not in the
projection; they are read from qualified references (``table.column``) in the scan's
filters. Every column found in text is checked against the table's schema, so text can
only confirm real columns. A scanned name that is not registered in the session is the
work table of a recursive CTE, internal to the plan, and not lineage. Limitation: a column
whose name is not a plain identifier is printed quoted and not recovered from text
(projections from the node tree are exact).

Functions: a name printed as a call (``name(``) in the plan text that is registered in the
session (scalar, aggregate or window; built-in or Python UDF alike — DataFusion's registry
does not tell them apart) is a function the view needs.
"""

from __future__ import annotations

import re
from collections.abc import Set

from datafusion import LogicalPlan, SessionContext
from datafusion.expr import TableScan

from codeanatomy.plan.contracts import Lineage

_SCAN_LINE = re.compile(  # drift: allow D1 plan text
    r"^\s*TableScan: (?P<table>\S+)(?P<rest>.*)$", re.MULTILINE
)
_PROJECTION = re.compile(r"projection=\[(?P<cols>[^\]]*)\]")  # drift: allow D1 plan text
_CALL = re.compile(r"(?<![\w.])(?P<name>[A-Za-z_]\w*)\(")  # drift: allow D1 plan text


def read_lineage(view: str, plan: LogicalPlan, ctx: SessionContext, functions: Set[str]) -> Lineage:
    """Tables, columns and registered functions one optimized plan reads."""
    columns: dict[str, set[str]] = {}
    _walk_scans(plan, columns)
    text = plan.display_indent()
    _scan_text(text, ctx, columns)
    columns = {table: cols for table, cols in columns.items() if ctx.table_exist(table)}
    udfs = {match["name"] for match in _CALL.finditer(text)} & set(functions)
    return Lineage(
        view=view,
        tables=tuple(sorted(columns)),
        columns={table: tuple(sorted(cols)) for table, cols in sorted(columns.items())},
        udfs=tuple(sorted(udfs)),
    )


def merge_lineage(view: str, parts: list[Lineage]) -> Lineage:
    """The lineage of a view made of several statements: what any of them reads."""
    columns: dict[str, set[str]] = {}
    for part in parts:
        for table, cols in part.columns.items():
            columns.setdefault(table, set()).update(cols)
    return Lineage(
        view=view,
        tables=tuple(sorted(columns)),
        columns={table: tuple(sorted(cols)) for table, cols in sorted(columns.items())},
        udfs=tuple(sorted({udf for part in parts for udf in part.udfs})),
    )


def scan_counts(plan_text: str) -> dict[str, int]:
    """How many times each table is scanned in a plan's ``display_indent()`` text.

    A CTE referenced twice is planned (and executed) twice, so this counts reads, not
    readers.
    """
    counts: dict[str, int] = {}
    for line in _SCAN_LINE.finditer(plan_text):
        counts[line["table"]] = counts.get(line["table"], 0) + 1
    return counts


def _walk_scans(plan: LogicalPlan, columns: dict[str, set[str]]) -> None:
    """Projections of every TableScan reachable through plan inputs."""
    variant = plan.to_variant()
    if isinstance(variant, TableScan):
        read = columns.setdefault(variant.table_name(), set())
        read.update(name for _, name in variant.projection())
    for child in plan.inputs():
        _walk_scans(child, columns)


def _scan_text(text: str, ctx: SessionContext, columns: dict[str, set[str]]) -> None:
    """Every ``TableScan:`` line: projection and qualified filter columns, schema-checked."""
    for line in _SCAN_LINE.finditer(text):
        table, rest = line["table"], line["rest"]
        if not ctx.table_exist(table):
            continue
        schema_names = set(ctx.table(table).schema().names)
        projection = _PROJECTION.search(rest)
        if projection is None:
            found = set(schema_names)
        else:
            found = {name.strip() for name in projection["cols"].split(",") if name.strip()}
        qualified = re.compile(rf"(?<![\w.]){re.escape(table)}\.(\w+)")  # drift: allow D1 plan text
        found.update(qualified.findall(rest))
        columns.setdefault(table, set()).update(found & schema_names)
