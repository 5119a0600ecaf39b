"""End-to-end extraction: Delta tables, bad input as data, determinism, crash isolation."""

import ast
import json
from pathlib import Path
from typing import Any

from codeanatomy.build import BuildOptions, build
from codeanatomy.extract.catalog import LAYERS, all_tables
from codeanatomy.extract.worker import FAULT_ENV
from codeanatomy.ids import file_id_for
from tests import fixture_repos as fx
from tests.delta_read import read_table, rows


def _errors(out: Path) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["path"], r["layer"]): r for r in rows(out, "extract_errors")}


def test_every_table_is_written_with_its_declared_schema(messy_build):
    out, manifest = messy_build
    assert {t.name for t in manifest.tables} == {t.name for t in all_tables()}
    for spec in all_tables():
        table = read_table(out, spec.name)
        assert table.schema.names == spec.schema.names
        assert [f.type for f in table.schema] == [f.type for f in spec.schema]
    # libcst is opt-in: its tables exist, empty, so consumers degrade gracefully
    assert all(read_table(out, t.name).num_rows == 0 for t in LAYERS[-1].tables)


def test_ast_nodes_count_every_parsed_node(messy_build, messy_repo):
    out, _ = messy_build
    folded = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop)
    expected = 0
    for path in fx.GOOD_FILES:
        tree = ast.parse((messy_repo / path).read_bytes())
        expected += sum(1 for node in ast.walk(tree) if not isinstance(node, folded))
    assert read_table(out, "ast_nodes").num_rows == expected


def test_repo_files_statuses_and_hashes(messy_build, messy_repo):
    out, manifest = messy_build
    files = {r["path"]: r for r in rows(out, "repo_files")}
    assert set(files) == set(fx.GOOD_FILES + fx.BAD_FILES)
    assert files["random_bytes.py"]["status"] == "binary"
    assert files["latin1_cookie.py"]["encoding"] == "iso8859-1"
    assert files["bom_utf8.py"]["has_bom"] is True
    assert files["pkg/stubs.pyi"]["is_stub"] is True
    assert files["empty.py"]["line_count"] == 0
    for path, rec in files.items():
        assert rec["file_id"] == file_id_for(path)
        if rec["status"] == "ok":
            import hashlib

            assert rec["sha256"] == hashlib.sha256((messy_repo / path).read_bytes()).hexdigest()
    assert manifest.file_statuses == {"binary": 1, "ok": len(files) - 1}


def test_every_bad_file_is_an_error_row_and_keeps_its_other_layers(messy_build):
    out, manifest = messy_build
    errors = _errors(out)
    assert errors[("random_bytes.py", "scan")]["error_type"] == "BinaryFile"
    for layer in ("ast", "symtable", "bytecode"):
        syntax = errors[("broken_syntax.py", layer)]
        assert syntax["error_type"] == "SyntaxError" and syntax["line"] == 6
        assert errors[("deep_nesting.py", layer)]["error_type"] == "RecursionError"
        assert errors[("nul_byte.py", layer)]["error_type"] in {"ValueError", "SyntaxError"}
    ts_files = {r["file_id"] for r in rows(out, "ts_defs")}
    assert file_id_for("broken_syntax.py") in ts_files  # tree-sitter keeps the broken file
    ts_nodes = read_table(out, "ts_nodes").to_pylist()
    assert any(r["file_id"] == file_id_for("deep_nesting.py") for r in ts_nodes)
    assert not any(path == "pkg/core.py" for path, _ in errors)
    assert manifest.errors_by_layer["ast"] == 3


def test_file_lines_match_the_raw_bytes(messy_build, messy_repo):
    out, _ = messy_build
    lines = [r for r in rows(out, "file_lines") if r["file_id"] == file_id_for("crlf.py")]
    data = (messy_repo / "crlf.py").read_bytes()
    expected = data.split(b"\r\n")[:-1]
    assert [
        data[r["line_start_byte"] : r["line_end_byte"]]
        for r in sorted(lines, key=lambda r: r["line_no"])
    ] == expected


def test_every_evidence_row_belongs_to_a_scanned_file(messy_build):
    out, _ = messy_build
    file_ids = {r["file_id"] for r in rows(out, "repo_files")}
    for spec in all_tables():
        ids = set(read_table(out, spec.name).column("file_id").to_pylist())
        assert ids <= file_ids, spec.name


def _contents(out: Path) -> dict[str, list[str]]:
    result = {}
    for spec in all_tables():
        table = read_table(out, spec.name)
        result[spec.name] = sorted(map(json.dumps, table.to_pylist()))
    return result


def test_two_builds_are_identical_whatever_the_job_count(messy_repo, messy_build, tmp_path):
    out, _ = messy_build
    again = build(BuildOptions(repo=messy_repo, out=tmp_path / "again", jobs=1))
    assert again.files == len(fx.GOOD_FILES + fx.BAD_FILES)
    assert _contents(out) == _contents(tmp_path / "again")


def test_rebuild_into_the_same_out_replaces_tables(messy_repo, tmp_path):
    first = build(BuildOptions(repo=messy_repo, out=tmp_path, jobs=1, include=("pkg/",)))
    second = build(BuildOptions(repo=messy_repo, out=tmp_path, jobs=1, include=("pkg/core.py",)))
    assert first.files == 5 and second.files == 1
    assert {r["path"] for r in rows(tmp_path, "repo_files")} == {"pkg/core.py"}


def test_too_large_files_are_reported_and_skipped(messy_repo, tmp_path):
    manifest = build(
        BuildOptions(repo=messy_repo, out=tmp_path, jobs=1, include=("pkg/",), max_file_bytes=200)
    )
    assert manifest.file_statuses["too_large"] >= 2
    errors = rows(tmp_path, "extract_errors")
    big = {r["path"] for r in errors if r["error_type"] == "FileTooLarge"}
    assert "pkg/core.py" in big
    assert not any(r["file_id"] == file_id_for("pkg/core.py") for r in rows(tmp_path, "ast_nodes"))


def test_unreadable_file_is_an_error_row(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "ok.py").write_text("x = 1\n")
    (repo / "dangling.py").symlink_to(repo / "missing.py")
    manifest = build(BuildOptions(repo=repo, out=tmp_path / "out", jobs=1))
    assert manifest.file_statuses == {"ok": 1, "unreadable": 1}
    (error,) = rows(tmp_path / "out", "extract_errors")
    assert (error["path"], error["layer"], error["error_type"]) == (
        "dangling.py",
        "scan",
        "FileNotFoundError",
    )


def test_a_dying_worker_only_fails_its_own_file(messy_repo, tmp_path, monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "pkg/core.py")
    manifest = build(BuildOptions(repo=messy_repo, out=tmp_path, jobs=2, include=("pkg/",)))
    files = {r["path"]: r["status"] for r in rows(tmp_path, "repo_files")}
    assert files == {
        "pkg/__init__.py": "ok",
        "pkg/core.py": "worker_crashed",
        "pkg/stubs.pyi": "ok",
        "pkg/sub/__init__.py": "ok",
        "pkg/sub/helpers.py": "ok",
    }
    (error,) = rows(tmp_path, "extract_errors")
    assert (error["path"], error["error_type"]) == ("pkg/core.py", "WorkerCrashed")
    done = {r["file_id"] for r in rows(tmp_path, "ast_nodes")}
    assert file_id_for("pkg/sub/helpers.py") in done
    assert manifest.file_statuses["worker_crashed"] == 1


def test_run_manifest_records_interpreter_and_layer_versions(messy_build):
    import platform

    out, manifest = messy_build
    on_disk = json.loads((out / "artifacts/run_manifest.json").read_text())
    assert on_disk["python_version"] == platform.python_version()
    assert [layer["name"] for layer in on_disk["layers"]] == [
        "ast",
        "symtable",
        "bytecode",
        "tree_sitter",
    ]
    assert all(layer["version"] for layer in on_disk["layers"])
    assert on_disk["files"] == manifest.files


def test_opt_in_libcst_layer_reports_parse_errors_with_a_position(messy_repo, tmp_path):
    manifest = build(
        BuildOptions(
            repo=messy_repo,
            out=tmp_path,
            jobs=1,
            layers="libcst",
            include=("broken_syntax.py", "pkg/core.py"),
        )
    )
    assert [layer.name for layer in manifest.layers] == ["libcst"]
    (error,) = rows(tmp_path, "extract_errors")
    assert (error["path"], error["layer"], error["error_type"]) == (
        "broken_syntax.py",
        "libcst",
        "ParserSyntaxError",
    )
    assert error["line"] is not None and error["line"] >= 6
    calls = {r["callee_qualified_name"] for r in rows(tmp_path, "cst_calls")}
    assert "os.path.basename" in calls


def test_lone_surrogates_in_string_literals_are_kept_escaped(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    # legal Python whose constants hold lone surrogates, which UTF-8 cannot carry
    (repo / "surrogates.py").write_text('"""doc \\udcff"""\nx = "\\ud800"\n__all__ = ["\\ud8f0"]\n')
    manifest = build(BuildOptions(repo=repo, out=tmp_path / "out", jobs=1))
    assert manifest.file_statuses == {"ok": 1}
    assert manifest.errors_by_layer == {}
    (doc,) = rows(tmp_path / "out", "ast_docstrings")
    assert doc["value"] == "doc \\udcff"
    assert [r["name"] for r in rows(tmp_path / "out", "ast_all")] == ["\\ud8f0"]
