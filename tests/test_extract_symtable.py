"""The ``symtable`` layer on the fixture repository and on real stdlib files.

Expected values come from the source text and from CPython's own ``symtable`` API, never
from the layer's output: scope spans are checked by decoding and re-parsing the bytes
they cover, block identity by the names each block binds, symbol flags against the
public ``Symbol`` methods.
"""

from __future__ import annotations

import ast
import codecs
import platform
import symtable
import unicodedata
import warnings
from functools import cache
from typing import Any

import pytest

from codeanatomy.extract.layer import LayerRows
from codeanatomy.extract.symtable_layer import LAYER
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
DEF_KINDS = frozenset({"FunctionDef", "AsyncFunctionDef", "ClassDef"})
ANONYMOUS = {
    "Lambda": "lambda: 0",
    "ListComp": "[x for x in ()]",
    "SetComp": "{x for x in ()}",
    "DictComp": "{x: x for x in ()}",
    "GeneratorExp": "(x for x in ())",
}
FLAG_METHODS = (
    "is_referenced",
    "is_imported",
    "is_parameter",
    "is_global",
    "is_declared_global",
    "is_local",
    "is_annotated",
    "is_free",
    "is_assigned",
    "is_namespace",
    "is_nonlocal",
    "is_type_parameter",
    "is_free_class",
    "is_comp_iter",
    "is_comp_cell",
)


@cache
def stdlib_paths() -> tuple[str, ...]:
    return tuple(sorted(discover(STDLIB, exclude=["test/", "tests/", "idle_test/"]).paths))


@cache
def stdlib_sample() -> tuple[str, ...]:
    paths = stdlib_paths()
    return tuple(dict.fromkeys([*NAMED_STDLIB, *paths[:: len(paths) // SAMPLE_SIZE]]))


@cache
def block_name_of(node_kind: str) -> str:
    """The name this interpreter gives the block of an anonymous scope."""
    (child,) = symtable.symtable(ANONYMOUS[node_kind], "<p>", "exec").get_children()
    name: str = child.get_name()
    return name


def fixture(relpath: str) -> tuple[SourceFile, LayerRows]:
    return extract_fixture(LAYER, relpath)


def stdlib(relpath: str) -> tuple[SourceFile, LayerRows]:
    return extract_stdlib(LAYER, relpath)


def text(source: SourceFile, bstart: int, bend: int) -> str:
    return source.span_text(bstart, bend)


def scopes(rows: LayerRows) -> list[dict[str, Any]]:
    return records(LAYER, "sym_scopes", rows)


def symbols(rows: LayerRows, scope_idx: int) -> dict[str, dict[str, Any]]:
    return {
        r["name"]: r for r in records(LAYER, "sym_symbols", rows) if r["scope_idx"] == scope_idx
    }


def scope_at(rows: LayerRows, *path: str) -> dict[str, Any]:
    """The scope reached from the module by child names (first match at each step)."""
    recs = scopes(rows)
    current = recs[0]
    for name in path:
        current = next(
            r for r in recs if r["parent_scope_idx"] == current["scope_idx"] and r["name"] == name
        )
    return current


def tree(rows: LayerRows) -> tuple[Any, ...]:
    """Nested (name, scope_type, def_node_kind, children) built from parent + child_index."""
    recs = scopes(rows)
    kids: dict[int, list[dict[str, Any]]] = {r["scope_idx"]: [] for r in recs}
    for r in recs[1:]:
        kids[r["parent_scope_idx"]].append(r)
    for siblings in kids.values():
        assert [k["child_index"] for k in siblings] == list(range(len(siblings)))

    def build(r: dict[str, Any]) -> tuple[Any, ...]:
        return (
            r["name"],
            r["scope_type"],
            r["def_node_kind"],
            [build(k) for k in kids[r["scope_idx"]]],
        )

    return build(recs[0])


def reparse(source: SourceFile, scope: dict[str, Any]) -> ast.AST:
    """The node obtained by parsing the bytes a scope's span covers."""
    span = text(source, scope["bstart"], scope["bend"])
    if scope["def_node_kind"] in DEF_KINDS:
        line = source.line_of_offset(scope["bstart"])
        indent = text(source, source.line_starts[line - 1], scope["bstart"]).lstrip("\ufeff")
        assert not indent.strip(), indent
        module = ast.parse(f"if 1:\n{indent}{span}" if indent else span)
        stmt = module.body[0]
        return stmt.body[0] if indent else stmt  # type: ignore[attr-defined]
    return ast.parse(f"({span})", mode="eval").body


def check_scope_spans(source: SourceFile, rows: LayerRows, *, reparse_spans: bool = True) -> int:
    """Check every scope's span against the source; return how many were checked."""
    recs = scopes(rows)
    module = recs[0]
    assert module["bstart"] == (3 if source.bom else 0)
    assert module["bend"] == len(source.data)
    assert module["parent_scope_idx"] is None and module["lineno"] is None
    for scope in recs[1:]:
        if scope["scope_type"] not in ("function", "class"):
            continue  # the newer interpreters' annotation/type-parameter scopes
        kind = scope["def_node_kind"]
        assert kind is not None, scope
        assert source.line_of_offset(scope["bstart"]) == scope["lineno"], scope
        if reparse_spans:
            node = reparse(source, scope)
            assert type(node).__name__ == kind, (scope, ast.dump(node))
            assert scope["name"] == getattr(node, "name", scope["name"])
        if kind in DEF_KINDS:
            ident = text(source, scope["name_bstart"], scope["name_bend"])
            assert unicodedata.normalize("NFKC", ident) == scope["name"], (scope, ident)
            assert scope["scope_type"] == ("class" if kind == "ClassDef" else "function")
        else:
            assert scope["name"] == block_name_of(kind), scope
            assert scope["name_bstart"] is None and scope["name_bend"] is None
            assert scope["scope_type"] == "function"
            if kind == "Lambda":
                assert text(source, scope["bstart"], scope["bend"]).startswith("lambda")
    return len(recs) - 1


# ---- contract -------------------------------------------------------------------------


def test_layer_spec() -> None:
    assert LAYER.name == "symtable"
    assert LAYER.needs_text and LAYER.default
    assert LAYER.table_names() == ["sym_scopes", "sym_symbols"]
    assert LAYER.version() == platform.python_version()
    for spec in LAYER.tables:
        assert spec.columns[0] == "file_id"


@pytest.mark.parametrize("relpath", fx.GOOD_FILES)
def test_fixture_rows_conform(relpath: str) -> None:
    source, rows = fixture(relpath)
    check_layer_rows(LAYER, rows)
    assert set(rows) == {"sym_scopes", "sym_symbols"}
    for table in ("sym_scopes", "sym_symbols"):
        assert all(r[0] == source.file_id for r in rows[table])
    assert_all_spans_in_bounds(scopes(rows), source.size)
    check_scope_spans(source, rows)


@pytest.mark.parametrize("relpath", stdlib_sample())
def test_stdlib_sample(relpath: str) -> None:
    source, rows = stdlib(relpath)
    check_layer_rows(LAYER, rows)
    assert_all_spans_in_bounds(scopes(rows), source.size)
    check_scope_spans(source, rows)


def test_whole_stdlib_scopes_match_their_nodes() -> None:
    """Every function and class block of the stdlib gets the node that defines it (its line,
    kind and name; re-parsing every span is left to the sample)."""
    checked = 0
    for relpath in stdlib_paths():
        source, rows = stdlib(relpath)
        checked += check_scope_spans(source, rows, reparse_spans=False)
    assert checked > 15_000


@pytest.mark.parametrize("relpath", fx.BAD_FILES)
def test_error_fixtures_raise(relpath: str) -> None:
    expected: dict[str, type[BaseException] | tuple[type[BaseException], ...]] = {
        "broken_syntax.py": SyntaxError,
        "random_bytes.py": SourceDecodeError,
        "nul_byte.py": (SyntaxError, ValueError),
        "deep_nesting.py": (RecursionError, SyntaxError, MemoryError),
    }
    with pytest.raises(expected[relpath]):
        fixture(relpath)


def test_parser_warnings_stay_inside() -> None:
    source = SourceFile("esc.py", b'PATTERN = "\\d+"\n')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source.python_ast()  # the shared parse belongs to the ast layer
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = LAYER.extract(source)
    assert caught == []
    assert "PATTERN" in symbols(rows, 0)


# ---- scope tree -------------------------------------------------------------------------


def test_fixture_scope_tree() -> None:
    _, rows = fixture("pkg/core.py")

    def fn(name: str, *kids: Any, kind: str = "FunctionDef") -> tuple[Any, ...]:
        return (name, "function", kind, list(kids))

    def anon(kind: str) -> tuple[Any, ...]:
        return (block_name_of(kind), "function", kind, [])

    def cls(name: str, *kids: Any) -> tuple[Any, ...]:
        return (name, "class", "ClassDef", list(kids))

    assert tree(rows) == (
        "top",
        "module",
        None,
        [
            fn("trace", fn("wrapper")),
            cls("Base", fn("__init__"), fn("label"), fn("helper", anon("ListComp"))),
            cls(
                "Derived",
                fn("run", anon("GeneratorExp"), anon("DictComp"), anon("Lambda")),
            ),
            fn("make_adder", fn("add")),
            fn("fetch", anon("ListComp"), kind="AsyncFunctionDef"),
            fn("stream", kind="AsyncFunctionDef"),
            fn("lock"),
        ],
    )


def test_scope_idx_is_preorder() -> None:
    for relpath in ("pkg/core.py", "pkg/sub/helpers.py"):
        _, rows = fixture(relpath)
        recs = scopes(rows)
        kids: dict[int | None, list[int]] = {}
        for r in recs:
            kids.setdefault(r["parent_scope_idx"], []).append(r["scope_idx"])
        order: list[int] = []
        stack = [0]
        while stack:
            idx = stack.pop()
            order.append(idx)
            stack.extend(reversed(kids.get(idx, [])))
        assert order == [r["scope_idx"] for r in recs] == list(range(len(recs)))


def test_nesting_and_optimization_flags() -> None:
    _, rows = fixture("pkg/core.py")
    assert scope_at(rows, "trace")["is_nested"] is False
    assert scope_at(rows, "trace", "wrapper")["is_nested"] is True
    assert scope_at(rows, "Base", "__init__")["is_nested"] is False  # a method is not nested
    assert scope_at(rows, "make_adder", "add")["is_nested"] is True
    assert scope_at(rows, "Base")["is_optimized"] is False
    assert scope_at(rows)["is_optimized"] is False
    assert scope_at(rows, "make_adder")["is_optimized"] is True


# ---- symbol flags -------------------------------------------------------------------------


def test_fixture_symbol_flags() -> None:
    _, rows = fixture("pkg/core.py")
    add = symbols(rows, scope_at(rows, "make_adder", "add")["scope_idx"])
    assert add["k"]["is_free"] and not add["k"]["is_local"] and not add["k"]["is_parameter"]
    assert add["v"]["is_parameter"] and add["v"]["is_local"]
    make_adder = symbols(rows, scope_at(rows, "make_adder")["scope_idx"])
    assert make_adder["k"]["is_parameter"] and make_adder["k"]["is_local"]
    assert make_adder["add"]["is_namespace"] and make_adder["add"]["namespace_count"] == 1
    init = symbols(rows, scope_at(rows, "Base", "__init__")["scope_idx"])
    assert init["self"]["is_parameter"] and init["size"]["is_parameter"]
    assert not init["self"]["is_assigned"]
    module = symbols(rows, 0)
    for name in ("annotations", "functools", "osp", "Callable"):
        assert module[name]["is_imported"], name
    assert not module["trace"]["is_imported"]
    assert module["trace"]["is_namespace"] and module["Base"]["namespace_count"] == 1
    assert module["VALUE"]["is_assigned"] and not module["VALUE"]["is_namespace"]
    fetch = symbols(rows, scope_at(rows, "fetch")["scope_idx"])
    assert fetch["results"]["is_assigned"] and fetch["results"]["is_local"]
    assert fetch["stream"]["is_global"] and fetch["stream"]["is_referenced"]
    assert not fetch["stream"]["is_declared_global"]
    base = symbols(rows, scope_at(rows, "Base")["scope_idx"])
    assert base["count"]["is_annotated"] and base["count"]["is_assigned"]


def test_global_nonlocal_and_namespaces() -> None:
    source = (
        "counter = 0\n"
        "def bump():\n"
        "    global counter\n"
        "    counter += 1\n"
        "def outer():\n"
        "    n = 0\n"
        "    def inner():\n"
        "        nonlocal n\n"
        "        n += 1\n"
        "    def inner():\n"
        "        return n\n"
        "    return inner\n"
    )
    _, rows = extract(LAYER, "scopes.py", source.encode())
    bump = symbols(rows, scope_at(rows, "bump")["scope_idx"])
    assert bump["counter"]["is_declared_global"] and bump["counter"]["is_global"]
    assert not bump["counter"]["is_local"]
    outer = symbols(rows, scope_at(rows, "outer")["scope_idx"])
    assert outer["n"]["is_local"] and not outer["n"]["is_free"]
    assert outer["inner"]["namespace_count"] == 2 and outer["inner"]["is_namespace"]
    inner = symbols(rows, scope_at(rows, "outer", "inner")["scope_idx"])
    assert inner["n"]["is_nonlocal"] and inner["n"]["is_free"]


@pytest.mark.parametrize("relpath", [*NAMED_STDLIB, "pkg/core.py"])
def test_symbol_flags_agree_with_public_api(relpath: str) -> None:
    """Every row equals what ``SymbolTable.lookup`` says, block by block in pre-order."""

    if relpath in fixture_files():
        source, rows = fixture(relpath)
    else:
        source, rows = stdlib(relpath)
    expected: list[tuple[Any, ...]] = []
    tables = [symtable.symtable(source.text, relpath, "exec")]
    idx = 0
    while tables:
        table = tables.pop()
        for name in table.get_identifiers():
            sym = table.lookup(name)
            flags = tuple(
                bool(getattr(sym, m)()) if hasattr(sym, m) else False for m in FLAG_METHODS
            )
            expected.append((source.file_id, idx, name, *flags, len(sym.get_namespaces())))
        tables.extend(reversed(table.get_children()))
        idx += 1
    assert rows["sym_symbols"] == expected


# ---- block order and spans ---------------------------------------------------------------

SAME_LINE = (
    "@deco(lambda: n_dec)\n"
    "def f(p: (lambda: n_pann)=lambda: n_pdef, /, a=lambda: n_adef, *v: (lambda: n_vann), "
    "k: (lambda: n_kann)=lambda: n_kdef, **w: (lambda: n_wann)) -> (lambda: n_ret): "
    "return lambda: n_body\n"
    "d = {(lambda: n_k1): (lambda: n_v1), (lambda: n_k2): (lambda: n_v2)}\n"
    "e = {(lambda: n_dk): (lambda: n_dv) for q in (lambda: n_it1)() "
    "for r in (lambda: n_it2)() if (lambda: n_if)}\n"
    "class C((lambda: n_base)(), metaclass=(lambda: n_meta)()): x = lambda: n_attr\n"
    "g = h((lambda: n_arg), k=(lambda: n_kw), *[(lambda: n_star)])\n"
    "x = (lambda: n_then) if (lambda: n_test) else (lambda: n_else)\n"
    "y: (lambda: n_ann) = (lambda: n_val)\n"
    "try: t = (lambda: n_try)\n"
    "except (lambda: n_exc)(): pass\n"
    "else: u = (lambda: n_orelse)\n"
    "z = [[(lambda: n_inner) for a in b] for c in [(lambda: n_first) for i in j]]\n"
)


@pytest.mark.parametrize("future", [False, True])
def test_blocks_on_one_line_get_their_own_node(future: bool) -> None:
    """Each lambda names one unique variable: the block binding it is the lambda spanned."""
    header = "from __future__ import annotations\n" if future else ""
    source, rows = extract(LAYER, "same_line.py", (header + SAME_LINE).encode())
    lambdas = [s for s in scopes(rows) if s["def_node_kind"] == "Lambda"]
    seen = set()
    for scope in lambdas:
        span = text(source, scope["bstart"], scope["bend"])
        body = ast.parse(span, mode="eval").body
        assert isinstance(body, ast.Lambda)
        assert isinstance(body.body, ast.Name), span
        assert set(symbols(rows, scope["scope_idx"])) == {body.body.id}, span
        seen.add(body.body.id)
    annotation_lambdas = {"n_pann", "n_vann", "n_kann", "n_wann", "n_ret", "n_ann"}
    all_lambdas = {n.id for n in ast.walk(ast.parse(SAME_LINE)) if isinstance(n, ast.Name)}
    all_lambdas = {n for n in all_lambdas if n.startswith("n_")}
    # Under postponed evaluation annotations are never compiled: no blocks for them.
    assert seen == (all_lambdas - annotation_lambdas if future else all_lambdas)
    assert all(s["bstart"] is not None for s in scopes(rows))


def test_comprehension_first_iterable_belongs_to_enclosing_scope() -> None:
    source, rows = extract(LAYER, "comp.py", b"out = [x for x in [y for y in range(3)] if x]\n")
    inner, outer = scopes(rows)[1:]  # pre-order: the iterable's block comes first
    assert outer["parent_scope_idx"] == inner["parent_scope_idx"] == 0
    assert text(source, inner["bstart"], inner["bend"]) == "[y for y in range(3)]"
    assert text(source, outer["bstart"], outer["bend"]) == (
        "[x for x in [y for y in range(3)] if x]"
    )
    assert (inner["child_index"], outer["child_index"]) == (0, 1)


def test_default_and_decorator_lambdas_belong_to_enclosing_scope() -> None:
    source, rows = extract(
        LAYER,
        "enclosing.py",
        b"class K:\n    @staticmethod\n    @wrap(lambda f: f)\n    def m(a=lambda: 1):\n"
        b"        return lambda: a\n",
    )
    klass = scope_at(rows, "K")
    kids = [s for s in scopes(rows) if s["parent_scope_idx"] == klass["scope_idx"]]
    assert [(s["name"], s["lineno"]) for s in kids] == [
        (block_name_of("Lambda"), 4),  # the default, evaluated before the decorators
        (block_name_of("Lambda"), 3),
        ("m", 4),
    ]
    assert [text(source, s["bstart"], s["bend"]) for s in kids[:2]] == [
        "lambda: 1",
        "lambda f: f",
    ]
    (body_lambda,) = [s for s in scopes(rows) if s["parent_scope_idx"] == kids[2]["scope_idx"]]
    assert text(source, body_lambda["bstart"], body_lambda["bend"]) == "lambda: a"


# ---- encodings -----------------------------------------------------------------------------


def test_latin1_cookie_spans() -> None:
    source, rows = fixture("latin1_cookie.py")
    cafe = scope_at(rows, "café")
    assert source.data[cafe["name_bstart"] : cafe["name_bend"]] == "café".encode("latin-1")
    assert text(source, cafe["bstart"], cafe["bend"]).startswith("def café(naïve='crème'):")
    assert symbols(rows, cafe["scope_idx"])["naïve"]["is_parameter"]


def test_bom_spans() -> None:
    source, rows = fixture("bom_utf8.py")
    assert scopes(rows)[0]["bstart"] == len(codecs.BOM_UTF8)
    grosse = scope_at(rows, "größe")
    assert source.data[grosse["name_bstart"] : grosse["name_bend"]] == "größe".encode()
    assert text(source, grosse["bstart"], grosse["bend"]).startswith("def größe(π=3.14):")
    aerger = scope_at(rows, "Ärger")
    assert source.data[aerger["name_bstart"] : aerger["name_bend"]] == "Ärger".encode()
    assert symbols(rows, aerger["scope_idx"])["名前"]["is_assigned"]


def test_crlf_and_tabs_spans() -> None:
    source, rows = fixture("crlf.py")
    crlf = scope_at(rows, "crlf")
    assert source.data[crlf["bstart"] : crlf["bend"]] == (
        b"def crlf(a, b):\r\n    return os.path.join(a, b)"
    )
    source, rows = fixture("tabs.py")
    method = scope_at(rows, "T", "m")
    assert source.data[method["name_bstart"] : method["name_bend"]] == b"m"
    assert source.data[method["bstart"] : method["bend"]].startswith(b"def m(self):\n\t\tif")


def test_shift_jis_identifier_with_ascii_trail_byte() -> None:
    """In Shift-JIS ``表`` is b'\\x95\\x5c': its second byte is a backslash."""
    code = "# -*- coding: shift_jis -*-\ndef 表示(x=lambda: 1):\n    return [表 for 表 in x]\n"
    source, rows = extract(LAYER, "sjis.py", code.encode("shift_jis"))
    assert "表".encode("shift_jis") == b"\x95\x5c"
    display = scope_at(rows, "表示")
    assert source.data[display["name_bstart"] : display["name_bend"]] == "表示".encode("shift_jis")
    check_scope_spans(source, rows)


def test_identifier_spans_keep_the_source_spelling() -> None:
    """Identifiers are NFKC-normalised by the parser; the span is what the file says."""
    source, rows = extract(LAYER, "nfkc.py", "def ﬁle(): pass\nclass ℌello: pass\n".encode())
    assert [s["name"] for s in scopes(rows)[1:]] == ["file", "Hello"]
    spelled = [text(source, s["name_bstart"], s["name_bend"]) for s in scopes(rows)[1:]]
    assert spelled == ["ﬁle", "ℌello"]


def test_identifier_after_continuation_lines() -> None:
    source, rows = extract(
        LAYER,
        "cont.py",
        b"def \\\n  f(): pass\nasync  \\\r\n def\tg(): pass\nclass\x0cA  (object)  : pass\n",
    )
    assert [source.data[s["name_bstart"] : s["name_bend"]] for s in scopes(rows)[1:]] == [
        b"f",
        b"g",
        b"A",
    ]
    check_scope_spans(source, rows)
