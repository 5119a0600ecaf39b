"""The tree_sitter layer: broken files stay in the graph, and every span is raw-byte exact.

Expected values come from the source itself or from independent oracles: ``ast`` for the
definitions, ``tokenize`` for comments and names, the fixture text for error lines.
"""

from __future__ import annotations

import ast
import io
import keyword
import sysconfig
import tokenize
from bisect import bisect_right
from collections import Counter
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from codeanatomy.extract.tree_sitter_layer import LAYER
from codeanatomy.scan.discover import discover
from codeanatomy.scan.source import SourceDecodeError, SourceFile
from tests import fixture_repos as fx
from tests.evidence_checks import assert_all_spans_in_bounds, check_layer_rows, records

STDLIB = Path(sysconfig.get_path("stdlib"))
NAMED_STDLIB = ("functools.py", "argparse.py", "asyncio/tasks.py")
# Words tree-sitter-python treats as keywords where tokenize sees a NAME: the
# `from __future__` module, and `type` (the grammar reads `type(x).a = b` as a PEP 695
# alias statement).
TS_KEYWORD_NAMES = frozenset({"__future__", "type"})


@cache
def _stdlib_sample() -> tuple[str, ...]:
    paths = sorted(discover(STDLIB, exclude=["test/", "tests/", "idle_test/"]).paths)
    stride = max(1, len(paths) // 30)
    return tuple(dict.fromkeys([*NAMED_STDLIB, *paths[::stride]]))


def _extract(relpath: str, data: bytes) -> tuple[SourceFile, dict[str, list[dict[str, Any]]]]:
    source = SourceFile(relpath, data)
    rows = LAYER.extract(source)
    check_layer_rows(LAYER, rows)
    tables = {name: records(LAYER, name, rows) for name in LAYER.table_names()}
    for recs in tables.values():
        assert_all_spans_in_bounds(recs, len(data))
        assert all(rec["file_id"] == source.file_id for rec in recs)
    return source, tables


def _text(source: SourceFile, bstart: int, bend: int) -> str:
    """A span's text: strictly decoded when the file decodes, else UTF-8 with replacement."""
    raw = source.data[bstart:bend]
    try:
        source.text  # noqa: B018  # raises when the file does not decode
    except SourceDecodeError:
        return raw.decode("utf-8", errors="replace")
    return raw.decode(source.codec)


def _ast_defs(source: SourceFile) -> list[tuple[str, str, str, bool, str | None, int]]:
    """(kind, qualname, name, is_method, parent qualname, bstart) of every ast definition."""
    out = []
    stack: list[tuple[ast.AST, ast.AST | None, str]] = [(source.python_ast(), None, "")]
    while stack:
        node, owner, prefix = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                kind = {
                    ast.ClassDef: "class",
                    ast.FunctionDef: "function",
                    ast.AsyncFunctionDef: "async_function",
                }[type(child)]
                qualname = prefix + child.name
                is_method = isinstance(owner, ast.ClassDef) and kind != "class"
                parent = prefix[:-1] or None
                start = source.offset_of_utf8_col(child.lineno, child.col_offset)
                out.append((kind, qualname, child.name, is_method, parent, start))
                stack.append((child, child, qualname + "."))
            else:
                stack.append((child, owner, prefix))
    return out


def _ts_defs(tables: dict[str, list[dict[str, Any]]]) -> list[tuple[Any, ...]]:
    by_idx = {d["node_idx"]: d for d in tables["ts_defs"]}
    return [
        (
            d["kind"], d["qualname"], d["name"], d["is_method"],
            None if d["parent_def_idx"] is None else by_idx[d["parent_def_idx"]]["qualname"],
            d["bstart"],
        )
        for d in tables["ts_defs"]
    ]  # fmt: skip


def _check_tree_structure(source: SourceFile, nodes: list[dict[str, Any]]) -> None:
    assert nodes, "every file has at least its module node"
    assert [n["node_idx"] for n in nodes] == list(range(len(nodes)))
    root = nodes[0]
    assert root["parent_idx"] is None and root["child_index"] is None
    assert root["node_type"] == ("ERROR" if root["is_error"] else "module")
    next_child: Counter[int] = Counter()
    for node in nodes[1:]:
        parent = nodes[node["parent_idx"]]
        assert parent["node_idx"] < node["node_idx"]
        assert parent["bstart"] <= node["bstart"] <= node["bend"] <= parent["bend"]
        assert node["child_index"] == next_child[parent["node_idx"]]
        next_child[parent["node_idx"]] += 1
        if node["has_error"] and not (node["is_error"] or node["is_missing"]):
            assert parent["has_error"]
    for node in nodes:
        if node["node_type"] == "identifier":
            assert _text(source, node["bstart"], node["bend"]) == node["name"]
        elif node["node_type"] not in ("function_definition", "class_definition"):
            assert node["name"] is None


def _check_defs_against_nodes(source: SourceFile, tables: dict[str, list[dict[str, Any]]]) -> None:
    nodes = tables["ts_nodes"]
    for d in tables["ts_defs"]:
        node = nodes[d["node_idx"]]
        expected_type = "class_definition" if d["kind"] == "class" else "function_definition"
        assert node["node_type"] == expected_type
        assert (node["bstart"], node["bend"], node["name"]) == (d["bstart"], d["bend"], d["name"])
        assert _text(source, d["name_bstart"], d["name_bend"]) == d["name"]
        name_nodes = [n for n in nodes if n["parent_idx"] == d["node_idx"] and n["field"] == "name"]
        assert [(n["bstart"], n["bend"]) for n in name_nodes] == [
            (d["name_bstart"], d["name_bend"])
        ]
        if d["decorated_bstart"] is not None:
            assert source.data[d["decorated_bstart"] : d["decorated_bstart"] + 1] == b"@"
            assert nodes[node["parent_idx"]]["node_type"] == "decorated_definition"
            assert nodes[node["parent_idx"]]["bstart"] == d["decorated_bstart"]


# ---- layer contract --------------------------------------------------------------------


def test_layer_declaration() -> None:
    assert LAYER.name == "tree_sitter"
    assert LAYER.needs_text is False
    assert LAYER.default is True
    assert set(LAYER.table_names()) == {"ts_nodes", "ts_errors", "ts_comments", "ts_defs"}
    for spec in LAYER.tables:
        assert spec.columns[0] == "file_id"
    assert LAYER.version() == (
        f"tree-sitter {version('tree-sitter')} / tree-sitter-python {version('tree-sitter-python')}"
    )


# ---- the fixture repository ------------------------------------------------------------


@pytest.mark.parametrize("relpath", fx.GOOD_FILES + fx.BAD_FILES)
def test_every_fixture_file_parses_with_consistent_rows(messy_repo: Path, relpath: str) -> None:
    source, tables = _extract(relpath, (messy_repo / relpath).read_bytes())
    _check_tree_structure(source, tables["ts_nodes"])
    _check_defs_against_nodes(source, tables)
    root = tables["ts_nodes"][0]
    assert root["bend"] == len(source.data)
    if relpath in fx.GOOD_FILES:
        assert tables["ts_errors"] == []
        assert not any(n["has_error"] for n in tables["ts_nodes"])
        assert sorted(_ts_defs(tables), key=lambda d: d[-1]) == sorted(
            _ast_defs(source), key=lambda d: d[-1]
        )


def test_syntax_error_is_located_and_definitions_survive(messy_repo: Path) -> None:
    data = (messy_repo / "broken_syntax.py").read_bytes()
    source, tables = _extract("broken_syntax.py", data)
    lines = data.decode().splitlines()
    broken_line = lines.index("    def method(self:") + 1
    assert broken_line == 6
    errors = tables["ts_errors"]
    assert any(e["line"] == broken_line for e in errors), errors
    for err in errors:
        assert source.line_of_offset(err["bstart"]) == err["line"]
        assert err["bstart"] - source.line_starts[err["line"] - 1] == err["col"]
        if err["kind"] == "error":
            assert err["text"] == data[err["bstart"] : err["bend"]].decode()
    nodes = tables["ts_nodes"]
    assert nodes[0]["has_error"]
    error_nodes = [n for n in nodes if n["is_error"]]
    assert [(n["node_idx"], n["bstart"], n["bend"]) for n in error_nodes] == [
        (e["node_idx"], e["bstart"], e["bend"]) for e in errors if e["kind"] == "error"
    ]
    defs = {d["name"]: d for d in tables["ts_defs"]}
    assert {"fine", "Broken", "after"} <= set(defs)
    for name, keyword_ in (("fine", "def"), ("Broken", "class"), ("after", "def")):
        d = defs[name]
        line = next(i for i, text in enumerate(lines, 1) if text.startswith(f"{keyword_} {name}"))
        expected_start = source.line_starts[line - 1] + len(keyword_) + 1
        assert (d["name_bstart"], d["name_bend"]) == (expected_start, expected_start + len(name))
        assert data[d["name_bstart"] : d["name_bend"]] == name.encode()
        assert d["qualname"] == name and d["parent_def_idx"] is None
    # `Broken` holds the error region; the definitions around it do not.
    assert defs["Broken"]["in_error"] is True
    assert defs["fine"]["in_error"] is False and defs["after"]["in_error"] is False
    assert (defs["fine"]["kind"], defs["Broken"]["kind"], defs["after"]["kind"]) == (
        "function", "class", "function",
    )  # fmt: skip


def test_in_error_marks_definitions_next_to_an_error_region() -> None:
    data = b"def a(): pass\ndef g(): pass\n$$\ndef k(): pass\ndef z(): pass\n"
    _, tables = _extract("adjacent.py", data)
    (region,) = {(e["bstart"], e["bend"]) for e in tables["ts_errors"]}
    assert data[region[0] : region[1]] == b"$$"
    flags = {d["name"]: d["in_error"] for d in tables["ts_defs"]}
    assert flags == {"a": False, "g": True, "k": True, "z": False}


def test_random_bytes_do_not_crash_and_report_errors(messy_repo: Path) -> None:
    data = (messy_repo / "random_bytes.py").read_bytes()
    source, tables = _extract("random_bytes.py", data)
    assert tables["ts_errors"]
    assert {e["kind"] for e in tables["ts_errors"]} <= {"error", "missing"}
    for err in tables["ts_errors"]:
        node = tables["ts_nodes"][err["node_idx"]]
        assert (node["bstart"], node["bend"]) == (err["bstart"], err["bend"])
        assert node["is_error"] == (err["kind"] == "error")
        assert node["is_missing"] == (err["kind"] == "missing")
        assert source.line_of_offset(err["bstart"]) == err["line"]
    _check_tree_structure(source, tables["ts_nodes"])


def test_nul_byte_is_an_error_at_its_position(messy_repo: Path) -> None:
    data = (messy_repo / "nul_byte.py").read_bytes()
    _, tables = _extract("nul_byte.py", data)
    nul = data.index(b"\x00")
    assert any(e["bstart"] <= nul < e["bend"] and e["line"] == 2 for e in tables["ts_errors"]), (
        tables["ts_errors"]
    )


def test_deep_nesting_is_parsed_to_the_bottom(messy_repo: Path) -> None:
    data = (messy_repo / "deep_nesting.py").read_bytes()
    source, tables = _extract("deep_nesting.py", data)
    nodes = tables["ts_nodes"]
    assert (nodes[0]["bstart"], nodes[0]["bend"]) == (0, len(data))
    assert tables["ts_errors"] == []
    operators = [n for n in nodes if n["node_type"] == "binary_operator"]
    assert len(operators) == fx.DEEP_NESTING_DEPTH
    # the innermost operand is `1 + 1` right after `value = `: the chain is 3000 deep
    innermost = max(operators, key=lambda n: n["node_idx"])
    assert data[innermost["bstart"] : innermost["bend"]] == b"1 + 1"
    depth, idx = 0, innermost["node_idx"]
    while nodes[idx]["parent_idx"] is not None:
        idx = nodes[idx]["parent_idx"]
        depth += 1
    assert depth >= fx.DEEP_NESTING_DEPTH
    ints = [n for n in nodes if n["node_type"] == "integer"]
    assert len(ints) == fx.DEEP_NESTING_DEPTH + 1
    assert all(data[n["bstart"] : n["bend"]] == b"1" for n in ints)
    _check_tree_structure(source, nodes)


def _tokenize_comments(source: SourceFile) -> set[tuple[int, int, int, str]]:
    """(bstart, bend, line, text) of every COMMENT token, positions via the char columns."""
    out = set()
    for tok in tokenize.tokenize(io.BytesIO(source.data).readline):
        if tok.type == tokenize.COMMENT:
            start = source.offset_of_char_col(*tok.start)
            end = source.offset_of_char_col(*tok.end)
            out.add((start, end, tok.start[0], tok.string))
    return out


def _ts_comments(tables: dict[str, list[dict[str, Any]]]) -> set[tuple[int, int, int, str]]:
    return {(c["bstart"], c["bend"], c["line"], c["text"]) for c in tables["ts_comments"]}


@pytest.mark.parametrize("relpath", [p for p in fx.GOOD_FILES if p != "empty.py"])
def test_fixture_comments_match_tokenize(messy_repo: Path, relpath: str) -> None:
    source, tables = _extract(relpath, (messy_repo / relpath).read_bytes())
    assert _ts_comments(tables) == _tokenize_comments(source)
    for c in tables["ts_comments"]:
        assert tables["ts_nodes"][c["node_idx"]]["node_type"] == "comment"
        assert _text(source, c["bstart"], c["bend"]) == c["text"]


def test_named_comments_have_exact_spans(messy_repo: Path) -> None:
    core = (messy_repo / "pkg/core.py").read_bytes()
    _, tables = _extract("pkg/core.py", core)
    expected_line = next(
        i for i, line in enumerate(fx.PKG_CORE.splitlines(), 1) if "noqa: E731" in line
    )
    (noqa,) = [c for c in tables["ts_comments"] if "E731" in c["text"]]
    assert noqa["text"] == "# noqa: E731"
    assert noqa["line"] == expected_line
    assert core[noqa["bstart"] : noqa["bend"]] == b"# noqa: E731"

    bom = (messy_repo / "bom_utf8.py").read_bytes()
    _, tables = _extract("bom_utf8.py", bom)
    (emoji,) = tables["ts_comments"]
    expected = "# \U0001f600 emoji"
    assert emoji["text"] == expected
    assert bom[emoji["bstart"] : emoji["bend"]].decode("utf-8") == expected
    assert emoji["bstart"] == bom.index(expected.encode("utf-8"))
    assert emoji["line"] == 3
    # the module node starts after the BOM, whose bytes belong to no node
    assert tables["ts_nodes"][0]["bstart"] == 3


def test_latin1_spans_are_raw_latin1_bytes(messy_repo: Path) -> None:
    data = (messy_repo / "latin1_cookie.py").read_bytes()
    _, tables = _extract("latin1_cookie.py", data)
    assert tables["ts_errors"] == []
    (cafe,) = tables["ts_defs"]
    assert cafe["name"] == "café"
    assert data[cafe["name_bstart"] : cafe["name_bend"]] == "café".encode("latin-1")
    assert cafe["name_bstart"] == data.index("def café".encode("latin-1")) + len(b"def ")
    identifiers = [n for n in tables["ts_nodes"] if n["node_type"] == "identifier"]
    assert Counter(n["name"] for n in identifiers) == Counter(
        {"café": 3, "naïve": 2, "s": 2, "y": 1, "résultat": 1}
    )
    for node in identifiers:
        assert data[node["bstart"] : node["bend"]].decode("latin-1") == node["name"]
    strings = [n for n in tables["ts_nodes"] if n["node_type"] == "string"]
    assert {data[n["bstart"] : n["bend"]].decode("latin-1") for n in strings} == {
        '"""Module déjà encodé en latin-1."""', "'crème'", "'éé'",
    }  # fmt: skip


def test_other_single_byte_codec_is_mapped_back() -> None:
    text = "# coding: cp1252\nprix = '5 €'  # en € — cher\ndef coût(x): return x\n"
    data = text.encode("cp1252")
    source, tables = _extract("cp1252.py", data)
    assert tables["ts_errors"] == []
    assert _ts_comments(tables) == _tokenize_comments(source)
    (cout,) = tables["ts_defs"]
    assert data[cout["name_bstart"] : cout["name_bend"]] == "coût".encode("cp1252")
    assert cout["bend"] == len(data) - 1


def test_errors_in_a_transcoded_file_point_at_raw_bytes() -> None:
    text = "# -*- coding: latin-1 -*-\ns = 'àé'\ndef façade(:\n    return 'ü'\n"
    data = text.encode("latin-1")
    source, tables = _extract("broken_latin1.py", data)
    assert tables["ts_errors"]
    broken_line = text.splitlines().index("def façade(:") + 1
    assert any(e["line"] == broken_line for e in tables["ts_errors"])
    for err in tables["ts_errors"]:
        assert err["bstart"] - source.line_starts[err["line"] - 1] == err["col"]
        if err["kind"] == "error":
            assert data[err["bstart"] : err["bend"]].decode("latin-1") == err["text"]
    _check_tree_structure(source, tables["ts_nodes"])
    (name,) = [
        n for n in tables["ts_nodes"] if n["node_type"] == "identifier" and n["name"] == "façade"
    ]
    assert data[name["bstart"] : name["bend"]] == "façade".encode("latin-1")


def test_undecodable_and_unknown_encodings_parse_the_raw_bytes() -> None:
    bad_utf8 = b"def ok():\n    return '\xff\xfe'\n"
    _, tables = _extract("bad.py", bad_utf8)
    (ok,) = tables["ts_defs"]
    assert bad_utf8[ok["name_bstart"] : ok["name_bend"]] == b"ok"
    strings = [n for n in tables["ts_nodes"] if n["node_type"] == "string"]
    assert [bad_utf8[n["bstart"] : n["bend"]] for n in strings] == [b"'\xff\xfe'"]

    unknown = b"# coding: no-such-codec\nx\xe9 = 1\ndef g(): pass\n"
    _, tables = _extract("unknown.py", unknown)
    assert [d["name"] for d in tables["ts_defs"]] == ["g"]
    assert tables["ts_errors"], "the raw \\xe9 byte is not UTF-8, tree-sitter flags it"


def test_missing_token_is_reported_with_its_type() -> None:
    data = b"def f(:\n    pass\n"
    source, tables = _extract("missing.py", data)
    where = data.index(b"(:") + 1  # the `)` the parameter list lacks, before the colon
    columns = ("kind", "bstart", "bend", "line", "col", "text")
    found = [tuple(e[c] for c in columns) for e in tables["ts_errors"]]
    assert found == [("missing", where, where, 1, where, ")")]
    (err,) = tables["ts_errors"]
    node = tables["ts_nodes"][err["node_idx"]]
    assert (node["node_type"], node["is_missing"], node["is_error"]) == (")", True, False)
    assert tables["ts_nodes"][node["parent_idx"]]["node_type"] == "parameters"
    assert all(tables["ts_nodes"][i]["has_error"] for i in (0, node["parent_idx"]))
    (f,) = tables["ts_defs"]
    assert (f["name"], f["in_error"]) == ("f", True)
    _check_tree_structure(source, tables["ts_nodes"])


def test_syntax_newer_than_the_interpreter() -> None:
    data = (
        b"type Alias = list[int]\n"
        b"def first[T](items: list[T]) -> T:\n"
        b"    return items[0]\n"
        b"class Box[T]:\n"
        b"    def get[U](self, other: U) -> T | U: ...\n"
    )
    _, tables = _extract("pep695.py", data)
    assert tables["ts_errors"] == []
    assert {(d["kind"], d["qualname"], d["is_method"]) for d in tables["ts_defs"]} == {
        ("function", "first", False), ("class", "Box", False), ("function", "Box.get", True),
    }  # fmt: skip
    types = {n["node_type"] for n in tables["ts_nodes"]}
    assert {"type_alias_statement", "type_parameter"} <= types


def test_async_and_decorated_definitions(messy_repo: Path) -> None:
    data = (messy_repo / "pkg/core.py").read_bytes()
    _, tables = _extract("pkg/core.py", data)
    defs = {d["qualname"]: d for d in tables["ts_defs"]}
    assert defs["fetch"]["kind"] == defs["stream"]["kind"] == "async_function"
    assert data[defs["fetch"]["bstart"] :].startswith(b"async def fetch(")
    decorated = (
        ("trace.wrapper", b"@functools.wraps"),
        ("Base.label", b"@property"),
        ("Base.helper", b"@staticmethod"),
        ("Derived.run", b"@trace"),
    )
    for qualname, decorator in decorated:
        d = defs[qualname]
        assert data[d["decorated_bstart"] :].startswith(decorator)
        assert data[d["bstart"] :].startswith(b"def ")
    assert defs["Base.__init__"]["decorated_bstart"] is None
    assert defs["make_adder.add"]["parent_def_idx"] == defs["make_adder"]["node_idx"]
    assert defs["make_adder.add"]["is_method"] is False
    assert defs["Base.__init__"]["is_method"] is True


# ---- real code: the standard library sample --------------------------------------------


@pytest.mark.parametrize("relpath", _stdlib_sample())
def test_stdlib_definitions_match_ast(relpath: str) -> None:
    source, tables = _extract(relpath, (STDLIB / relpath).read_bytes())
    assert tables["ts_errors"] == []
    assert Counter(_ts_defs(tables)) == Counter(_ast_defs(source))
    assert not any(d["in_error"] for d in tables["ts_defs"])
    _check_defs_against_nodes(source, tables)
    _check_tree_structure(source, tables["ts_nodes"])


@pytest.mark.parametrize("relpath", _stdlib_sample())
def test_stdlib_comments_and_names_match_tokenize(relpath: str) -> None:
    source, tables = _extract(relpath, (STDLIB / relpath).read_bytes())
    assert _ts_comments(tables) == _tokenize_comments(source)

    tokens = list(tokenize.tokenize(io.BytesIO(source.data).readline))

    def span(tok: tokenize.TokenInfo) -> tuple[int, int]:
        return source.offset_of_char_col(*tok.start), source.offset_of_char_col(*tok.end)

    names = {
        span(t) for t in tokens
        if t.type == tokenize.NAME and not keyword.iskeyword(t.string)
        and not keyword.issoftkeyword(t.string) and t.string not in TS_KEYWORD_NAMES
    }  # fmt: skip
    strings = sorted(span(t) for t in tokens if t.type == tokenize.STRING)
    string_starts = [s for s, _ in strings]

    def inside_string(bstart: int, bend: int) -> bool:  # f-string replacement fields
        i = bisect_right(string_starts, bstart) - 1
        return i >= 0 and strings[i][0] <= bstart and bend <= strings[i][1]

    identifiers = {
        (n["bstart"], n["bend"]) for n in tables["ts_nodes"] if n["node_type"] == "identifier"
    }
    assert names <= identifiers
    for bstart, bend in identifiers - names:
        assert inside_string(bstart, bend) or _text(source, bstart, bend) in (
            *keyword.softkwlist, *TS_KEYWORD_NAMES,
        )  # fmt: skip
