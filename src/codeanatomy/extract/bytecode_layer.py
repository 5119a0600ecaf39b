"""The ``bytecode`` evidence layer: code objects, instructions, basic blocks and CFG edges.

The file is compiled from the shared ``ast`` tree (one parse per file) and disassembled
with the public :mod:`dis` API, so the evidence is what *this* interpreter executes:
bytecode differs between CPython versions, and the layer version names the interpreter
and its bytecode magic number so stored evidence is never mixed across them.

Version notes (why the code looks the way it does):

* jumps are recognised from ``dis.hasjrel``/``dis.hasjabs`` and, where present,
  ``dis.hasjump`` (3.13); the target is ``Instruction.jump_target`` where it exists and
  ``argval`` (an offset for every jump on 3.11/3.12) otherwise;
* inline ``CACHE`` entries are skipped (``show_caches=False``); a block's end offset is
  the next block's start, so blocks tile ``co_code`` including trailing caches;
* list/set/dict comprehensions own a code object only before 3.12 (PEP 709 inlines
  them), so they are code-defining AST nodes only there;
* code objects that have no defining AST node on this interpreter (3.12 generic-parameter
  scopes, 3.14 ``__annotate__`` functions) fall back to their instructions' positions.

Positions come from ``co_positions`` (UTF-8 columns of the decoded line). Compiler-made
instructions carry no source text: a position that is incomplete, on line 0 (the module's
``RESUME``) or zero-width (``RESUME``, the class-body prologue, a lambda's implicit
return) yields a null span, so every non-null span is real source text.
"""

from __future__ import annotations

import ast
import dis
import importlib.util
import inspect
import operator
import platform
import sys
import warnings
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from types import CodeType, MappingProxyType
from typing import Any

from codeanatomy.extract.layer import LayerSpec, RowTuples
from codeanatomy.extract.schema import (
    CodeId,
    CodeRef,
    FileId,
    LineNo,
    OptByteEnd,
    OptByteStart,
    OptCodeRef,
    OptLineNo,
    Row,
    TableSpec,
)
from codeanatomy.scan.source import SourceFile


class BcCodeObjectRow(Row, frozen=True):
    file_id: FileId
    code_idx: CodeId
    parent_code_idx: OptCodeRef
    name: str
    qualname: str
    firstlineno: LineNo
    argcount: int
    posonlyargcount: int
    kwonlyargcount: int
    flags: int
    is_generator: bool
    is_coroutine: bool
    is_async_generator: bool
    n_instructions: int
    n_blocks: int
    bstart: OptByteStart
    bend: OptByteEnd
    span_source: str


class BcInstructionRow(Row, frozen=True):
    file_id: FileId
    code_idx: CodeRef
    offset: int
    opname: str
    opcode: int
    arg: int | None
    argval_repr: str | None
    is_jump_target: bool
    block_idx: int
    lineno: OptLineNo
    bstart: OptByteStart
    bend: OptByteEnd


class BcBlockRow(Row, frozen=True):
    file_id: FileId
    code_idx: CodeRef
    block_idx: int
    start_offset: int
    end_offset: int
    n_instructions: int
    first_lineno: OptLineNo
    bstart: OptByteStart
    bend: OptByteEnd


class BcCfgEdgeRow(Row, frozen=True):
    file_id: FileId
    code_idx: CodeRef
    src_block_idx: int
    dst_block_idx: int
    kind: str
    detail: str | None


BC_CODE_OBJECTS = TableSpec(
    "bc_code_objects",
    BcCodeObjectRow,
    "code objects in pre-order (module = 0); span_source: 'module' | 'ast' (defining node) | "
    "'positions' (instruction extent)",
)
BC_INSTRUCTIONS = TableSpec(
    "bc_instructions",
    BcInstructionRow,
    "dis instructions without CACHE entries; is_jump_target: a jump or exception handler "
    "lands here; span from co_positions (null when synthetic)",
)
BC_BLOCKS = TableSpec(
    "bc_blocks",
    BcBlockRow,
    "basic blocks per code object; [start_offset, end_offset) tile co_code in block order",
)
BC_CFG_EDGES = TableSpec(
    "bc_cfg_edges",
    BcCfgEdgeRow,
    "control-flow edges between blocks: fallthrough | jump (detail: opname) | "
    "exception (detail: handler stack depth and lasti flag)",
)

_ARGVAL_MAX = 120

_JUMP_OPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs) | frozenset(getattr(dis, "hasjump", ()))
_UNCONDITIONAL_JUMP_OPS = frozenset(
    dis.opmap[name]
    for name in (
        "JUMP_FORWARD",
        "JUMP_BACKWARD",
        "JUMP_BACKWARD_NO_INTERRUPT",
        "JUMP_ABSOLUTE",
        "JUMP",
        "JUMP_NO_INTERRUPT",
    )
    if name in dis.opmap
)
# Instructions after which control never reaches the next instruction.
_NO_FALLTHROUGH_OPS = _UNCONDITIONAL_JUMP_OPS | frozenset(
    dis.opmap[name]
    for name in ("RETURN_VALUE", "RETURN_CONST", "RAISE_VARARGS", "RERAISE")
    if name in dis.opmap
)
_NO_POSITION = (None, None, None, None)
_jump_target: Callable[[dis.Instruction], Any] = operator.attrgetter(
    "jump_target" if hasattr(dis.Instruction, "jump_target") else "argval"
)

# AST nodes that compile to their own code object on this interpreter, and the co_name
# CPython gives them (definitions use their own name).
_INLINED_COMPREHENSIONS = sys.version_info >= (3, 12)
_EXPR_CODE_NAMES: MappingProxyType[type[ast.AST], str] = MappingProxyType(
    {
        ast.Lambda: "<lambda>",
        ast.GeneratorExp: "<genexpr>",
        **(
            {}
            if _INLINED_COMPREHENSIONS
            else {ast.ListComp: "<listcomp>", ast.SetComp: "<setcomp>", ast.DictComp: "<dictcomp>"}
        ),
    }
)
_DEF_TYPES = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef})
_CODE_NODE_TYPES = _DEF_TYPES | frozenset(_EXPR_CODE_NAMES)
_EXPR_CODE_CO_NAMES = frozenset(_EXPR_CODE_NAMES.values())

# Fields never holding a node that can contain code (identifiers, flags, contexts).
_SCALAR_FIELDS = frozenset(
    {
        "ctx",
        "op",
        "id",
        "attr",
        "arg",
        "name",
        "names",
        "module",
        "level",
        "kind",
        "conversion",
        "is_async",
        "simple",
        "type_comment",
        "tag",
        "rest",
        "kwd_attrs",
    }
)
_CHILD_FIELDS: MappingProxyType[type, tuple[str, ...]] = MappingProxyType(
    {
        cls: tuple(f for f in cls._fields if f not in _SCALAR_FIELDS)
        for cls in vars(ast).values()
        if isinstance(cls, type)
        and issubclass(cls, ast.AST)
        and cls not in (ast.Constant, ast.MatchSingleton)
    }
)


def _version() -> str:
    return f"{platform.python_version()} magic {importlib.util.MAGIC_NUMBER.hex()}"


def _code_key(node: Any) -> tuple[str, int]:
    """The (co_name, co_firstlineno) CPython gives the code object of ``node``.

    A decorated definition's code starts at its first decorator's line.
    """
    if type(node) in _DEF_TYPES:
        decorators = node.decorator_list
        return node.name, decorators[0].lineno if decorators else node.lineno
    return _EXPR_CODE_NAMES[type(node)], node.lineno


def _own_parts(node: Any) -> list[Any]:
    """The sub-trees of a code-defining node that execute in its own code object."""
    cls = type(node)
    if cls is ast.Module or cls in _DEF_TYPES:
        return list(node.body)
    if cls is ast.Lambda:
        return [node.body]
    first, *rest = node.generators
    parts: list[Any] = [first.target, *first.ifs, *rest]
    if cls is ast.DictComp:
        parts += [node.key, node.value]
    else:
        parts.append(node.elt)
    return parts


def _enclosing_parts(node: Any) -> list[Any]:
    """The sub-trees of a code-defining node evaluated by the enclosing code object."""
    cls = type(node)
    if cls is ast.ClassDef:
        return [*node.decorator_list, *node.bases, *node.keywords]
    if cls is ast.Lambda:
        return [node.args]
    if cls in _DEF_TYPES:
        parts = [*node.decorator_list, node.args]
        return parts if node.returns is None else [*parts, node.returns]
    return [node.generators[0].iter]


def _scope_children(scope: Any, expr_lines: list[int]) -> dict[tuple[str, int], list[Any]]:
    """Code-defining nodes directly inside ``scope``'s code object, by code key, in order.

    Expressions are only entered when they span a line where a lambda or comprehension
    code object of this scope starts (``expr_lines``, sorted), which skips most of the tree.
    """
    found: dict[tuple[str, int], list[Any]] = {}
    code_types = _CODE_NODE_TYPES
    child_fields = _CHILD_FIELDS
    expr_type = ast.expr
    n_lines = len(expr_lines)
    stack = _own_parts(scope)
    stack.reverse()
    pop = stack.pop
    push = stack.append
    while stack:
        node = pop()
        cls = type(node)
        if cls in code_types:
            found.setdefault(_code_key(node), []).append(node)
            children = _enclosing_parts(node)
        else:
            children = []
            for field in child_fields.get(cls, ()):
                value = getattr(node, field)
                if value.__class__ is list:
                    children.extend(value)
                elif value is not None:
                    children.append(value)
        for child in reversed(children):
            if isinstance(child, expr_type):
                if not n_lines:
                    continue
                i = bisect_left(expr_lines, child.lineno)
                if i == n_lines or expr_lines[i] > (child.end_lineno or child.lineno):
                    continue
            elif child is None:
                continue
            push(child)
    return found


def _argval_text(value: Any) -> str:
    """``str(argval)``, made deterministic: code objects and frozensets print stably."""
    if isinstance(value, CodeType):
        return f"<code {value.co_qualname}>"
    if isinstance(value, frozenset):
        return "frozenset({" + ", ".join(sorted(repr(v) for v in value)) + "})"
    return str(value)


class _FileRows:
    """Row lists of one file, filled one code object at a time."""

    def __init__(self, source: SourceFile) -> None:
        self.file_id = source.file_id
        self.to_offset = source.offset_of_utf8_col
        # UTF-8 files: base + column, no call per position (see SourceFile.line_bases)
        self.line_bases = source.line_bases if source.is_utf8 else None
        self.code: RowTuples = []
        self.instructions: RowTuples = []
        self.blocks: RowTuples = []
        self.edges: RowTuples = []

    def add_code(self, code: CodeType, code_idx: int) -> tuple[int, int, int | None, int | None]:
        """Emit the instructions, blocks and edges of ``code``.

        Returns the instruction count, block count and the extent of the instructions'
        spans (min start, max end; null when none has one).
        """
        file_id = self.file_id
        to_offset = self.to_offset
        bases = self.line_bases
        add_ins = self.instructions.append
        add_block = self.blocks.append
        add_edge = self.edges.append
        jump_ops = _JUMP_OPS
        no_fallthrough_ops = _NO_FALLTHROUGH_OPS
        jump_target = _jump_target
        argval_max = _ARGVAL_MAX

        bytecode = dis.Bytecode(code, show_caches=False)
        instructions = list(bytecode)
        # Public since 3.11 but missing from typeshed's Bytecode stub.
        entries: list[Any] = bytecode.exception_entries  # type: ignore[attr-defined]

        # Leaders: entry, jump targets, instructions after a jump or terminator, and the
        # exception table's handlers and range boundaries.
        leaders = {0}
        for entry in entries:
            leaders.add(entry.start)
            leaders.add(entry.end)
            leaders.add(entry.target)
        after_branch = False
        for ins in instructions:
            if after_branch:
                leaders.add(ins.offset)
            op = ins.opcode
            if op in jump_ops:
                leaders.add(jump_target(ins))
                after_branch = True
            else:
                after_branch = op in no_fallthrough_ops
        starts = sorted(leaders.intersection([ins.offset for ins in instructions]))
        block_of = {start: i for i, start in enumerate(starts)}

        first_block_row = len(self.blocks)
        block_idx = -1
        block_n = 0
        block_line: int | None = None
        block_bstart: int | None = None
        block_bend: int | None = None
        last_pos: Any = None
        bstart: int | None = None
        bend: int | None = None
        lineno: int | None = None
        prev: Any = None
        for ins in instructions:
            offset = ins.offset
            if offset in block_of:
                if block_idx >= 0:
                    add_block(
                        (
                            file_id,
                            code_idx,
                            block_idx,
                            starts[block_idx],
                            offset,
                            block_n,
                            block_line,
                            block_bstart,
                            block_bend,
                        )
                    )
                    op = prev.opcode
                    if op in jump_ops:
                        add_edge(
                            (
                                file_id,
                                code_idx,
                                block_idx,
                                block_of[jump_target(prev)],
                                "jump",
                                prev.opname,
                            )
                        )
                    if op not in no_fallthrough_ops:
                        add_edge((file_id, code_idx, block_idx, block_idx + 1, "fallthrough", None))
                block_idx += 1
                block_n = 0
                block_line = block_bstart = block_bend = None
            pos = ins.positions
            if pos != last_pos:
                last_pos = pos
                lineno, end_lineno, col, end_col = pos or _NO_POSITION
                if lineno is not None and lineno < 1:
                    lineno = None
                if lineno is None or end_lineno is None or col is None or end_col is None:
                    bstart = bend = None
                else:
                    if bases is None:
                        bstart = to_offset(lineno, col)
                        bend = to_offset(end_lineno, end_col)
                    else:
                        bstart = bases[lineno] + col
                        bend = bases[end_lineno] + end_col
                    if bend <= bstart:
                        bstart = bend = None
            arg = ins.arg
            if arg is None:
                argval_repr = None
            else:
                argval = ins.argval
                if argval.__class__ is str:
                    argval_repr = argval[:argval_max]
                elif argval.__class__ is int:
                    argval_repr = str(argval)
                else:
                    argval_repr = _argval_text(argval)[:argval_max]
            add_ins(
                (
                    file_id,
                    code_idx,
                    offset,
                    ins.opname,
                    ins.opcode,
                    arg,
                    argval_repr,
                    ins.is_jump_target,
                    block_idx,
                    lineno,
                    bstart,
                    bend,
                )
            )
            block_n += 1
            if block_line is None:
                block_line = lineno
            if bstart is not None:
                if block_bstart is None or bstart < block_bstart:
                    block_bstart = bstart
                if block_bend is None or bend > block_bend:  # type: ignore[operator]
                    block_bend = bend
            prev = ins
        add_block(
            (
                file_id,
                code_idx,
                block_idx,
                starts[block_idx],
                len(code.co_code),
                block_n,
                block_line,
                block_bstart,
                block_bend,
            )
        )
        if prev.opcode in jump_ops:  # the last block has no next block to fall into
            add_edge(
                (file_id, code_idx, block_idx, block_of[jump_target(prev)], "jump", prev.opname)
            )
        for entry in entries:
            handler = block_of[entry.target]
            detail = f"depth={entry.depth} lasti={entry.lasti}"
            first = bisect_right(starts, entry.start) - 1
            last = bisect_left(starts, entry.end)
            for src in range(first, last):
                add_edge((file_id, code_idx, src, handler, "exception", detail))
        spans = [row[7:9] for row in self.blocks[first_block_row:] if row[7] is not None]
        if not spans:
            return len(instructions), len(starts), None, None
        return (
            len(instructions),
            len(starts),
            min(span[0] for span in spans),
            max(span[1] for span in spans),
        )


def extract(source: SourceFile) -> dict[str, RowTuples]:
    """Rows of every bytecode table for one file (raises when it does not compile)."""
    tree = source.python_ast()
    with warnings.catch_warnings():
        # Compiler warnings (`is` with a literal, ...) describe the source, which the ast
        # layer reports; a worker must not print them. optimize=0 keeps asserts and
        # docstrings whatever flags the interpreter runs with.
        warnings.simplefilter("ignore")
        module = compile(tree, source.relpath, "exec", dont_inherit=True, optimize=0)
    rows = _FileRows(source)
    file_id = source.file_id
    add_code = rows.code.append
    # (code, parent index, defining AST node or None, AST scope its children are defined
    # in); pre-order with co_consts order. A code object without a node (a 3.12 generic
    # parameter scope) lends its parent's scope to its children: that is where the
    # definition it wraps sits in the tree.
    stack: list[tuple[CodeType, int | None, Any, Any]] = [(module, None, tree, tree)]
    code_idx = -1
    while stack:
        code, parent_idx, node, scope = stack.pop()
        code_idx += 1
        n_instructions, n_blocks, bstart, bend = rows.add_code(code, code_idx)
        if parent_idx is None:
            span_source = "module"
            bstart, bend = (3 if source.bom else 0), len(source.data)
        elif node is not None:
            span_source = "ast"
            bstart = source.offset_of_utf8_col(node.lineno, node.col_offset)
            bend = source.offset_of_utf8_col(node.end_lineno, node.end_col_offset)
        else:
            span_source = "positions"
        flags = code.co_flags
        add_code(
            (
                file_id,
                code_idx,
                parent_idx,
                code.co_name,
                code.co_qualname,
                code.co_firstlineno,
                code.co_argcount,
                code.co_posonlyargcount,
                code.co_kwonlyargcount,
                flags,
                bool(flags & inspect.CO_GENERATOR),
                bool(flags & inspect.CO_COROUTINE),
                bool(flags & inspect.CO_ASYNC_GENERATOR),
                n_instructions,
                n_blocks,
                bstart,
                bend,
                span_source,
            )
        )

        kids = [const for const in code.co_consts if isinstance(const, CodeType)]
        if not kids:
            continue
        expr_lines = sorted(
            {kid.co_firstlineno for kid in kids if kid.co_name in _EXPR_CODE_CO_NAMES}
        )
        matched = _scope_children(scope, expr_lines)
        for kid in reversed(kids):
            candidates = matched.get((kid.co_name, kid.co_firstlineno))
            # Reversed pushing keeps pre-order, so same-key nodes are taken from the end.
            if candidates:
                kid_node = candidates.pop()
                stack.append((kid, code_idx, kid_node, kid_node))
            else:
                stack.append((kid, code_idx, None, scope))

    return {
        BC_CODE_OBJECTS.name: rows.code,
        BC_INSTRUCTIONS.name: rows.instructions,
        BC_BLOCKS.name: rows.blocks,
        BC_CFG_EDGES.name: rows.edges,
    }


LAYER = LayerSpec(
    name="bytecode",
    doc="CPython bytecode of every code object: instructions, basic blocks and the CFG",
    tables=(BC_CODE_OBJECTS, BC_INSTRUCTIONS, BC_BLOCKS, BC_CFG_EDGES),
    extract=extract,
    version=_version,
    needs_text=True,
    default=True,
)
