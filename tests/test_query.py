"""The run session, pruning Delta registration and the read-only ``query`` command."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from datafusion import SessionContext
from deltalake import DeltaTable, write_deltalake

from codeanatomy.plan.session import discover_tables, new_session, register_delta_tables
from codeanatomy.surfaces.query import TABLE_LIMIT, QueryError, run_query

FILES_PER_APPEND = 100
APPENDS = 4


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codeanatomy.surfaces.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def write_ranged_table(path: Path) -> None:
    """APPENDS data files; file k holds file ids fk_000..fk_099 only (disjoint ranges)."""
    for k in range(APPENDS):
        ids = [f"f{k}_{j:03d}" for j in range(FILES_PER_APPEND)]
        data = pa.table({"file_id": ids, "value": list(range(FILES_PER_APPEND))})
        write_deltalake(str(path), data, mode="append")


def explain_analyze(ctx: SessionContext, sql: str) -> str:
    rows = ctx.sql(f"EXPLAIN ANALYZE {sql}").to_pydict()
    return "\n".join(rows["plan"])


def metric(plan: str, pattern: str) -> int:
    found = re.search(pattern, plan)
    assert found is not None, plan
    return int(found[1])


# --- session and registration -------------------------------------------------------------


def test_new_session_has_information_schema_and_partitions():
    ctx = new_session(target_partitions=3)
    settings = ctx.sql(
        "SELECT value FROM information_schema.df_settings "
        "WHERE name = 'datafusion.execution.target_partitions'"
    ).to_pydict()
    assert settings["value"] == ["3"]


def test_registered_delta_table_prunes_files_the_provider_path_does_not(tmp_path):
    table = tmp_path / "ranged"
    write_ranged_table(table)
    assert len(DeltaTable(str(table)).file_uris()) == APPENDS
    query = "SELECT value FROM {} WHERE file_id = 'f2_005'"

    ctx = SessionContext()
    ctx.register_table("provider", DeltaTable(str(table)))
    versions = register_delta_tables(ctx, tmp_path, ["ranged"])
    assert versions == {"ranged": APPENDS - 1}  # one commit per append, from version 0

    # Same answer both ways: value 5 of the third file.
    for name in ("provider", "ranged"):
        assert ctx.sql(query.format(name)).to_pydict() == {"value": [5]}

    provider_plan = explain_analyze(ctx, query.format("provider"))
    files_opened = metric(provider_plan, r"files_opened=(\d+)")
    rows_scanned = metric(provider_plan, r"DataSourceExec.*?output_rows=(\d+)")
    assert files_opened == APPENDS  # no file skipped
    assert rows_scanned == APPENDS * FILES_PER_APPEND  # every row read, filtered above
    assert "FilterExec" in provider_plan

    dataset_plan = explain_analyze(ctx, query.format("ranged"))
    fragments = metric(dataset_plan, r"number_of_fragments=(\d+)")
    assert fragments == 1  # only the file whose file_id range holds 'f2_005'
    assert "FilterExec" not in dataset_plan  # the filter runs inside the scan
    assert "filter_expr=(file_id ==" in dataset_plan
    rows_read_at_most = fragments * FILES_PER_APPEND
    assert fragments < files_opened
    assert rows_read_at_most < rows_scanned


def test_discover_tables_finds_evidence_and_cpg_delta_tables(tmp_path):
    small = pa.table({"file_id": ["a"], "n": [1]})
    write_deltalake(str(tmp_path / "evidence" / "repo_files"), small)
    write_deltalake(str(tmp_path / "cpg_nodes"), small)
    write_deltalake(str(tmp_path / "unrelated"), small)  # not a CPG table name
    (tmp_path / "evidence" / "not_delta").mkdir()
    (tmp_path / "cpg_edges").mkdir()  # no _delta_log
    assert discover_tables(tmp_path) == ["cpg_nodes", "evidence/repo_files"]
    assert discover_tables(tmp_path / "missing") == []

    ctx = new_session()
    assert register_delta_tables(ctx, tmp_path, discover_tables(tmp_path)) == {
        "cpg_nodes": 0,
        "repo_files": 0,
    }
    with pytest.raises(ValueError, match="'repo_files'"):
        register_delta_tables(
            new_session(), tmp_path, ["evidence/repo_files", "cpg_nodes/../evidence/repo_files"]
        )


def test_query_reads_cpg_tables(tmp_path):
    write_deltalake(str(tmp_path / "cpg_edges"), pa.table({"kind": ["CALLS", "CALLS", "DEF"]}))
    text = run_query(tmp_path, "SELECT kind, count(*) AS n FROM cpg_edges GROUP BY kind", "csv")
    assert sorted(text.splitlines()[1:]) == ["CALLS,2", "DEF,1"]


# --- query over a real build ------------------------------------------------------------

BINARY_SQL = "SELECT path, status FROM repo_files WHERE status = 'binary'"


def test_select_as_json(messy_build):
    out, _ = messy_build
    assert json.loads(run_query(out, BINARY_SQL, "json")) == [
        {"path": "random_bytes.py", "status": "binary"}
    ]


def test_select_as_csv(messy_build):
    out, _ = messy_build
    assert run_query(out, BINARY_SQL, "csv") == "path,status\nrandom_bytes.py,binary\n"


def test_select_as_table(messy_build):
    out, _ = messy_build
    lines = run_query(out, BINARY_SQL, "table").splitlines()
    assert lines == [
        "path             status",
        "---------------  ------",
        "random_bytes.py  binary",
        "(1 row)",
    ]


def test_table_aligns_numbers_right_and_shows_nulls(messy_build):
    out, _ = messy_build
    sql = (
        "SELECT path, size, CAST(NULL AS VARCHAR) AS nothing FROM repo_files "
        "WHERE path IN ('empty.py', 'crlf.py') ORDER BY path"
    )
    # Sizes from the fixture bytes: crlf.py is 83 bytes, empty.py is 0.
    assert run_query(out, sql).splitlines()[:4] == [
        "path      size  nothing",
        "--------  ----  -------",
        "crlf.py     83  NULL",
        "empty.py     0  NULL",
    ]
    assert run_query(out, sql, "csv").splitlines()[1:] == ["crlf.py,83,", "empty.py,0,"]
    assert json.loads(run_query(out, sql, "json"))[0] == {
        "path": "crlf.py",
        "size": 83,
        "nothing": None,
    }


def test_join_ast_calls_with_repo_files(messy_build):
    out, _ = messy_build
    sql = (
        "SELECT f.path, count(*) AS calls FROM ast_calls c "
        "JOIN repo_files f ON c.file_id = f.file_id "
        "WHERE c.callee_text = 'make_adder' GROUP BY f.path ORDER BY f.path"
    )
    # make_adder is called once in core.py (adder = make_adder(2)) and once in helpers.py
    # (self.add = make_adder(1)); pkg/__init__.py only imports it.
    assert json.loads(run_query(out, sql, "json")) == [
        {"path": "pkg/core.py", "calls": 1},
        {"path": "pkg/sub/helpers.py", "calls": 1},
    ]


def test_duplicate_column_names_render_in_table_and_csv_but_not_json(messy_build):
    out, _ = messy_build
    sql = (
        "SELECT a.path, b.path FROM repo_files a JOIN repo_files b ON a.file_id = b.file_id "
        "WHERE a.path = 'tabs.py'"
    )
    assert list(csv.reader(io.StringIO(run_query(out, sql, "csv")))) == [
        ["path", "path"],
        ["tabs.py", "tabs.py"],
    ]
    with pytest.raises(QueryError, match="distinct column names"):
        run_query(out, sql, "json")


def test_limits(messy_build):
    out, _ = messy_build
    series = f"SELECT value FROM generate_series(1, {TABLE_LIMIT + 500})"
    table = run_query(out, series).splitlines()
    assert len(table) == 2 + TABLE_LIMIT + 1  # header, rule, rows, footer
    assert table[-1].startswith(f"(first {TABLE_LIMIT} rows shown")
    assert len(run_query(out, series, "table", limit=0).splitlines()) == 2 + TABLE_LIMIT + 500 + 1
    assert len(json.loads(run_query(out, series, "json"))) == TABLE_LIMIT + 500
    assert json.loads(run_query(out, series + " ORDER BY value", "json", limit=2)) == [
        {"value": 1},
        {"value": 2},
    ]
    assert run_query(out, series + " ORDER BY value", "csv", limit=1) == "value\n1\n"


REFUSED = "query refused: DDL and DML are not allowed (read-only)"


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE t AS SELECT * FROM repo_files",
        "DROP TABLE repo_files",
        "INSERT INTO repo_files SELECT * FROM repo_files",
        "COPY repo_files TO '{target}'",
    ],
)
def test_ddl_and_dml_are_refused(messy_build, tmp_path, sql):
    out, _ = messy_build
    target = tmp_path / "copy.csv"
    version = DeltaTable(str(out / "evidence" / "repo_files")).version()
    with pytest.raises(QueryError) as info:
        run_query(out, sql.format(target=target))
    assert str(info.value).startswith(REFUSED)
    assert "\n" not in str(info.value)
    assert not target.exists()
    assert DeltaTable(str(out / "evidence" / "repo_files")).version() == version


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SET datafusion.execution.batch_size = 1", "query refused: statements are not allowed"),
        (
            "SELEC path FROM repo_files",
            "SQL syntax error: Expected: an SQL statement, found: SELEC",
        ),
        ("SELECT nope FROM repo_files", "query failed: Schema error: No field named nope."),
    ],
)
def test_other_errors_are_one_line(messy_build, sql, message):
    out, _ = messy_build
    with pytest.raises(QueryError) as info:
        run_query(out, sql)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_unknown_table_lists_the_tables(messy_build):
    out, _ = messy_build
    with pytest.raises(QueryError) as info:
        run_query(out, "SELECT * FROM no_such_table")
    text = str(info.value)
    assert text.startswith("unknown table 'no_such_table'; tables: ")
    tables = text.split("tables: ", 1)[1].split(", ")
    assert tables == sorted(tables)
    assert {"repo_files", "ast_calls", "file_lines"} <= set(tables)


def test_missing_or_empty_out(tmp_path):
    with pytest.raises(QueryError, match="output directory not found"):
        run_query(tmp_path / "missing", "SELECT 1")
    with pytest.raises(QueryError, match="no Delta tables under"):
        run_query(tmp_path, "SELECT 1")


def test_broken_delta_table_is_a_one_line_error(tmp_path):
    (tmp_path / "evidence" / "repo_files" / "_delta_log").mkdir(parents=True)  # no commits
    with pytest.raises(QueryError) as info:
        run_query(tmp_path, "SELECT 1")
    assert str(info.value).startswith(f"cannot open the Delta tables of {tmp_path}: ")
    assert "\n" not in str(info.value)


# --- command line --------------------------------------------------------------------------


def test_cli_query_prints_rows(messy_build):
    out, _ = messy_build
    result = run_cli("query", str(out), BINARY_SQL, "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "path,status\nrandom_bytes.py,binary\n"


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("DROP TABLE repo_files", REFUSED),
        ("SELECT * FROM nope", "unknown table 'nope'"),
        ("SELEC 1", "SQL syntax error"),
    ],
)
def test_cli_errors_are_one_line_exit_2(messy_build, sql, fragment):
    out, _ = messy_build
    result = run_cli("query", str(out), sql)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"codeanatomy: error: {fragment}")
    assert result.stdout == ""


def test_cli_missing_out_and_bad_limit(tmp_path):
    missing = run_cli("query", str(tmp_path / "missing"), "SELECT 1")
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"codeanatomy: error: output directory not found: {tmp_path / 'missing'}"
    ]
    bad = run_cli("query", str(tmp_path), "SELECT 1", "--limit", "-1")
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1


def test_query_help_imports_neither_pandas_nor_hamilton():
    probe = (
        "import sys\n"
        "from codeanatomy.surfaces.cli import main\n"
        "try:\n"
        "    main(['query', '--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0\n"
        "heavy = [m for m in ('pandas', 'hamilton', 'datafusion') if m in sys.modules]\n"
        "print('heavy:' + ','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "usage: codeanatomy query" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "heavy:"


def test_running_a_query_does_not_import_hamilton(messy_build):
    out, _ = messy_build
    # The probe leaves like the CLI does (codeanatomy.surfaces.cli.run): pyarrow scanner
    # threads can abort interpreter finalization after the work is done.
    probe = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from codeanatomy.surfaces.query import run_query\n"
        f"run_query(Path({str(out)!r}), 'SELECT count(*) FROM repo_files')\n"
        "print('hamilton' in sys.modules, flush=True)\n"
        "os._exit(0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
