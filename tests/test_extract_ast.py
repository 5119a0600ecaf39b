"""The ``ast`` layer on the fixture repository and on real stdlib files.

Expected values come from the source text and from Python's own ``ast``/``inspect``
semantics, never from the layer's output: spans are checked by decoding the raw bytes
they cover (and re-parsing them), node numbering against an independent traversal.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import sys
from functools import cache
from typing import Any

import pytest

from codeanatomy.extract.ast_layer import LAYER
from codeanatomy.extract.layer import LayerRows
from codeanatomy.scan.discover import discover
from codeanatomy.scan.source import SourceDecodeError, SourceFile
from tests import fixture_repos as fx
from tests.evidence_checks import (
    STDLIB,
    assert_all_spans_in_bounds,
    check_layer_rows,
    extract,
    extract_fixture,
    extract_stdlib,
    fixture_files,
    records,
)

NAMED_STDLIB = ("functools.py", "argparse.py", "asyncio/tasks.py")
SAMPLE_SIZE = 30
STMT_TYPES = frozenset(c.__name__ for c in ast.stmt.__subclasses__())
PATTERN_TYPES = frozenset(c.__name__ for c in ast.pattern.__subclasses__())
FOLDED = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop)
IN_FSTRING = frozenset({"Constant", "FormattedValue", "JoinedStr"})


@cache
def stdlib_sample() -> tuple[str, ...]:
    paths = sorted(discover(STDLIB, exclude=["test/", "tests/", "idle_test/"]).paths)
    stride = len(paths) // SAMPLE_SIZE
    return tuple(dict.fromkeys([*NAMED_STDLIB, *paths[::stride]]))


def fixture(relpath: str) -> tuple[SourceFile, LayerRows]:
    return extract_fixture(LAYER, relpath)


def stdlib(relpath: str) -> tuple[SourceFile, LayerRows]:
    return extract_stdlib(LAYER, relpath)


def text(source: SourceFile, bstart: int, bend: int) -> str:
    return source.span_text(bstart, bend)


def recs(rows: LayerRows, table: str) -> list[dict[str, Any]]:
    return records(LAYER, table, rows)


def by_idx(rows: LayerRows) -> dict[int, dict[str, Any]]:
    return {r["node_idx"]: r for r in recs(rows, "ast_nodes")}


def one(items: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [r for r in items if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, found)
    return found[0]


def defs_by_qualname(rows: LayerRows) -> dict[str, dict[str, Any]]:
    return {r["qualname"]: r for r in recs(rows, "ast_defs")}


# ---- contract -----------------------------------------------------------------------------


def test_layer_declaration() -> None:
    assert LAYER.name == "ast"
    assert LAYER.needs_text and LAYER.default
    major, minor, micro = sys.version_info[:3]
    assert LAYER.version() == f"{major}.{minor}.{micro}"
    assert all(name.startswith("ast_") for name in LAYER.table_names())
    for spec in LAYER.tables:
        assert spec.columns[0] == "file_id"


@pytest.mark.parametrize("relpath", fx.GOOD_FILES)
def test_fixture_rows_are_valid(relpath: str) -> None:
    source, rows = fixture(relpath)
    check_layer_rows(LAYER, rows)
    for table in LAYER.table_names():
        assert all(row[0] == source.file_id for row in rows[table])
        assert_all_spans_in_bounds(recs(rows, table), source.size)


@pytest.mark.parametrize(
    ("relpath", "errors"),
    [
        ("broken_syntax.py", SyntaxError),
        ("random_bytes.py", (SourceDecodeError, SyntaxError)),
        ("nul_byte.py", (SyntaxError, ValueError)),
        ("deep_nesting.py", RecursionError),
    ],
)
def test_bad_files_raise(relpath: str, errors: Any) -> None:
    with pytest.raises(errors):
        fixture(relpath)


def test_empty_file_is_just_a_module() -> None:
    _, rows = fixture("empty.py")
    assert [
        (r["node_idx"], r["ast_type"], r["bstart"], r["bend"]) for r in recs(rows, "ast_nodes")
    ] == [(0, "Module", 0, 0)]
    assert all(not rows[t] for t in LAYER.table_names() if t != "ast_nodes")


# ---- numbering and spans against an independent traversal ---------------------------------


Expected = tuple[Any, Any, str | None, int | None]  # node, parent index, field, list index


def expected_nodes(tree: ast.AST) -> list[Expected]:
    """Pre-order (node, parent index, field, list index), operators and contexts left out."""
    out: list[Expected] = []
    todo: list[Expected] = [(tree, None, None, None)]
    while todo:
        node, parent, field, index = todo.pop()
        me = len(out)
        out.append((node, parent, field, index))
        children = []
        for name, value in ast.iter_fields(node):
            items = enumerate(value) if isinstance(value, list) else [(None, value)]
            children += [
                (c, me, name, i)
                for i, c in items
                if isinstance(c, ast.AST) and not isinstance(c, FOLDED)
            ]
        todo.extend(reversed(children))
    return out


SNIPPET = b"""\
import os
__all__ = ["a"]
__all__ += ("b",)
__all__.extend(["c"] + ["d"])
__all__.append("e")
a, (b, *c) = x.y = f()
if (n := len(a)) > 1:
    pass
counter = 0
def outer():
    v = 1
    def inner():
        nonlocal v
        global counter
        v += 1
    return inner
s = f"{a, b!r} and {x for x in c}" + m[1:2, ::3]
obj.attr[0] = lambda q: (yield q)
@ (
    deco
)
def spaced(): ...
class K:
    go = lambda self: 1
"""

# Grammar corners the fixture lacks: continuation lines inside def headers, match
# statements, except*, nested and implicitly concatenated f-strings, non-ASCII columns.
SYNTAX_CORNERS = """\
def \\
  spaced_def(): pass
async \\
 def spaced_async(): pass
x = a.\\
  b
match point:
    case [1, *rest] | {"k": v, **kw} if v:
        pass
    case Point(x=0) as q:
        pass
    case _:
        pass
try:
    pass
except* ValueError as e:
    pass
s = f"é{y}ü{z!r}" f"{f'{w}'}" + (f"a"
     f"{b:{c}}") + f"{d=}" + rf"\\d{e}"
t = f\"\"\"
  {g +
 h}
\"\"\"
""".encode()


def corpus() -> list[tuple[str, bytes]]:
    files = fixture_files()
    good = [(rel, files[rel]) for rel in fx.GOOD_FILES]
    good += [("snippet.py", SNIPPET), ("syntax_corners.py", SYNTAX_CORNERS)]
    return good + [(rel, (STDLIB / rel).read_bytes()) for rel in stdlib_sample()]


@pytest.mark.parametrize(("relpath", "data"), corpus(), ids=[r for r, _ in corpus()])
def test_nodes_follow_the_tree_and_the_span_converter(relpath: str, data: bytes) -> None:
    source, rows = extract(LAYER, relpath, data)
    got = recs(rows, "ast_nodes")
    expected = expected_nodes(source.python_ast())
    assert len(got) == len(expected)
    inside_fstring: set[int] = set()
    for i, (rec, (node, parent, field, index)) in enumerate(zip(got, expected, strict=True)):
        assert rec["node_idx"] == i
        assert (rec["ast_type"], rec["parent_idx"], rec["field"], rec["child_index"]) == (
            type(node).__name__,
            parent,
            field,
            index,
        )
        if parent is not None and (
            expected[parent][0].__class__ is ast.JoinedStr or field == "format_spec"
        ):
            inside_fstring.add(i)
        if isinstance(node, ast.Module):
            assert (rec["bstart"], rec["bend"]) == (3 if source.bom else 0, len(data))
        elif i in inside_fstring:
            assert type(node).__name__ in IN_FSTRING
            assert rec["bstart"] is None
        elif hasattr(node, "col_offset"):
            if (
                isinstance(node, ast.Tuple | ast.GeneratorExp)
                and rec["field"] == "value"
                and isinstance(expected[parent][0], ast.FormattedValue)
            ):
                continue  # see test_snippet_fstring_tuple_span_drops_the_braces
            assert rec["bstart"] == source.offset_of_utf8_col(node.lineno, node.col_offset)
            assert rec["bend"] == source.offset_of_utf8_col(node.end_lineno, node.end_col_offset)
        else:
            assert rec["bstart"] is None and rec["bend"] is None


def line_prefix(source: SourceFile, bstart: int) -> str:
    """Text between the start of ``bstart``'s line and ``bstart``."""
    line_start = source.line_starts[source.line_of_offset(bstart) - 1]
    if line_start == 0 and source.bom:
        line_start = 3
    return text(source, line_start, bstart)


def parse_statement(source: SourceFile, bstart: int, bend: int) -> ast.stmt:
    """The statement spanning ``bstart:bend``, re-parsed at its original indentation."""
    indent = "".join(ch if ch in " \t" else " " for ch in line_prefix(source, bstart))
    snippet = text(source, bstart, bend)
    if not indent:
        return ast.parse(snippet).body[0]
    block: Any = ast.parse("if 1:\n" + indent + snippet).body[0]
    return block.body[0]  # type: ignore[no-any-return]


def reparsed_type(kind: str, snippet: str, prefix: str, field: str | None) -> str:
    """Type of the node ``snippet`` parses to, in a context where ``kind`` is valid."""
    indent = "".join(ch if ch in " \t" else " " for ch in prefix)
    if kind in STMT_TYPES:
        if snippet.startswith("elif"):
            snippet = snippet[2:]
        if not indent:
            return type(ast.parse(snippet).body[0]).__name__
        return type(ast.parse("if 1:\n" + indent + snippet).body[0].body[0]).__name__  # type: ignore[attr-defined]
    if kind == "ExceptHandler":
        src = "try:\n pass\n" + snippet
        if indent:
            src = "if 1:\n" + indent + "try:\n" + indent + " pass\n" + indent + snippet
        tree: Any = ast.parse(src).body[0]
        return type((tree.body[0] if indent else tree).handlers[0]).__name__
    if kind == "MatchStar":
        match = ast.parse(f"match x:\n case [{snippet}]:\n  pass").body[0]
        return type(match.cases[0].pattern.patterns[0]).__name__  # type: ignore[attr-defined]
    if kind in PATTERN_TYPES:
        match = ast.parse(f"match x:\n case {snippet}:\n  pass").body[0]
        return type(match.cases[0].pattern).__name__  # type: ignore[attr-defined]
    if kind == "arg":
        args = ast.parse(f"def f({snippet}): pass").body[0].args  # type: ignore[attr-defined]
        return type((args.args or [args.vararg])[0]).__name__
    if kind == "keyword":
        call = ast.parse(f"f({snippet})", mode="eval").body
        return type(call.keywords[0]).__name__  # type: ignore[attr-defined]
    if kind == "alias":
        stmt = "import " if "." in snippet.split(" as ")[0] else "from x import "
        return type(ast.parse(stmt + snippet).body[0].names[0]).__name__  # type: ignore[attr-defined]
    if kind == "Starred":
        return type(ast.parse(f"[{snippet}]", mode="eval").body.elts[0]).__name__  # type: ignore[attr-defined]
    if kind == "Slice" or field == "slice":  # a subscript may hold slices in a tuple
        return type(ast.parse(f"x[{snippet}]", mode="eval").body.slice).__name__  # type: ignore[attr-defined]
    return type(ast.parse(f"({snippet}\n)", mode="eval").body).__name__


@pytest.mark.parametrize(("relpath", "data"), corpus(), ids=[r for r, _ in corpus()])
def test_every_node_span_reparses_to_its_type(relpath: str, data: bytes) -> None:
    source, rows = extract(LAYER, relpath, data)
    for rec in recs(rows, "ast_nodes"):
        if rec["bstart"] is None or rec["ast_type"] == "Module":
            continue
        snippet = text(source, rec["bstart"], rec["bend"])
        prefix = line_prefix(source, rec["bstart"])
        kind = rec["ast_type"]
        assert reparsed_type(kind, snippet, prefix, rec["field"]) == kind, (rec, snippet)


# ---- span fidelity of named constructs ----------------------------------------------------


@pytest.mark.parametrize(("relpath", "data"), corpus(), ids=[r for r, _ in corpus()])
def test_named_construct_spans(relpath: str, data: bytes) -> None:
    source, rows = extract(LAYER, relpath, data)
    check_layer_rows(LAYER, rows)
    tree = source.python_ast()
    for rec in recs(rows, "ast_names"):
        assert text(source, rec["bstart"], rec["bend"]) == rec["name"]
    for rec in recs(rows, "ast_attributes"):
        assert text(source, rec["attr_bstart"], rec["attr_bend"]) == rec["attr"]
        assert rec["attr_bend"] == rec["bend"]
        whole = text(source, rec["bstart"], rec["bend"])
        assert isinstance(ast.parse(f"({whole}\n)", mode="eval").body, ast.Attribute)
    nodes = by_idx(rows)
    for rec in recs(rows, "ast_defs"):
        if rec["kind"] == "lambda":
            assert text(source, rec["bstart"], rec["bend"]).startswith("lambda")
            continue
        assert text(source, rec["name_bstart"], rec["name_bend"]) == rec["name"]
        full = text(source, rec["bstart"], rec["bend"])
        assert full.startswith("@" if rec["decorator_count"] else ("async", "def", "class"))
        node = nodes[rec["node_idx"]]
        assert (rec["bend"], rec["lineno"]) == (node["bend"], source.line_of_offset(node["bstart"]))
        parsed = parse_statement(source, rec["bstart"], rec["bend"])
        assert isinstance(parsed, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        assert len(parsed.decorator_list) == rec["decorator_count"]
    for rec in recs(rows, "ast_imports"):
        name, _, asname = text(source, rec["bstart"], rec["bend"]).partition(" as ")
        assert (name, asname or None) == (rec["name"], rec["asname"])
    for rec in recs(rows, "ast_params"):
        assert text(source, rec["bstart"], rec["bend"]).split(":")[0].strip() == rec["name"]
    for rec in recs(rows, "ast_calls"):
        call = ast.parse(f"({text(source, rec['bstart'], rec['bend'])}\n)", mode="eval").body
        assert isinstance(call, ast.Call)
        assert len(call.args) == rec["n_args"] and len(call.keywords) == rec["n_keywords"]
        callee = ast.unparse(call.func)
        dotted = all(part.isidentifier() for part in callee.split("."))
        assert rec["callee_text"] == (callee if dotted else None)
    for rec in recs(rows, "ast_decorators"):
        assert text(source, rec["bstart"], rec["bend"]) == rec["text"]
        assert source.data[: rec["bstart"]].rstrip(b" \t(\\\r\n").endswith(b"@")
    docstrings = {r["owner_idx"]: r["value"] for r in recs(rows, "ast_docstrings")}
    expected_doc = ast.get_docstring(tree, clean=False)
    assert docstrings.get(0) == expected_doc


# ---- the fixture package ------------------------------------------------------------------


def test_qualnames_and_def_links() -> None:
    _, rows = fixture("pkg/core.py")
    defs = defs_by_qualname(rows)
    expected = {
        "trace": "function",
        "trace.wrapper": "function",
        "Base": "class",
        "Base.__init__": "function",
        "Base.label": "function",
        "Base.helper": "function",
        "Derived": "class",
        "Derived.run": "function",
        "Derived.run.<lambda1>": "lambda",
        "make_adder": "function",
        "make_adder.add": "function",
        "fetch": "async_function",
        "stream": "async_function",
        "lock": "function",
    }
    assert {q: d["kind"] for q, d in defs.items()} == expected
    assert defs["Derived.run"]["parent_def_idx"] == defs["Derived"]["node_idx"]
    assert defs["make_adder.add"]["parent_def_idx"] == defs["make_adder"]["node_idx"]
    assert defs["trace.wrapper"]["parent_def_idx"] == defs["trace"]["node_idx"]
    assert defs["trace"]["parent_def_idx"] is None
    assert defs["Derived.run"]["is_method"] and not defs["make_adder.add"]["is_method"]
    assert defs["fetch"]["is_async"] and not defs["lock"]["is_async"]
    assert defs["Derived.run.<lambda1>"]["name"] == "<lambda>"
    assert defs["Derived.run.<lambda1>"]["name_bstart"] is None


def test_decorated_def_spans_start_at_the_at_sign() -> None:
    source, rows = fixture("pkg/core.py")
    defs = defs_by_qualname(rows)
    wrapper = defs["trace.wrapper"]
    assert text(source, wrapper["bstart"], wrapper["bend"]).startswith(
        "@functools.wraps(func)\n    def wrapper(*args: int, **kwargs: int) -> int:"
    )
    decorators = [r for r in recs(rows, "ast_decorators") if r["def_idx"] == wrapper["node_idx"]]
    assert [(d["index"], d["text"]) for d in decorators] == [(0, "functools.wraps(func)")]
    run_ = defs["Derived.run"]
    assert text(source, run_["bstart"], run_["name_bend"]) == "@trace\n    def run"
    assert text(source, run_["name_bstart"], run_["name_bend"]) == "run"
    assert run_["decorator_count"] == 1 and run_["lineno"] == core_line("    def run(")
    fetch = defs["fetch"]
    assert text(source, fetch["bstart"], fetch["name_bend"]) == "async def fetch"


def core_line(prefix: str) -> int:
    lines = fx.PKG_CORE.splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(prefix))


def test_params_of_base_helper() -> None:
    source, rows = fixture("pkg/core.py")
    helper = defs_by_qualname(rows)["Base.helper"]
    params = [r for r in recs(rows, "ast_params") if r["def_idx"] == helper["node_idx"]]
    assert [(p["index"], p["name"], p["kind"]) for p in params] == [
        (0, "x", "positional_only"),
        (1, "y", "positional"),
        (2, "rest", "vararg"),
        (3, "flag", "keyword_only"),
        (4, "extra", "kwarg"),
    ]
    nodes = by_idx(rows)
    defaults = {p["name"]: p["default_idx"] for p in params}
    assert text(source, nodes[defaults["y"]]["bstart"], nodes[defaults["y"]]["bend"]) == "2"
    assert (
        text(source, nodes[defaults["flag"]]["bstart"], nodes[defaults["flag"]]["bend"]) == "False"
    )
    assert defaults["x"] is None and defaults["rest"] is None and defaults["extra"] is None
    assert [text(source, p["bstart"], p["bend"]) for p in params] == [
        "x",
        "y",
        "rest",
        "flag",
        "extra",
    ]
    init = defs_by_qualname(rows)["Base.__init__"]
    init_params = {
        r["name"]: r for r in recs(rows, "ast_params") if r["def_idx"] == init["node_idx"]
    }
    assert init_params["size"]["kind"] == "keyword_only"
    annotation = one(recs(rows, "ast_annotations"), target_idx=init_params["name"]["node_idx"])
    assert (annotation["target_kind"], annotation["text"]) == ("param", "str")


def test_annotations_and_docstrings() -> None:
    source, rows = fixture("pkg/core.py")
    defs = defs_by_qualname(rows)
    annotations = recs(rows, "ast_annotations")
    trace_return = one(annotations, target_idx=defs["trace"]["node_idx"])
    assert (trace_return["target_kind"], trace_return["text"]) == ("return", "Callable[..., int]")
    assert defs["trace"]["returns_idx"] == trace_return["node_idx"]
    count = one(annotations, target_kind="assign")
    assert count["text"] == "int"
    assert by_idx(rows)[count["target_idx"]]["name"] == "count"
    docs = {r["owner_idx"]: r for r in recs(rows, "ast_docstrings")}
    assert docs[0]["value"] == "Core definitions."
    assert text(source, docs[0]["bstart"], docs[0]["bend"]) == '"""Core definitions."""'
    assert docs[defs["Base"]["node_idx"]]["value"] == "A base class."
    assert defs["Base"]["docstring_idx"] == docs[defs["Base"]["node_idx"]]["node_idx"]
    assert defs["Derived"]["docstring_idx"] is None


def test_names_attributes_and_scopes() -> None:
    source, rows = fixture("pkg/core.py")
    defs = defs_by_qualname(rows)
    names = recs(rows, "ast_names")
    helper = defs["Base.helper"]["node_idx"]
    comp_x = [n for n in names if n["name"] == "x" and n["scope_def_idx"] == helper]
    assert {(n["ctx"], n["in_comprehension"]) for n in comp_x} == {("load", True), ("store", True)}
    extra = one(names, name="extra")
    assert (extra["ctx"], extra["in_comprehension"], extra["scope_def_idx"]) == (
        "load",
        False,
        helper,
    )
    adder = [n for n in names if n["name"] == "adder"]
    assert [(n["ctx"], n["scope_def_idx"]) for n in adder] == [("store", None), ("load", None)]
    attributes = recs(rows, "ast_attributes")
    self_name = [a for a in attributes if a["attr"] == "name" and a["ctx"] == "store"]
    assert [(a["value_text"], text(source, a["bstart"], a["bend"])) for a in self_name] == [
        ("self", "self.name")
    ]
    basename = one(attributes, attr="basename")
    assert (basename["value_text"], basename["ctx"]) == ("osp", "load")
    assert by_idx(rows)[basename["value_idx"]]["name"] == "osp"
    wraps = one(attributes, attr="wraps")
    assert wraps["scope_def_idx"] == defs["trace"]["node_idx"]  # a decorator: outer scope


def test_calls_and_arguments() -> None:
    source, rows = fixture("pkg/core.py")
    calls = recs(rows, "ast_calls")
    args = recs(rows, "ast_call_args")
    helper_call = one(calls, callee_text="self.helper")
    assert (
        text(source, helper_call["bstart"], helper_call["bend"])
        == "self.helper(1, 2, 3, flag=True)"
    )
    assert (helper_call["callee_shape"], helper_call["n_args"], helper_call["n_keywords"]) == (
        "attribute",
        3,
        1,
    )
    helper_args = [a for a in args if a["call_idx"] == helper_call["node_idx"]]
    assert [
        (a["position"], a["keyword"], text(source, a["bstart"], a["bend"])) for a in helper_args
    ] == [(0, None, "1"), (1, None, "2"), (2, None, "3"), (None, "flag", "True")]
    assert {a["value_shape"] for a in helper_args} == {"constant"}
    func_call = one(calls, callee_text="func")
    assert func_call["has_starargs"] and func_call["has_kwargs"]
    func_args = [a for a in args if a["call_idx"] == func_call["node_idx"]]
    assert [
        (
            text(source, a["bstart"], a["bend"]),
            a["is_starred"],
            a["is_double_star"],
            a["value_text"],
        )
        for a in func_args
    ] == [("*args", True, False, "args"), ("kwargs", False, True, "kwargs")]
    sorted_call = one(calls, callee_text="sorted")
    key = one(args, call_idx=sorted_call["node_idx"], keyword="key")
    assert (key["value_shape"], key["value_text"]) == ("name", "key")
    nested = one(calls, callee_text="functools.wraps")
    assert nested["callee_shape"] == "attribute"


def test_crlf_call_spans() -> None:
    source, rows = fixture("crlf.py")
    join = one(recs(rows, "ast_calls"), callee_text="os.path.join")
    assert source.data[join["bstart"] : join["bend"]] == b"os.path.join(a, b)"
    crlf = one(recs(rows, "ast_defs"), name="crlf")
    assert source.data[crlf["name_bstart"] : crlf["name_bend"]] == b"crlf"
    assert (
        source.data[crlf["bstart"] : crlf["bend"]]
        == b"def crlf(a, b):\r\n    return os.path.join(a, b)"
    )
    ret = one(recs(rows, "ast_returns"), kind="return")
    assert (ret["value_shape"], ret["value_text"]) == ("call", "os.path.join")


def test_tabs_spans() -> None:
    source, rows = fixture("tabs.py")
    m = one(recs(rows, "ast_defs"), name="m")
    assert (m["qualname"], m["is_method"]) == ("T.m", True)
    assert source.data[m["name_bstart"] : m["name_bend"]] == b"m"
    returns = recs(rows, "ast_returns")
    assert [source.data[r["bstart"] : r["bend"]] for r in returns] == [b"return 1", b"return 2"]
    assert {r["def_idx"] for r in returns} == {m["node_idx"]}


def test_latin1_spans_are_raw_latin1_bytes() -> None:
    source, rows = fixture("latin1_cookie.py")
    data = source.data
    cafe = one(recs(rows, "ast_defs"), name="café")
    assert data[cafe["name_bstart"] : cafe["name_bend"]] == "café".encode("latin-1")
    assert cafe["name_bend"] - cafe["name_bstart"] == 4  # 5 bytes in UTF-8
    uses = [n for n in recs(rows, "ast_names") if n["name"] == "café"]
    assert len(uses) == 2
    for use in uses:
        assert data[use["bstart"] : use["bend"]] == "café".encode("latin-1")
    param = one(recs(rows, "ast_params"), name="naïve")
    assert data[param["bstart"] : param["bend"]] == "naïve".encode("latin-1")
    default = one(recs(rows, "ast_literals"), node_idx=param["default_idx"])
    assert (default["literal_type"], default["value"]) == ("str", repr("crème"))
    assert text(source, default["bstart"], default["bend"]) == "'crème'"
    doc = one(recs(rows, "ast_docstrings"), owner_idx=0)
    assert doc["value"] == "Module déjà encodé en latin-1."


def test_bom_spans_skip_the_bom() -> None:
    source, rows = fixture("bom_utf8.py")
    data = source.data
    module = by_idx(rows)[0]
    assert (module["bstart"], module["bend"]) == (3, len(data))
    ete = recs(rows, "ast_names")[0]
    assert (ete["name"], ete["bstart"]) == ("été", 3)
    grosse = one(recs(rows, "ast_defs"), name="größe")
    assert data[grosse["name_bstart"] : grosse["name_bend"]].decode() == "größe"
    pi = one(recs(rows, "ast_params"), name="π")
    assert data[pi["bstart"] : pi["bend"]].decode() == "π"
    pi_use = one(recs(rows, "ast_names"), name="π")
    assert data[pi_use["bstart"] : pi_use["bend"]].decode() == "π"
    arger = one(recs(rows, "ast_defs"), name="Ärger")
    assert data[arger["name_bstart"] : arger["name_bend"]].decode() == "Ärger"
    namae = one(recs(rows, "ast_names"), name="名前")
    assert (namae["ctx"], namae["scope_def_idx"]) == ("store", arger["node_idx"])
    summer = one(recs(rows, "ast_literals"), literal_type="str")
    assert text(source, summer["bstart"], summer["bend"]) == "'summer \u2600\ufe0f'"


def test_all_of_the_package() -> None:
    source, rows = fixture("pkg/__init__.py")
    entries = recs(rows, "ast_all")
    assert [(e["index"], e["name"]) for e in entries] == list(
        enumerate(["Base", "Derived", "make_adder", "sub"])
    )
    assert [text(source, e["bstart"], e["bend"]) for e in entries] == [
        '"Base"',
        '"Derived"',
        '"make_adder"',
        '"sub"',
    ]
    _, helper_rows = fixture("pkg/sub/helpers.py")
    assert [e["name"] for e in recs(helper_rows, "ast_all")] == ["shout", "Widget"]


def test_relative_imports_of_helpers() -> None:
    source, rows = fixture("pkg/sub/helpers.py")
    imports = recs(rows, "ast_imports")
    assert [(i["module"], i["name"], i["asname"], i["level"], i["is_from"]) for i in imports] == [
        ("core", "Base", "B", 2, True),
        ("core", "make_adder", None, 2, True),
        (None, "core", None, 2, True),
    ]
    assert [text(source, i["bstart"], i["bend"]) for i in imports] == [
        "Base as B",
        "make_adder",
        "core",
    ]
    nodes = by_idx(rows)
    assert {nodes[i["stmt_idx"]]["ast_type"] for i in imports} == {"ImportFrom"}
    assert imports[0]["stmt_idx"] == imports[1]["stmt_idx"] != imports[2]["stmt_idx"]
    assert nodes[imports[0]["node_idx"]]["name"] == "B"
    _, sub_rows = fixture("pkg/sub/__init__.py")
    star = recs(sub_rows, "ast_imports")[0]
    assert (star["module"], star["name"], star["is_star"], star["level"]) == (
        "helpers",
        "*",
        True,
        1,
    )
    _, core_rows = fixture("pkg/core.py")
    osp = one(recs(core_rows, "ast_imports"), asname="osp")
    assert (osp["name"], osp["module"], osp["is_from"], osp["level"]) == ("os.path", None, False, 0)


def test_returns_yields_and_lambdas() -> None:
    source, rows = fixture("pkg/core.py")
    defs = defs_by_qualname(rows)
    returns = recs(rows, "ast_returns")
    stream = one(returns, def_idx=defs["stream"]["node_idx"])
    assert (
        stream["kind"],
        stream["value_text"],
        text(source, stream["bstart"], stream["bend"]),
    ) == ("yield", "u", "yield u")
    lam = one(returns, def_idx=defs["Derived.run.<lambda1>"]["node_idx"])
    assert (lam["kind"], text(source, lam["bstart"], lam["bend"])) == ("return", "item[1]")
    assert lam["node_idx"] == lam["value_idx"]
    add = one(returns, def_idx=defs["make_adder"]["node_idx"])
    assert (add["value_shape"], add["value_text"]) == ("name", "add")


def test_literals_skip_fstring_fragments() -> None:
    source, rows = fixture("pkg/core.py")
    literals = recs(rows, "ast_literals")
    fstring = one(literals, literal_type="fstring")
    assert fstring["value"] == 'f"{self.name}:{self.size}"'
    assert text(source, fstring["bstart"], fstring["bend"]) == fstring["value"]
    inside = [lit for lit in literals if fstring["bstart"] < lit["bstart"] < fstring["bend"]]
    assert inside == []  # the ':' fragment has no span of its own in 3.11
    assert one(literals, value="40")["literal_type"] == "int"
    assert {lit["literal_type"] for lit in literals} >= {"str", "int", "bool", "fstring"}


def test_assignments_of_the_fixture() -> None:
    source, rows = fixture("pkg/core.py")
    assigns = recs(rows, "ast_assignments")
    total = one(assigns, target_text="total")
    assert (total["kind"], total["value_shape"], total["value_text"]) == ("assign", "call", "sum")
    count = one(assigns, kind="annassign")
    assert (count["target_text"], count["value_shape"]) == ("count", "constant")
    held = one(assigns, kind="with")
    assert (held["target_text"], held["value_text"]) == ("held", "lock")
    assert text(source, held["bstart"], held["bend"]).startswith("async with lock() as held:")
    loops = [(a["target_text"], a["value_text"]) for a in assigns if a["kind"] == "for"]
    assert loops == [("chunk", "stream"), ("u", "urls")]


# ---- constructs the fixture lacks ---------------------------------------------------------


def test_snippet_unpacking_and_walrus() -> None:
    source, rows = extract(LAYER, "snippet.py", SNIPPET)
    nodes = by_idx(rows)
    assigns = [a for a in recs(rows, "ast_assignments") if a["kind"] == "assign"]
    unpack = [
        a for a in assigns if text(source, a["bstart"], a["bend"]) == "a, (b, *c) = x.y = f()"
    ]
    shown = [
        (
            text(source, nodes[a["target_idx"]]["bstart"], nodes[a["target_idx"]]["bend"]),
            a["target_shape"],
            a["target_text"],
            a["element_index"],
        )
        for a in unpack
    ]
    assert shown == [
        ("a, (b, *c)", "tuple", None, None),
        ("a", "name", "a", 0),
        ("(b, *c)", "tuple", None, 1),
        ("b", "name", "b", 0),
        ("*c", "starred", "c", 1),
        ("x.y", "attribute", "x.y", None),
    ]
    assert {(a["value_shape"], a["value_text"]) for a in unpack} == {("call", "f")}
    walrus = one(recs(rows, "ast_assignments"), kind="namedexpr")
    assert (walrus["target_text"], walrus["value_text"]) == ("n", "len")
    assert text(source, walrus["bstart"], walrus["bend"]) == "n := len(a)"
    aug = one(recs(rows, "ast_assignments"), kind="augassign", target_text="v")
    assert (aug["value_shape"], nodes[aug["node_idx"]]["op"]) == ("constant", "Add")
    subscript = one(recs(rows, "ast_assignments"), target_shape="subscript")
    assert (subscript["value_shape"], subscript["target_text"]) == ("lambda", None)


def test_except_handler_binds_its_name_to_the_type() -> None:
    source, rows = extract(LAYER, "syntax_corners.py", SYNTAX_CORNERS)
    nodes = by_idx(rows)
    handler = one(recs(rows, "ast_assignments"), kind="except")
    assert nodes[handler["node_idx"]]["ast_type"] == "ExceptHandler"
    assert handler["target_idx"] == handler["node_idx"]
    assert (handler["target_shape"], handler["target_text"]) == ("name", "e")
    assert (handler["value_shape"], handler["value_text"]) == ("name", "ValueError")
    value = nodes[handler["value_idx"]]
    assert text(source, value["bstart"], value["bend"]) == "ValueError"
    assert text(source, handler["bstart"], handler["bend"]).startswith("except* ValueError as e:")


def test_snippet_all_forms_and_scope_markers() -> None:
    source, rows = extract(LAYER, "snippet.py", SNIPPET)
    assert [(e["index"], e["name"]) for e in recs(rows, "ast_all")] == list(enumerate("abcde"))
    markers = recs(rows, "ast_scope_markers")
    defs = defs_by_qualname(rows)
    assert [(m["kind"], m["name"], m["scope_def_idx"]) for m in markers] == [
        ("nonlocal", "v", defs["outer.inner"]["node_idx"]),
        ("global", "counter", defs["outer.inner"]["node_idx"]),
    ]
    assert text(source, markers[0]["bstart"], markers[0]["bend"]) == "nonlocal v"
    assert by_idx(rows)[markers[1]["node_idx"]]["name"] == "counter"


def test_snippet_fstring_tuple_span_drops_the_braces() -> None:
    source, rows = extract(LAYER, "snippet.py", SNIPPET)
    nodes = recs(rows, "ast_nodes")
    formatted = [n["node_idx"] for n in nodes if n["ast_type"] == "FormattedValue"]
    values = [n for n in nodes if n["parent_idx"] in formatted and n["field"] == "value"]
    assert [(n["ast_type"], text(source, n["bstart"], n["bend"])) for n in values] == [
        ("Tuple", "a, b"),
        ("GeneratorExp", "x for x in c"),
    ]


def test_snippet_odd_decorator_and_lambdas() -> None:
    source, rows = extract(LAYER, "snippet.py", SNIPPET)
    defs = defs_by_qualname(rows)
    spaced = defs["spaced"]
    assert text(source, spaced["bstart"], spaced["bend"]) == "@ (\n    deco\n)\ndef spaced(): ..."
    assert one(recs(rows, "ast_decorators"), def_idx=spaced["node_idx"])["text"] == "deco"
    go = defs["K.<lambda1>"]
    assert (go["kind"], go["is_method"], go["parent_def_idx"]) == (
        "lambda",
        False,
        defs["K"]["node_idx"],
    )
    yielding = defs["<lambda1>"]
    kinds = [r["kind"] for r in recs(rows, "ast_returns") if r["def_idx"] == yielding["node_idx"]]
    assert sorted(kinds) == ["return", "yield"]


def test_snippet_callee_shapes() -> None:
    calls = recs(
        extract(LAYER, "x.py", b"f()\na.b()\ng()()\nh[0]()\n(lambda: 1)()\n'x'.join()\n")[1],
        "ast_calls",
    )
    assert [(c["callee_shape"], c["callee_text"]) for c in calls] == [
        ("name", "f"),
        ("attribute", "a.b"),
        ("call", None),
        ("name", "g"),
        ("subscript", None),
        ("lambda", None),
        ("attribute", None),
    ]


# ---- real files ---------------------------------------------------------------------------


def test_functools_facts() -> None:
    source, rows = stdlib("functools.py")
    tree = source.python_ast()
    defs = defs_by_qualname(rows)
    assert {
        "wraps",
        "update_wrapper",
        "lru_cache",
        "partial.__new__",
        "singledispatch",
        "singledispatch.register",
        "_lru_cache_wrapper",
    } <= set(defs)
    expected_all = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "__all__"
    )
    assert [e["name"] for e in recs(rows, "ast_all")] == ast.literal_eval(expected_all)
    expected_defs = sum(
        isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda)
        for n in ast.walk(tree)
    )
    assert len(defs) <= expected_defs == len(recs(rows, "ast_defs"))


def test_argparse_params_match_inspect_order() -> None:
    _, rows = stdlib("argparse.py")
    defs = defs_by_qualname(rows)
    init = defs["ArgumentParser.__init__"]
    params = [r["name"] for r in recs(rows, "ast_params") if r["def_idx"] == init["node_idx"]]
    assert params == list(inspect.signature(argparse.ArgumentParser.__init__).parameters)


def test_asyncio_tasks_async_defs() -> None:
    _, rows = stdlib("asyncio/tasks.py")
    defs = defs_by_qualname(rows)
    assert defs["sleep"]["kind"] == "async_function"
    assert defs["wait_for"]["is_async"]
    assert defs["Task"]["kind"] == "class"


def test_deep_but_parseable_code_needs_no_recursion() -> None:
    data = b"value = 1" + b" + 1" * 2500 + b"\nchain = a" + b".b" * 2000 + b"()\n"
    source = SourceFile("deep_ok.py", data)
    source.python_ast()  # the parse itself may recurse; the layer must not
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 50)
    try:
        rows = LAYER.extract(source)
    finally:
        sys.setrecursionlimit(limit)
    binops = [r for r in recs(rows, "ast_nodes") if r["ast_type"] == "BinOp"]
    assert len(binops) == 2500 and {r["op"] for r in binops} == {"Add"}
    call = one(recs(rows, "ast_calls"), callee_shape="attribute")
    assert call["callee_text"] == "a" + ".b" * 2000
    assert text(source, call["bstart"], call["bend"]) == "a" + ".b" * 2000 + "()"


def test_lambdas_are_numbered_per_enclosing_definition() -> None:
    source = (
        b"a = lambda: 1\nb = [lambda: 2, lambda: (lambda: 3)]\ndef f():\n    return lambda: 4\n"
    )
    defs = defs_by_qualname(extract(LAYER, "lam.py", source)[1])
    lambdas = sorted(q for q in defs if "lambda" in q)
    assert lambdas == ["<lambda1>", "<lambda2>", "<lambda3>", "<lambda3>.<lambda1>", "f.<lambda1>"]
    assert all(defs[q]["name"] == "<lambda>" for q in lambdas)
