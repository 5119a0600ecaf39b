"""Read-only SQL over a build output's Delta tables (the ``query`` command).

Every Delta table of ``OUT`` is registered under its name (evidence tables such as
``repo_files`` or ``ast_calls``, and ``cpg_nodes``/``cpg_edges``/``cpg_props`` when built).
The SQL runs with DDL, DML and statements disabled, so a query can never change ``OUT``.
Each failure becomes a :class:`QueryError` whose message is one line.

The table format shows at most :data:`TABLE_LIMIT` rows unless told otherwise: it is
for people, and a stray ``SELECT *`` over millions of rows should not flood a terminal.
JSON and CSV are for programs and return every row unless a limit is given.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any, Literal, get_args

import pyarrow as pa
import pyarrow.types as pat
from datafusion import DataFrame, SessionContext, SQLOptions

from codeanatomy.plan.session import discover_tables, new_session, register_delta_tables

Format = Literal["table", "json", "csv"]
FORMATS: tuple[str, ...] = get_args(Format)
TABLE_LIMIT = 1000
MAX_CELL_CHARS = 80

_REFUSED = re.compile(r"(DDL|DML|Statement) not supported: (.+)")
_UNKNOWN_TABLE = re.compile(r"table '([^']+)' not found")
_SYNTAX = re.compile(r'ParserError\("(.*)"\)', re.DOTALL)
_CELL_ESCAPES = str.maketrans({"\n": "\\n", "\r": "\\r", "\t": "\\t"})


class QueryError(Exception):
    """The query cannot run or failed; the message is one line for the terminal."""


def run_query(out: Path, sql: str, fmt: Format = "table", limit: int | None = None) -> str:
    """Run ``sql`` read-only over the tables of ``out`` and render the rows as ``fmt``.

    ``limit`` caps the rows: ``None`` means the format's default (:data:`TABLE_LIMIT` for
    ``table``, no cap for ``json``/``csv``), ``0`` means no cap. The query is a run of its
    own, so this is where its one session is created.
    """
    if fmt not in FORMATS:
        raise QueryError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    if limit is not None and limit < 0:
        raise QueryError("--limit must be 0 (no limit) or a positive number of rows")
    if not out.is_dir():
        raise QueryError(f"output directory not found: {out}")
    tables = discover_tables(out)
    if not tables:
        raise QueryError(f"no Delta tables under {out} (run 'codeanatomy build' first)")
    ctx = new_session()
    try:
        names = sorted(register_delta_tables(ctx, out, tables))
    except Exception as exc:  # deltalake raises several unrelated types for a broken table
        raise QueryError(f"cannot open the Delta tables of {out}: {_one_line(str(exc))}") from exc
    df = _plan(ctx, sql, names)
    cap = TABLE_LIMIT if limit is None and fmt == "table" else limit or None
    if cap is not None:
        df = df.limit(cap + 1)  # one extra row tells whether rows were left out
    try:
        result = df.to_arrow_table()
    except Exception as exc:  # DataFusion raises plain Exception at execution time
        raise QueryError(f"query failed: {_one_line(str(exc))}") from exc
    left_out = cap is not None and result.num_rows > cap
    if cap is not None:
        result = result.slice(0, cap)
    if fmt == "json":
        return _render_json(result)
    if fmt == "csv":
        return _render_csv(result)
    return _render_table(result, cap if left_out else None)


def _plan(ctx: SessionContext, sql: str, names: list[str]) -> DataFrame:
    read_only = (
        SQLOptions().with_allow_ddl(False).with_allow_dml(False).with_allow_statements(False)
    )
    try:
        return ctx.sql_with_options(sql, read_only)
    except Exception as exc:
        raise QueryError(_planning_message(str(exc), names)) from exc


def _planning_message(message: str, names: list[str]) -> str:
    if refused := _REFUSED.search(message):
        kind = "DDL and DML are" if refused[1] in {"DDL", "DML"} else "statements are"
        return f"query refused: {kind} not allowed (read-only): {_one_line(refused[2])}"
    if unknown := _UNKNOWN_TABLE.search(message):
        table = unknown[1].rsplit(".", 1)[-1]
        return f"unknown table {table!r}; tables: {', '.join(names)}"
    if syntax := _SYNTAX.search(message):
        return f"SQL syntax error: {_one_line(syntax[1])}"
    return f"query failed: {_one_line(message)}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _rows(result: pa.Table) -> list[tuple[Any, ...]]:
    """Rows as tuples: a join may output two columns of the same name, dicts would drop one."""
    return list(zip(*(column.to_pylist() for column in result.columns), strict=True))


def _render_json(result: pa.Table) -> str:
    names = result.column_names
    if len(set(names)) < len(names):
        raise QueryError("JSON rows need distinct column names; rename duplicates with AS")
    rows = [dict(zip(names, row, strict=True)) for row in _rows(result)]
    return json.dumps(rows, default=_json_default, ensure_ascii=False) + "\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _render_csv(result: pa.Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.column_names)
    for row in _rows(result):
        writer.writerow("" if value is None else _text(value) for value in row)
    return buffer.getvalue()


def _render_table(result: pa.Table, left_out_after: int | None) -> str:
    """Aligned plain-text columns: numbers right-aligned, NULL for nulls, one line per row."""
    columns = result.column_names
    cells = [["NULL" if value is None else _cell(value) for value in row] for row in _rows(result)]
    numeric = [_is_numeric(result.schema.field(i).type) for i in range(len(columns))]
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(columns)]

    def line(values: list[str]) -> str:
        parts = [
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    lines = [line(columns), line(["-" * width for width in widths])]
    lines.extend(line(row) for row in cells)
    plural = "" if len(cells) == 1 else "s"
    if left_out_after is None:
        lines.append(f"({len(cells)} row{plural})")
    else:
        lines.append(f"(first {left_out_after} rows shown; --limit N or --limit 0 for more)")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    text = _text(value).translate(_CELL_ESCAPES)
    if len(text) > MAX_CELL_CHARS:
        return text[: MAX_CELL_CHARS - 1] + "…"
    return text


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | dict):
        return json.dumps(value, default=_json_default, ensure_ascii=False)
    return str(value)


def _is_numeric(data_type: pa.DataType) -> bool:
    return bool(pat.is_integer(data_type) or pat.is_floating(data_type))
