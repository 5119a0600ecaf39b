"""The ``bytecode`` layer on snippets, the fixture repository and real stdlib files.

Expected values come from Python semantics, the source text and CPython's public ``dis``
API run independently here (compiling the decoded text, walking code objects with an
explicit stack, slicing the decoded lines by UTF-8 columns) — never from the layer's
output.
"""

from __future__ import annotations

import ast
import codecs
import dis
import importlib.util
import io
import itertools
import platform
import re
import subprocess
import sys
import sysconfig
import warnings
from collections import defaultdict
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import CodeType
from typing import Any

import pytest

from codeanatomy.extract.bytecode_layer import LAYER
from codeanatomy.extract.layer import LayerRows
from codeanatomy.scan.discover import discover
from codeanatomy.scan.source import SourceDecodeError, SourceFile
from tests import fixture_repos as fx
from tests.evidence_checks import assert_all_spans_in_bounds, check_layer_rows, records

STDLIB = Path(sysconfig.get_path("stdlib"))
NAMED_STDLIB = ("functools.py", "argparse.py", "asyncio/tasks.py")
SAMPLE_SIZE = 30
JUMP_OPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs) | frozenset(getattr(dis, "hasjump", ()))
NAME_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "LOAD_FAST"})
EXPR_CODE = {
    "<lambda>": ast.Lambda,
    "<genexpr>": ast.GeneratorExp,
    "<listcomp>": ast.ListComp,
    "<setcomp>": ast.SetComp,
    "<dictcomp>": ast.DictComp,
}
OPENERS = {"<lambda>": "lambda", "<genexpr>": "(", "<listcomp>": "[", "<setcomp>": "{",
           "<dictcomp>": "{"}  # fmt: skip

CFG_SNIPPET = b"""def choose(flag):
    if flag:
        x = 1
    else:
        x = 2
    return x


def total(items):
    s = 0
    for item in items:
        s += item
    return s


def guarded(f):
    try:
        return f()
    except ValueError:
        return None


pair = (lambda: 1, lambda: 22)
nested = [[a for a in row] for row in [b for b in ((1,),)]]
"""


# ---- helpers -------------------------------------------------------------------------


def codec_of(source: SourceFile) -> str:
    return source.codec


def span_of(source: SourceFile, rec: dict[str, Any]) -> str:
    return source.data[rec["bstart"] : rec["bend"]].decode(codec_of(source))


def code_objects(module: CodeType) -> Iterator[CodeType]:
    """Code objects in pre-order, children in ``co_consts`` order (module first)."""
    stack = [module]
    while stack:
        code = stack.pop()
        yield code
        stack.extend(reversed([c for c in code.co_consts if isinstance(c, CodeType)]))


def utf8_lines(text: str) -> list[bytes]:
    """Decoded lines (CR, LF and CRLF end lines, as for the tokenizer) as UTF-8 bytes."""
    return [line.encode("utf-8") for line in io.StringIO(text, newline="").readlines()]


def expected_text(lines: list[bytes], pos: Any) -> str | None:
    """The source a ``co_positions`` entry covers; None when it covers nothing."""
    if pos is None or None in pos or pos[0] < 1 or (pos[1], pos[3]) <= (pos[0], pos[2]):
        return None
    lineno, end_lineno, col, end_col = pos
    chunk = b"".join(lines[lineno - 1 : end_lineno])
    end = sum(len(line) for line in lines[lineno - 1 : end_lineno - 1]) + end_col
    return chunk[col:end].decode("utf-8")


def by_code(recs: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for rec in recs:
        grouped[rec["code_idx"]].append(rec)
    return grouped


def successors(edges: list[dict[str, Any]], kinds: frozenset[str]) -> dict[int, set[int]]:
    succ: dict[int, set[int]] = defaultdict(set)
    for edge in edges:
        if edge["kind"] in kinds:
            succ[edge["src_block_idx"]].add(edge["dst_block_idx"])
    return succ


def reachable(succ: dict[int, set[int]], start: int) -> set[int]:
    seen = {start}
    stack = [start]
    while stack:
        for nxt in succ[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


NORMAL = frozenset({"jump", "fallthrough"})
NO_SUCCESSOR = frozenset({"RETURN_VALUE", "RETURN_CONST", "RAISE_VARARGS", "RERAISE"})


def ends_flow(opname: str) -> bool:
    """Control never reaches the next instruction: return, raise, unconditional jump."""
    return opname in NO_SUCCESSOR or (opname.startswith("JUMP") and "_IF_" not in opname)


@cache
def stdlib_sample() -> tuple[str, ...]:
    paths = discover(STDLIB, exclude=["test/", "tests/", "idle_test/"]).paths
    stride = max(1, len(paths) // SAMPLE_SIZE)
    return tuple(dict.fromkeys([*NAMED_STDLIB, *paths[::stride][:SAMPLE_SIZE]]))


@cache
def stdlib_extract(rel: str) -> tuple[SourceFile, LayerRows]:
    source = SourceFile(rel, (STDLIB / rel).read_bytes())
    return source, LAYER.extract(source)


@cache
def snippet_extract() -> tuple[SourceFile, LayerRows]:
    source = SourceFile("snippet.py", CFG_SNIPPET)
    return source, LAYER.extract(source)


def fixture_extract(root: Path, rel: str) -> tuple[SourceFile, LayerRows]:
    source = SourceFile(rel, (root / rel).read_bytes())
    return source, LAYER.extract(source)


class Function:
    """One code object's blocks, instructions and edges, by qualname (test readability)."""

    def __init__(self, rows: LayerRows, qualname: str) -> None:
        (code,) = [r for r in records(LAYER, "bc_code_objects", rows) if r["qualname"] == qualname]
        idx = code["code_idx"]
        self.blocks = [r for r in records(LAYER, "bc_blocks", rows) if r["code_idx"] == idx]
        self.ins = [r for r in records(LAYER, "bc_instructions", rows) if r["code_idx"] == idx]
        self.edges = [r for r in records(LAYER, "bc_cfg_edges", rows) if r["code_idx"] == idx]

    def block_ins(self, block: int) -> list[dict[str, Any]]:
        return [r for r in self.ins if r["block_idx"] == block]

    def blocks_with(self, opname: str, lineno: int, argval: str | None = None) -> set[int]:
        return {
            r["block_idx"]
            for r in self.ins
            if r["opname"] == opname
            and r["lineno"] == lineno
            and (argval is None or r["argval_repr"] == argval)
        }

    def out(self, block: int, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.edges if e["src_block_idx"] == block and e["kind"] == kind]


# ---- declaration and fixture files ----------------------------------------------------


def test_layer_declaration() -> None:
    assert LAYER.name == "bytecode"
    assert LAYER.default and LAYER.needs_text
    assert LAYER.table_names() == ["bc_code_objects", "bc_instructions", "bc_blocks",
                                   "bc_cfg_edges"]  # fmt: skip
    assert LAYER.version() == (
        f"{platform.python_version()} magic {importlib.util.MAGIC_NUMBER.hex()}"
    )


@pytest.mark.parametrize("rel", fx.GOOD_FILES)
def test_good_fixture_files(messy_repo: Path, rel: str) -> None:
    source, rows = fixture_extract(messy_repo, rel)
    check_layer_rows(LAYER, rows)
    code = records(LAYER, "bc_code_objects", rows)
    assert code[0]["code_idx"] == 0 and code[0]["parent_code_idx"] is None
    assert code[0]["name"] == "<module>" and code[0]["span_source"] == "module"
    assert (code[0]["bstart"], code[0]["bend"]) == (3 if source.bom else 0, len(source.data))
    assert [r["code_idx"] for r in code] == list(range(len(code)))
    assert all(r["parent_code_idx"] < r["code_idx"] for r in code[1:])
    # Every code object of the sample package is a def, class, lambda or comprehension.
    assert all(r["span_source"] == "ast" for r in code[1:])
    for table in LAYER.table_names():
        assert_all_spans_in_bounds(records(LAYER, table, rows), len(source.data))
    assert all(r[0] == source.file_id for table in rows.values() for r in table)


@pytest.mark.parametrize(
    ("rel", "errors"),
    [
        ("broken_syntax.py", (SyntaxError,)),
        ("random_bytes.py", (SourceDecodeError,)),
        ("nul_byte.py", (SyntaxError, ValueError)),
        ("deep_nesting.py", (RecursionError,)),
    ],
)
def test_bad_fixture_files_raise(messy_repo: Path, rel: str, errors: tuple[type, ...]) -> None:
    assert rel in fx.BAD_FILES
    with pytest.raises(errors):
        fixture_extract(messy_repo, rel)


def test_code_objects_of_the_sample_package(messy_repo: Path) -> None:
    _, rows = fixture_extract(messy_repo, "pkg/core.py")
    code = {r["qualname"]: r for r in records(LAYER, "bc_code_objects", rows)}
    # CPython's qualnames: methods under their class, nested functions under <locals>.
    run, add = code["Derived.run"], code["make_adder.<locals>.add"]
    assert run["name"] == "run" and code["Derived"]["code_idx"] == run["parent_code_idx"]
    assert add["name"] == "add" and code["make_adder"]["code_idx"] == add["parent_code_idx"]
    # `def helper(x, /, y=2, *rest, flag=False, **extra)`: x, y positional; x only; flag kw.
    helper = code["Base.helper"]
    assert (helper["argcount"], helper["posonlyargcount"], helper["kwonlyargcount"]) == (2, 1, 1)
    init = code["Base.__init__"]  # (self, name, *, size)
    assert (init["argcount"], init["posonlyargcount"], init["kwonlyargcount"]) == (2, 0, 1)
    # `async def` -> coroutine; `async def` with `yield` -> async generator; genexpr -> generator.
    kinds = {name: (r["is_generator"], r["is_coroutine"], r["is_async_generator"])
             for name, r in code.items()}  # fmt: skip
    assert kinds["fetch"] == (False, True, False)
    assert kinds["stream"] == (False, False, True)
    assert kinds["Derived.run.<locals>.<genexpr>"] == (True, False, False)
    assert kinds["make_adder"] == (False, False, False)
    # A decorated def's code starts at its decorator line; its span still starts at `def`.
    wrapper = code["trace.<locals>.wrapper"]
    source = SourceFile("pkg/core.py", fx.PKG_CORE.encode())
    assert source.text.splitlines()[wrapper["firstlineno"] - 1].strip().startswith("@")
    assert span_of(source, wrapper).startswith("def wrapper(")
    for rec in code.values():
        assert rec["flags"] & 0x20 == 0x20 * rec["is_generator"]  # CO_GENERATOR
        assert rec["n_instructions"] == sum(
            1 for r in records(LAYER, "bc_instructions", rows) if r["code_idx"] == rec["code_idx"]
        )


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        # `y = café` and `return naïve + s` inside café(); `résultat = café()` at module level.
        ("latin1_cookie.py", {("LOAD_GLOBAL", "café"), ("LOAD_FAST", "naïve"),
                              ("LOAD_FAST", "s"), ("LOAD_NAME", "café")}),
        # `return π * 2` in größe(); `名前 = größe()` in the class body.
        ("bom_utf8.py", {("LOAD_FAST", "π"), ("LOAD_NAME", "größe")}),
        ("crlf.py", {("LOAD_GLOBAL", "os"), ("LOAD_FAST", "a"), ("LOAD_FAST", "b"),
                     ("LOAD_NAME", "crlf")}),
        ("tabs.py", {("LOAD_FAST", "self")}),
    ],
)  # fmt: skip
def test_name_loads_have_exact_spans_in_encoded_fixtures(
    messy_repo: Path, rel: str, expected: set[tuple[str, str]]
) -> None:
    source, rows = fixture_extract(messy_repo, rel)
    loads = [r for r in records(LAYER, "bc_instructions", rows) if r["opname"] in NAME_LOADS]
    assert {(r["opname"], r["argval_repr"]) for r in loads} >= expected
    for rec in loads:
        if rec["bstart"] is None:  # a class body's implicit `__module__ = __name__`
            assert rec["argval_repr"] == "__name__", rec
            continue
        raw = source.data[rec["bstart"] : rec["bend"]]
        assert raw == rec["argval_repr"].encode(codec_of(source)), rec


# ---- control flow on snippets ---------------------------------------------------------


def test_if_else_is_a_diamond() -> None:
    _, rows = snippet_extract()
    fn = Function(rows, "choose")
    # Only `if flag:` branches: its block ends in a conditional jump taken when the test
    # is false (to `x = 2`) and falls through into `x = 1` when it is true.
    (test,) = [b["block_idx"] for b in fn.blocks if fn.out(b["block_idx"], "jump")
               and fn.out(b["block_idx"], "fallthrough")]  # fmt: skip
    assert test in fn.blocks_with("LOAD_FAST", 2, "flag")
    (jump,) = fn.out(test, "jump")
    (fall,) = fn.out(test, "fallthrough")
    assert "IF" in jump["detail"] and dis.opmap[jump["detail"]] in JUMP_OPS
    then_block, else_block = fall["dst_block_idx"], jump["dst_block_idx"]
    assert then_block in fn.blocks_with("LOAD_CONST", 3, "1")
    assert else_block in fn.blocks_with("LOAD_CONST", 5, "2")
    succ = successors(fn.edges, NORMAL)
    then_reach, else_reach = reachable(succ, then_block), reachable(succ, else_block)
    # The branches exclude each other, and both end in `return x` (line 6): through one
    # shared join block, or each through its own copy when the compiler duplicates it.
    assert else_block not in then_reach and then_block not in else_reach
    returns = fn.blocks_with("RETURN_VALUE", 6)
    then_returns, else_returns = then_reach & returns, else_reach & returns
    assert then_returns and else_returns
    assert then_returns == else_returns or then_returns.isdisjoint(else_returns)
    assert all(e["kind"] != "exception" for e in fn.edges)


def test_for_loop_has_back_edge_and_exit() -> None:
    _, rows = snippet_extract()
    fn = Function(rows, "total")
    start = {b["block_idx"]: b["start_offset"] for b in fn.blocks}
    (header,) = fn.blocks_with("FOR_ITER", 11)
    # FOR_ITER jumps forward out of the loop when the iterator is exhausted...
    (exit_edge,) = fn.out(header, "jump")
    assert exit_edge["detail"] == "FOR_ITER"
    assert start[exit_edge["dst_block_idx"]] > start[header]
    succ = successors(fn.edges, NORMAL)
    assert reachable(succ, exit_edge["dst_block_idx"]) & fn.blocks_with("RETURN_VALUE", 13)
    # ...and otherwise falls into the body (`item` is stored), which jumps back to it.
    (body,) = fn.out(header, "fallthrough")
    assert body["dst_block_idx"] in fn.blocks_with("STORE_FAST", 11, "item")
    back = [e for e in fn.edges if e["kind"] == "jump" and e["dst_block_idx"] == header]
    assert back and all(start[e["src_block_idx"]] > start[header] for e in back)
    assert any(e["src_block_idx"] in reachable(succ, body["dst_block_idx"]) for e in back)


def test_try_except_has_exception_edge_to_handler() -> None:
    _, rows = snippet_extract()
    fn = Function(rows, "guarded")
    (call_block,) = fn.blocks_with("CALL", 18)
    (edge,) = fn.out(call_block, "exception")
    handler = edge["dst_block_idx"]
    # The try body runs with an empty value stack and does not need the raising offset.
    assert edge["detail"] == "depth=0 lasti=False"
    # The handler pushes the exception, then tests it against `ValueError` (line 19).
    assert fn.block_ins(handler)[0]["opname"] == "PUSH_EXC_INFO"
    succ = successors(fn.edges, NORMAL)
    assert reachable(succ, handler) & fn.blocks_with("LOAD_GLOBAL", 19, "ValueError")
    assert reachable(succ, handler) & fn.blocks_with("RETURN_VALUE", 20)
    # Without an exception, the call's block never reaches the handler.
    assert handler not in reachable(succ, call_block)


def test_argval_repr() -> None:
    source = SourceFile("s.py", b"def f(x):\n    return x in {'b', 'a', 'c'}\n" + b"s = '" +
                        b"y" * 300 + b"'\n")  # fmt: skip
    rows = LAYER.extract(source)
    ins = records(LAYER, "bc_instructions", rows)
    # A constant set in an `in` test folds to a frozenset; printed sorted, so stable.
    assert "frozenset({'a', 'b', 'c'})" in {r["argval_repr"] for r in ins}
    assert "<code f>" in {r["argval_repr"] for r in ins}  # no memory address
    assert "y" * 120 in {r["argval_repr"] for r in ins}  # truncated to 120 characters
    assert all((r["arg"] is None) == (r["argval_repr"] is None) for r in ins)
    assert LAYER.extract(source) == rows


# ---- structure and span fidelity on fixtures and stdlib --------------------------------


def structure_cases(messy_root: Path) -> Iterator[tuple[SourceFile, LayerRows]]:
    yield snippet_extract()
    for rel in fx.GOOD_FILES:
        yield fixture_extract(messy_root, rel)
    for rel in stdlib_sample():
        yield stdlib_extract(rel)


def test_blocks_tile_code_and_edges_follow_the_bytecode(messy_repo: Path) -> None:
    for source, rows in structure_cases(messy_repo):
        check_layer_rows(LAYER, rows)
        module = compile(source.text, source.relpath, "exec", dont_inherit=True)
        blocks = by_code(records(LAYER, "bc_blocks", rows))
        instructions = by_code(records(LAYER, "bc_instructions", rows))
        edges = by_code(records(LAYER, "bc_cfg_edges", rows))
        code_rows = records(LAYER, "bc_code_objects", rows)
        for idx, code in enumerate(code_objects(module)):
            where = (source.relpath, code.co_qualname)
            assert code_rows[idx]["qualname"] == code.co_qualname, where
            bl, ins = blocks[idx], instructions[idx]
            assert code_rows[idx]["n_blocks"] == len(bl)
            # Blocks tile [0, len(co_code)) in order, without gaps or overlaps.
            assert [b["block_idx"] for b in bl] == list(range(len(bl)))
            assert bl[0]["start_offset"] == 0 and bl[-1]["end_offset"] == len(code.co_code)
            assert all(a["end_offset"] == b["start_offset"] for a, b in itertools.pairwise(bl))
            assert all(b["start_offset"] < b["end_offset"] for b in bl)
            for b in bl:
                members = [r for r in ins if r["block_idx"] == b["block_idx"]]
                assert len(members) == b["n_instructions"] > 0
                assert members[0]["offset"] == b["start_offset"]
                assert all(b["start_offset"] <= r["offset"] < b["end_offset"] for r in members)
                spans = [r for r in members if r["bstart"] is not None]
                assert b["bstart"] == min((r["bstart"] for r in spans), default=None)
                assert b["bend"] == max((r["bend"] for r in spans), default=None)
                lines = [r["lineno"] for r in members if r["lineno"] is not None]
                assert b["first_lineno"] == (lines[0] if lines else None)
            # The instructions are dis's, in order, without CACHE entries; a jump target is
            # where a jump or an exception handler lands.
            expected = list(dis.get_instructions(code))
            entries = dis.Bytecode(code).exception_entries  # type: ignore[attr-defined]
            targets = {i.argval for i in expected if i.opcode in JUMP_OPS}
            targets |= {entry.target for entry in entries}
            assert [(r["offset"], r["opname"], r["arg"], r["is_jump_target"]) for r in ins] == [
                (i.offset, i.opname, i.arg, i.offset in targets) for i in expected
            ], where
            # The edges are exactly what the bytecode implies: a jump to its target's
            # block, a fall-through unless the block ends in a return, raise or
            # unconditional jump, and an exception edge from every block an
            # exception-table range covers to its handler's block.
            block_at = {b["start_offset"]: b["block_idx"] for b in bl}
            want: set[tuple[int, int, str, str | None]] = set()
            for b in bl:
                src = b["block_idx"]
                last = [i for i in expected if b["start_offset"] <= i.offset < b["end_offset"]][-1]
                if last.opcode in JUMP_OPS:
                    want.add((src, block_at[last.argval], "jump", last.opname))
                if src + 1 < len(bl) and not ends_flow(last.opname):
                    want.add((src, src + 1, "fallthrough", None))
            starts = set(block_at)
            for entry in entries:
                # A range's start and end split blocks, so each block is wholly in or out.
                assert entry.start in starts and entry.target in starts, where
                assert entry.end in starts or entry.end == len(code.co_code), where
                detail = f"depth={entry.depth} lasti={entry.lasti}"
                for b in bl:
                    if b["start_offset"] < entry.end and entry.start < b["end_offset"]:
                        want.add((b["block_idx"], block_at[entry.target], "exception", detail))
            got = [(e["src_block_idx"], e["dst_block_idx"], e["kind"], e["detail"])
                   for e in edges[idx]]  # fmt: skip
            assert len(got) == len(set(got)) and set(got) == want, where


def test_instruction_spans_are_the_positions_source(messy_repo: Path) -> None:
    for source, rows in structure_cases(messy_repo):
        lines = utf8_lines(source.text)
        module = compile(source.text, source.relpath, "exec", dont_inherit=True)
        instructions = by_code(records(LAYER, "bc_instructions", rows))
        for idx, code in enumerate(code_objects(module)):
            expected = list(dis.get_instructions(code))
            assert len(expected) == len(instructions[idx])
            for ins, rec in zip(expected, instructions[idx], strict=True):
                pos = ins.positions
                want = expected_text(lines, pos)
                line = pos.lineno if pos is not None and pos.lineno else None
                assert rec["lineno"] == line, (source.relpath, rec)
                if want is None:
                    assert rec["bstart"] is None and rec["bend"] is None, rec
                else:
                    got = span_of(source, rec)
                    assert got == want and got, (source.relpath, rec, want)
                    assert source.line_of_offset(rec["bstart"]) == line


def mangled(name: str, text: str, qualname: str) -> bool:
    """``text`` is a private name that CPython mangled with an enclosing class name."""
    if not text.startswith("__") or text.endswith("__") or not name.endswith(text):
        return False
    owners = {part.lstrip("_") for part in qualname.split(".")}
    return name.startswith("_") and name[1 : -len(text)] in owners


def test_name_loads_span_their_names_on_stdlib() -> None:
    for rel in stdlib_sample():
        source, rows = stdlib_extract(rel)
        qualname = {r["code_idx"]: r["qualname"] for r in records(LAYER, "bc_code_objects", rows)}
        for rec in records(LAYER, "bc_instructions", rows):
            if rec["opname"] not in NAME_LOADS or rec["bstart"] is None:
                continue
            name, text = rec["argval_repr"], span_of(source, rec)
            if text == name:
                continue
            where = (rel, rec)
            if name.startswith("."):  # compiler temporaries: a comprehension's iterator
                continue
            if name == "__annotations__":  # `x: T = v` stores into __annotations__
                assert isinstance(ast.parse(text.strip()).body[0], ast.AnnAssign), where
            elif sys.version_info >= (3, 12) and text == "super()":
                assert rec["opname"] == "LOAD_FAST", where  # zero-argument super's first arg
            elif sys.version_info >= (3, 13) and re.match(r"(async\s+)?def|class|lambda", text):
                assert rec["opname"] == "LOAD_FAST", where  # cell loaded to build a closure
            else:
                assert mangled(name, text, qualname[rec["code_idx"]]), where


def test_code_object_spans_are_their_definitions(messy_repo: Path) -> None:
    for source, rows in structure_cases(messy_repo):
        code_rows = records(LAYER, "bc_code_objects", rows)
        for rec in code_rows[1:]:
            if rec["span_source"] != "ast":
                continue
            where = (source.relpath, rec["qualname"])
            text, name = span_of(source, rec), rec["name"]
            if name in EXPR_CODE:
                assert text.startswith(OPENERS[name]), where
                node = ast.parse(f"({text})", mode="eval").body
                assert isinstance(node, EXPR_CODE[name]), where
                continue
            assert re.match(rf"((async\s+)?def|class)\s+{re.escape(name)}\b", text), where
            # Re-parse the statement at its own indentation: exactly one def/class.
            line_start = source.line_starts[source.line_of_offset(rec["bstart"]) - 1]
            indent = source.data[line_start : rec["bstart"]].removeprefix(codecs.BOM_UTF8)
            stmt_text = indent.decode(codec_of(source)) + text
            body = ast.parse(f"if 1:\n{stmt_text}" if indent else stmt_text).body
            stmts = body[0].body if indent else body  # type: ignore[attr-defined]
            assert len(stmts) == 1, where
            stmt = stmts[0]
            assert isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            assert stmt.name == name, where
            # A decorated definition's code starts at its first decorator's line.
            def_line = source.line_of_offset(rec["bstart"])
            assert rec["firstlineno"] <= def_line, where
            if rec["firstlineno"] < def_line:
                lines = source.text.splitlines()
                assert lines[rec["firstlineno"] - 1].lstrip().startswith("@"), where


def test_code_spans_agree_with_the_creating_instruction(messy_repo: Path) -> None:
    """Two independent sources agree: the matched AST node, and the position CPython gives
    the ``LOAD_CONST`` that loads the nested code object in its parent."""
    for source, rows in structure_cases(messy_repo):
        defined = {
            (r["parent_code_idx"], f"<code {r['qualname']}>"[:120], r["bstart"], r["bend"])
            for r in records(LAYER, "bc_code_objects", rows)[1:]
        }
        loaded = {
            (r["code_idx"], r["argval_repr"], r["bstart"], r["bend"])
            for r in records(LAYER, "bc_instructions", rows)
            if r["opname"] == "LOAD_CONST" and r["argval_repr"].startswith("<code ")
        }
        assert defined == loaded, source.relpath


def test_instructions_lie_within_their_code_object(messy_repo: Path) -> None:
    """A code object's instructions come from its own definition (same-line lambdas and
    nested comprehensions in the snippet must each get their own node)."""
    for source, rows in structure_cases(messy_repo):
        code_rows = records(LAYER, "bc_code_objects", rows)
        for rec in records(LAYER, "bc_instructions", rows):
            if rec["bstart"] is not None:
                code = code_rows[rec["code_idx"]]
                assert code["bstart"] <= rec["bstart"] < rec["bend"] <= code["bend"], (
                    source.relpath,
                    rec,
                )


ASSERTING = b"def check(x):\n    assert x is 1, 'one'\n    return x\n"


def test_compiler_warnings_are_not_emitted() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = LAYER.extract(SourceFile("w.py", ASSERTING))  # `is` with a literal warns
    assert caught == []
    assert "LOAD_ASSERTION_ERROR" in {r["opname"] for r in records(LAYER, "bc_instructions", rows)}


def test_bytecode_ignores_the_interpreter_optimize_flag() -> None:
    """Under ``python -O`` asserts still compile: evidence is the same for every run."""
    script = (
        "from codeanatomy.extract.bytecode_layer import LAYER\n"
        "from codeanatomy.scan.source import SourceFile\n"
        f"rows = LAYER.extract(SourceFile('w.py', {ASSERTING!r}))\n"
        "print(sorted({row[3] for row in rows['bc_instructions']}))\n"
    )
    optimized = subprocess.run(
        [sys.executable, "-O", "-c", script], capture_output=True, text=True, check=True
    )
    rows = LAYER.extract(SourceFile("w.py", ASSERTING))
    assert optimized.stdout.strip() == str(sorted({r[3] for r in rows["bc_instructions"]}))
    assert "LOAD_ASSERTION_ERROR" in optimized.stdout
