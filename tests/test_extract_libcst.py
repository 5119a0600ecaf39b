"""The opt-in libcst layer on the fixture repository and on real stdlib files.

Expected values come from Python itself: ``ast`` positions for calls and definitions,
code objects' ``co_qualname`` for definition qualified names, and the raw bytes of the
fixtures for spans in latin-1 / BOM files.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import sysconfig
import types
from collections import Counter
from pathlib import Path
from typing import Any

import libcst
import pytest

from codeanatomy.extract.layer import LayerRows
from codeanatomy.extract.libcst_layer import LAYER
from codeanatomy.scan.discover import discover
from codeanatomy.scan.source import SourceDecodeError, SourceFile
from tests.evidence_checks import assert_all_spans_in_bounds, check_layer_rows, records
from tests.fixture_repos import GOOD_FILES, write_messy_repo

STDLIB = Path(sysconfig.get_path("stdlib"))
NAMED_STDLIB = ("functools.py", "argparse.py", "asyncio/tasks.py", "webbrowser.py")
QN_SOURCES = {"import", "local", "builtin"}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_messy_repo(tmp_path_factory.mktemp("messy"))


@pytest.fixture(scope="module")
def extracted(repo: Path) -> dict[str, tuple[SourceFile, LayerRows]]:
    out = {}
    for rel in GOOD_FILES:
        source = SourceFile(rel, (repo / rel).read_bytes())
        out[rel] = (source, LAYER.extract(source))
    return out


def _source(relpath: str, data: bytes) -> SourceFile:
    return SourceFile(relpath, data)


def _text(source: SourceFile, bstart: int, bend: int) -> str:
    codec = source.codec
    return source.data[bstart:bend].decode(codec)


def _qn(recs: list[dict[str, Any]], key: str, value: str) -> set[tuple[str | None, str | None]]:
    """(qualified name, source) pairs of the rows whose ``key`` column is ``value``."""
    qn_col = "callee_qualified_name" if "callee_text" in recs[0] else "qualified_name"
    return {(r[qn_col], r["qn_source"]) for r in recs if r[key] == value}


def _span(source: SourceFile, node: ast.expr | ast.stmt) -> tuple[int, int]:
    assert node.end_lineno is not None and node.end_col_offset is not None
    return (
        source.offset_of_utf8_col(node.lineno, node.col_offset),
        source.offset_of_utf8_col(node.end_lineno, node.end_col_offset),
    )


def _code_qualnames(source: SourceFile) -> Counter[str]:
    """``co_qualname`` of every function and class body CPython compiles from the file."""
    stack = [compile(source.python_ast(), source.relpath, "exec", dont_inherit=True)]
    found: Counter[str] = Counter()
    while stack:
        code = stack.pop()
        if not code.co_name.startswith("<"):
            found[code.co_qualname] += 1
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return found


def assert_spans_exact(source: SourceFile, rows: LayerRows) -> None:
    """Every span of every table is the source text of its construct, checked against ast."""
    check_layer_rows(LAYER, rows)
    for table in LAYER.table_names():
        assert_all_spans_in_bounds(records(LAYER, table, rows), source.size)
    tree = source.python_ast()
    nodes = list(ast.walk(tree))

    for rec in records(LAYER, "cst_names", rows):
        assert rec["qn_source"] in QN_SOURCES
        text = _text(source, rec["bstart"], rec["bend"])
        if rec["node_type"] == "Name":
            assert text == rec["name"], rec
        else:
            expr = ast.parse(f"({text}\n)", mode="eval").body
            assert isinstance(expr, ast.Attribute), rec
            assert ast.unparse(expr) == rec["name"], rec

    # Calls: the same spans as ast's Call nodes, and the callee re-parses to the same shape.
    ast_calls = {_span(source, n): ast.unparse(n.func) for n in nodes if isinstance(n, ast.Call)}
    cst_calls = records(LAYER, "cst_calls", rows)
    assert {(r["bstart"], r["bend"]) for r in cst_calls} == set(ast_calls)
    for rec in cst_calls:
        callee = ast.parse(f"({rec['callee_text']}\n)", mode="eval").body
        assert ast.unparse(callee) == ast_calls[rec["bstart"], rec["bend"]], rec
        # The callee's own parentheses are not part of it: `(lambda: 1)()` -> `lambda: 1`.
        assert rec["callee_text"] in _text(source, rec["bstart"], rec["bend"]), rec
        if rec["callee_qualified_name"] is None:
            assert rec["qn_source"] is None
        else:
            assert rec["qn_source"] in QN_SOURCES

    # Definitions: from the first decorator's '@' (or def/async/class) to ast's end.
    expected_defs = set()
    for node in nodes:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bstart, bend = _span(source, node)
            if node.decorator_list:
                first = _span(source, node.decorator_list[0])[0]
                bstart = source.data.rindex(b"@", 0, first)
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            expected_defs.add((kind, node.name, bstart, bend))
    cst_defs = records(LAYER, "cst_defs", rows)
    assert {(r["kind"], r["name"], r["bstart"], r["bend"]) for r in cst_defs} == expected_defs
    for rec in cst_defs:
        assert _text(source, rec["name_bstart"], rec["name_bend"]) == rec["name"], rec
    assert Counter(r["qualified_name"] for r in cst_defs) == _code_qualnames(source)


# ---- fixture repository --------------------------------------------------------------


def test_layer_is_opt_in_and_versioned() -> None:
    assert LAYER.name == "libcst"
    assert LAYER.default is False
    assert LAYER.needs_text is True
    assert LAYER.table_names() == ["cst_names", "cst_defs", "cst_calls"]
    assert LAYER.version() == f"libcst {libcst._version.__version__}"
    assert importlib.metadata.version("libcst") == libcst._version.__version__


def test_every_good_fixture_file_has_exact_spans(
    extracted: dict[str, tuple[SourceFile, LayerRows]],
) -> None:
    for source, rows in extracted.values():
        assert_spans_exact(source, rows)
    _, empty = extracted["empty.py"]
    assert all(rows == [] for rows in empty.values())


def test_imported_names_resolve_to_their_module(
    extracted: dict[str, tuple[SourceFile, LayerRows]],
) -> None:
    source, rows = extracted["pkg/core.py"]
    names = records(LAYER, "cst_names", rows)
    assert _qn(names, "name", "osp.basename") == {("os.path.basename", "import")}
    assert _qn(names, "name", "osp") == {("os.path", "import")}
    assert _qn(names, "name", "functools.wraps") == {("functools.wraps", "import")}
    assert _qn(names, "name", "Callable") == {("typing.Callable", "import")}
    (basename,) = [r for r in names if r["name"] == "osp.basename"]
    assert source.data[basename["bstart"] : basename["bend"]] == b"osp.basename"
    assert basename["node_type"] == "Attribute"

    calls = records(LAYER, "cst_calls", rows)
    assert _qn(calls, "callee_text", "osp.basename") == {("os.path.basename", "import")}
    assert _qn(calls, "callee_text", "functools.wraps") == {("functools.wraps", "import")}


def test_builtins_and_locals(extracted: dict[str, tuple[SourceFile, LayerRows]]) -> None:
    _, rows = extracted["pkg/core.py"]
    names = records(LAYER, "cst_names", rows)
    calls = records(LAYER, "cst_calls", rows)
    for builtin in ("len", "sorted", "sum", "range", "NotImplementedError"):
        assert _qn(names, "name", builtin) == {(f"builtins.{builtin}", "builtin")}
        assert _qn(calls, "callee_text", builtin) == {(f"builtins.{builtin}", "builtin")}
    assert _qn(calls, "callee_text", "make_adder") == {("make_adder", "local")}
    assert _qn(names, "name", "total") == {("Derived.run.<locals>.total", "local")}


def test_definitions_carry_python_qualified_names(
    extracted: dict[str, tuple[SourceFile, LayerRows]],
) -> None:
    source, rows = extracted["pkg/core.py"]
    defs = {r["qualified_name"]: r for r in records(LAYER, "cst_defs", rows)}
    assert set(defs) == set(_code_qualnames(source))
    assert {"Derived.run", "make_adder.<locals>.add", "trace.<locals>.wrapper"} <= set(defs)
    assert defs["Derived"]["kind"] == "class"
    assert defs["Derived.run"]["kind"] == "function"
    data = source.data
    run, add, fetch = defs["Derived.run"], defs["make_adder.<locals>.add"], defs["fetch"]
    assert data[run["bstart"] : run["bend"]].startswith(b"@trace\n    def run(self, n: int)")
    assert data[run["bstart"] : run["bend"]].endswith(b"return total + len(ordered)")
    assert data[add["bstart"] : add["bend"]] == b"def add(v: int) -> int:\n        return v + k"
    assert data[fetch["bstart"] : fetch["bend"]].startswith(b"async def fetch(")
    assert data[run["name_bstart"] : run["name_bend"]] == b"run"


def test_latin1_spans_are_raw_latin1_bytes(
    extracted: dict[str, tuple[SourceFile, LayerRows]],
) -> None:
    source, rows = extracted["latin1_cookie.py"]
    assert source.encoding == "iso8859-1"
    cafe = "café".encode("latin-1")
    names = records(LAYER, "cst_names", rows)
    spans = sorted((r["bstart"], r["bend"]) for r in names if r["name"] == "café")
    assert spans == [(m.start(), m.end()) for m in re.finditer(re.escape(cafe), source.data)]
    (define,) = records(LAYER, "cst_defs", rows)
    assert source.data[define["name_bstart"] : define["name_bend"]] == cafe
    (resultat,) = [r for r in names if r["name"] == "résultat"]
    assert source.data[resultat["bstart"] : resultat["bend"]] == "résultat".encode("latin-1")


def test_bom_spans_skip_the_bom(extracted: dict[str, tuple[SourceFile, LayerRows]]) -> None:
    source, rows = extracted["bom_utf8.py"]
    assert source.bom
    grosse = "größe".encode()
    names = records(LAYER, "cst_names", rows)
    spans = sorted((r["bstart"], r["bend"]) for r in names if r["name"] == "größe")
    assert spans == [(m.start(), m.end()) for m in re.finditer(re.escape(grosse), source.data)]
    ete = [r for r in names if r["name"] == "été"]
    assert [(r["bstart"], r["bend"]) for r in ete] == [(3, 3 + len("été".encode()))]
    defs = {r["name"]: r for r in records(LAYER, "cst_defs", rows)}
    arger = defs["Ärger"]
    assert source.data[arger["name_bstart"] : arger["name_bend"]] == "Ärger".encode()


# ---- LibCST regenerating code differently from the source -------------------------

REGENERATED = (
    "import os\n"
    "try:\n"
    "    os.getcwd()\n"
    "except (ValueError, KeyError) :\n"
    "    pass\n"
    "except OSError\t :\n"
    "    parts = os.sep.join([])\n"
    "café = len('-'.join(parts)) + open(os.devnull).fileno()\n"
    "def größe(x) :\n"
    "    return sorted(x)\n"
    "(lambda: größe)()\n"
)


@pytest.mark.parametrize(
    "data",
    [
        REGENERATED.encode(),
        b"\xef\xbb\xbf" + REGENERATED.encode(),
        b"# -*- coding: latin-1 -*-\n" + REGENERATED.encode("latin-1"),
    ],
    ids=["utf8", "bom", "latin1"],
)
def test_spans_survive_whitespace_libcst_drops(data: bytes) -> None:
    source = _source("regenerated.py", data)
    # Precondition: LibCST really drops the blanks before ':' of these handlers.
    assert libcst.parse_module(source.text).code != source.text
    rows = LAYER.extract(source)
    assert_spans_exact(source, rows)
    calls = records(LAYER, "cst_calls", rows)
    assert _qn(calls, "callee_text", "os.sep.join") == {("os.sep.join", "import")}
    assert _qn(calls, "callee_text", "sorted") == {("builtins.sorted", "builtin")}
    # Attributes of non-names get no invented qualified name ("builtins.None", "open.fileno").
    assert _qn(calls, "callee_text", "'-'.join") == {(None, None)}
    assert _qn(calls, "callee_text", "open(os.devnull).fileno") == {(None, None)}
    assert _qn(calls, "callee_text", "lambda: größe") == {(None, None)}
    names = {r["name"] for r in records(LAYER, "cst_names", rows)}
    assert "café" in names
    assert not {n for n in names if "join" in n or "fileno" in n} - {"os.sep.join"}


# ---- real stdlib files ---------------------------------------------------------------


def _stdlib_sample() -> list[str]:
    paths = sorted(discover(STDLIB, exclude=["test/", "tests/", "idle_test/"]).paths)
    stride = [p for p in paths[:: len(paths) // 12] if p not in NAMED_STDLIB][:12]
    return [*NAMED_STDLIB, *stride]


@pytest.mark.parametrize("relpath", _stdlib_sample())
def test_stdlib_spans_are_exact(relpath: str) -> None:
    source = _source(relpath, (STDLIB / relpath).read_bytes())
    rows = LAYER.extract(source)
    assert_spans_exact(source, rows)


def test_stdlib_imports_resolve() -> None:
    source = _source("functools.py", (STDLIB / "functools.py").read_bytes())
    calls = records(LAYER, "cst_calls", LAYER.extract(source))
    # functools.py: `from reprlib import recursive_repr`, `from _thread import RLock`.
    assert _qn(calls, "callee_text", "recursive_repr") == {("reprlib.recursive_repr", "import")}
    assert _qn(calls, "callee_text", "RLock") == {("_thread.RLock", "import")}


# ---- failures and laziness -------------------------------------------------------


@pytest.mark.parametrize(
    ("relpath", "error"),
    [
        ("broken_syntax.py", libcst.ParserSyntaxError),
        ("nul_byte.py", libcst.ParserSyntaxError),
        ("random_bytes.py", SourceDecodeError),
        ("deep_nesting.py", RecursionError),
    ],
)
def test_unparsable_files_raise(repo: Path, relpath: str, error: type[BaseException]) -> None:
    source = _source(relpath, (repo / relpath).read_bytes())
    with pytest.raises(error):
        LAYER.extract(source)


def _modules_after(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.strip()


def test_importing_the_layer_does_not_import_libcst() -> None:
    probe = (
        "import sys\n"
        "from codeanatomy.extract.libcst_layer import LAYER\n"
        "from codeanatomy.scan.source import SourceFile\n"
        "LAYER.version()\n"
        "print('libcst' in sys.modules)\n"
    )
    assert _modules_after(probe) == "False"
    # The same probe sees libcst once the layer actually runs.
    run = "LAYER.extract(SourceFile('a.py', b'x = 1\\n'))\n"
    assert _modules_after(probe + run + "print('libcst' in sys.modules)\n") == "False\nTrue"
