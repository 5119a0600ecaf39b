"""The ``symtable`` evidence layer: the compiler's scopes and the binding flags of every name.

CPython's symbol table is the authority on which names are local, free, global or
imported in each scope, but it only says *where* a scope is by (name, first line). To
give every scope a byte span, its blocks are matched, per enclosing scope, to the ``ast``
nodes that create them, keyed by (name, line). Two things need care. Which scope a node
belongs to: defaults, annotations, decorators, base classes and a comprehension's first
iterable are evaluated in the *enclosing* scope. And the order of blocks that share a
key (several lambdas on one line): the symtable pass visits defaults before annotations
before decorators, all keys of a dict display before its values, a comprehension's value
before its key, which is not source order; the walker below replays that order. A block
it cannot match (a kind of scope a newer interpreter adds) keeps a null span.
"""

from __future__ import annotations

import ast
import codecs
import platform
import re
import symtable
import unicodedata
import warnings
from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from codeanatomy.extract.layer import LayerSpec, RowTuples
from codeanatomy.extract.schema import (
    FileId,
    OptByteEnd,
    OptByteStart,
    OptLineNo,
    OptNameEnd,
    OptNameStart,
    OptScopeRef,
    Row,
    ScopeId,
    ScopeRef,
    TableSpec,
)
from codeanatomy.scan.source import SourceFile


class SymScopeRow(Row, frozen=True):
    file_id: FileId
    scope_idx: ScopeId
    parent_scope_idx: OptScopeRef
    scope_type: str
    name: str
    lineno: OptLineNo
    is_nested: bool
    is_optimized: bool
    child_index: int | None
    bstart: OptByteStart
    bend: OptByteEnd
    def_node_kind: str | None
    name_bstart: OptNameStart
    name_bend: OptNameEnd


class SymSymbolRow(Row, frozen=True):
    file_id: FileId
    scope_idx: ScopeRef
    name: str
    is_referenced: bool
    is_imported: bool
    is_parameter: bool
    is_global: bool
    is_declared_global: bool
    is_local: bool
    is_annotated: bool
    is_free: bool
    is_assigned: bool
    is_namespace: bool
    is_nonlocal: bool
    is_type_parameter: bool
    is_free_class: bool
    is_comp_iter: bool
    is_comp_cell: bool
    namespace_count: int


SYM_SCOPES = TableSpec(
    "sym_scopes",
    SymScopeRow,
    "symbol-table blocks in pre-order (module = 0) with the span of the node defining each",
)
SYM_SYMBOLS = TableSpec(
    "sym_symbols",
    SymSymbolRow,
    "every name of every symbol-table block with the compiler's binding flags",
)

# The boolean ``Symbol`` methods, in column order up to ``is_namespace`` and after it.
# The last four only exist on newer interpreters; they read False where missing so the
# column set does not depend on the Python version.
_FLAGS_BEFORE_NAMESPACE = (
    "is_referenced",
    "is_imported",
    "is_parameter",
    "is_global",
    "is_declared_global",
    "is_local",
    "is_annotated",
    "is_free",
    "is_assigned",
)
_FLAGS_AFTER_NAMESPACE = (
    "is_nonlocal",
    "is_type_parameter",
    "is_free_class",
    "is_comp_iter",
    "is_comp_cell",
)

# Walker node kinds: how a node's children are visited by the compiler's symtable pass.
_GENERIC, _DEF, _CLASS, _LAMBDA, _COMP, _DICTCOMP, _ANNASSIGN = range(7)
_SPECIAL_KINDS: Mapping[type, int] = MappingProxyType(
    {
        ast.FunctionDef: _DEF,
        ast.AsyncFunctionDef: _DEF,
        ast.ClassDef: _CLASS,
        ast.Lambda: _LAMBDA,
        ast.ListComp: _COMP,
        ast.SetComp: _COMP,
        ast.GeneratorExp: _COMP,
        ast.DictComp: _DICTCOMP,
        ast.AnnAssign: _ANNASSIGN,
    }
)
# Fields that never hold AST nodes (identifiers, operators, flags, comments), or whose
# nodes cannot contain a scope (``alias`` lists, a type alias's ``Name``).
_SCALAR_FIELDS = frozenset(
    {
        "ctx",
        "op",
        "ops",
        "name",
        "names",
        "id",
        "arg",
        "attr",
        "module",
        "level",
        "kind",
        "conversion",
        "simple",
        "is_async",
        "type_comment",
        "tag",
        "asname",
        "kwd_attrs",
        "rest",
        "type_ignores",
        "lineno",
    }
)
_NO_CHILDREN = (ast.Constant, ast.MatchSingleton)
_NAMED_DEFS = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef})


def _walk_table() -> Mapping[type, tuple[int, tuple[str, ...], bool]]:
    """Per AST class: walker kind, node-holding fields (reversed, for a LIFO stack),
    and whether it has a line range to prune by."""
    table: dict[type, tuple[int, tuple[str, ...], bool]] = {}
    pending: list[type[ast.AST]] = [ast.AST]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        fields: tuple[str, ...] = ()
        if not issubclass(cls, _NO_CHILDREN):
            fields = tuple(f for f in reversed(cls._fields) if f not in _SCALAR_FIELDS)
        positioned = "end_lineno" in cls._attributes
        table[cls] = (_SPECIAL_KINDS.get(cls, _GENERIC), fields, positioned)
    return MappingProxyType(table)


_WALK = _walk_table()


def _block_names() -> Mapping[type, str]:
    """Block name the running interpreter gives each anonymous scope-creating node."""
    probes = {
        ast.Lambda: "lambda: 0",
        ast.ListComp: "[x for x in ()]",
        ast.SetComp: "{x for x in ()}",
        ast.DictComp: "{x: x for x in ()}",
        ast.GeneratorExp: "(x for x in ())",
    }
    names = {}
    for cls, code in probes.items():
        (child,) = symtable.symtable(code, "<probe>", "exec").get_children()
        names[cls] = child.get_name()
    return MappingProxyType(names)


_BLOCK_NAMES = _block_names()

# ``def``/``class`` keyword (after an optional ``async``) up to the identifier. Between
# tokens the tokenizer allows blanks and backslash continuations. In encodings where a
# non-ASCII character never contains an ASCII byte (UTF-8, latin-1, ...), the identifier
# is the run of bytes up to the next delimiter; other encodings go through the text.
_SEP = r"(?:[ \t\f]|\\(?:\r\n|\r|\n))+"
_DEF_NAME_BYTES = re.compile(
    (rf"(?:async{_SEP})?(?:def|class){_SEP}([^ \t\f\r\n\\(:\[]+)").encode()
)
_DEF_NAME_TEXT = re.compile(rf"(?:async{_SEP})?(?:def|class){_SEP}([^ \t\f\r\n\\(:\[]+)")


def _future_annotations(module: ast.Module) -> bool:
    """Whether ``from __future__ import annotations`` is in effect, decided as the
    compiler's future pass does: only a docstring and future imports may precede it."""
    body = module.body
    i = 0
    if body and isinstance(body[0], ast.Expr):
        value = body[0].value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            i = 1
    for stmt in body[i:]:
        if not (isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"):
            return False
        if any(alias.name == "annotations" for alias in stmt.names):
            return True
    return False


def _ast_scopes(module: ast.Module, block_lines: list[int]) -> list[list[tuple[Any, int]]]:
    """Scope-creating nodes directly inside each AST scope (index 0: the module), each
    with the id of the scope it opens, in the order the symtable pass creates blocks.

    Subtrees whose line range holds no block's first line are skipped: they cannot
    contain a scope, and skipping them keeps this walk far cheaper than the parse.
    """
    walk = _WALK
    skip_annotations = _future_annotations(module)
    nlines = len(block_lines)
    children: list[list[tuple[Any, int]]] = [[]]
    # (node, AST scope id, whether the node's own block is entered now)
    stack: list[tuple[Any, int, bool]] = [(s, 0, False) for s in reversed(module.body)]
    push = stack.append
    extend = stack.extend
    pop = stack.pop
    while stack:
        node, scope, entering = pop()
        kind, fields, positioned = walk[node.__class__]
        if entering:
            inner = len(children)
            children[scope].append((node, inner))
            children.append([])
            if kind in (_DEF, _CLASS):
                extend([(s, inner, False) for s in reversed(node.body)])
            elif kind == _LAMBDA:
                push((node.body, inner, False))
            else:
                # Visited in this order: the first generator's target and ifs, the later
                # generators, the value (DictComp), the element; the first iterable was
                # visited outside.
                if kind == _DICTCOMP:
                    push((node.key, inner, False))
                    push((node.value, inner, False))
                else:
                    push((node.elt, inner, False))
                generators = node.generators
                for gen in reversed(generators[1:]):
                    extend([(e, inner, False) for e in reversed(gen.ifs)])
                    push((gen.iter, inner, False))
                    push((gen.target, inner, False))
                extend([(e, inner, False) for e in reversed(generators[0].ifs)])
                push((generators[0].target, inner, False))
            continue
        if positioned:
            i = bisect_left(block_lines, node.lineno)
            if i == nlines or block_lines[i] > node.end_lineno:
                continue
        if kind == _GENERIC:
            for field in fields:
                value = getattr(node, field)
                if value.__class__ is list:
                    extend([(v, scope, False) for v in reversed(value) if v is not None])
                elif value is not None:
                    push((value, scope, False))
        elif kind == _DEF:
            # The enclosing scope evaluates defaults, annotations, then decorators.
            push((node, scope, True))
            extend([(d, scope, False) for d in reversed(node.decorator_list)])
            args = node.args
            if not skip_annotations:
                if node.returns is not None:
                    push((node.returns, scope, False))
                annotated = [*args.posonlyargs, *args.args]
                if args.vararg is not None:
                    annotated.append(args.vararg)
                if args.kwarg is not None:
                    annotated.append(args.kwarg)
                annotated.extend(args.kwonlyargs)
                extend([(a.annotation, scope, False) for a in reversed(annotated) if a.annotation])
            extend([(d, scope, False) for d in reversed(args.kw_defaults) if d is not None])
            extend([(d, scope, False) for d in reversed(args.defaults)])
        elif kind == _CLASS:
            push((node, scope, True))
            extend([(d, scope, False) for d in reversed(node.decorator_list)])
            extend([(k, scope, False) for k in reversed(node.keywords)])
            extend([(b, scope, False) for b in reversed(node.bases)])
        elif kind == _LAMBDA:
            push((node, scope, True))
            args = node.args
            extend([(d, scope, False) for d in reversed(args.kw_defaults) if d is not None])
            extend([(d, scope, False) for d in reversed(args.defaults)])
        elif kind in (_COMP, _DICTCOMP):
            push((node, scope, True))
            push((node.generators[0].iter, scope, False))
        else:  # _ANNASSIGN
            if node.value is not None:
                push((node.value, scope, False))
            if not skip_annotations:
                push((node.annotation, scope, False))
            push((node.target, scope, False))
    return children


def _name_span(source: SourceFile, node: Any, bstart: int, bend: int) -> tuple[int, int]:
    """Byte span of a ``def``/``class`` identifier, read from the source after the keyword."""
    data = source.data
    match = _DEF_NAME_BYTES.match(data, bstart, bend)
    if match is None:
        raise ValueError(f"no identifier after the keyword at byte {bstart}")
    raw = match.group(1)
    if raw.isascii() or source.is_utf8:
        return match.start(1), match.end(1)
    codec = source.encoding
    if unicodedata.normalize("NFKC", raw.decode(codec, errors="replace")) == node.name:
        return match.start(1), match.end(1)
    # A multi-byte encoding whose characters may contain ASCII bytes (e.g. Shift-JIS).
    text = data[bstart:bend].decode(codec)
    found = _DEF_NAME_TEXT.match(text)
    if found is None:
        raise ValueError(f"no identifier after the keyword at byte {bstart}")
    start = bstart + len(text[: found.start(1)].encode(codec))
    return start, start + len(found.group(1).encode(codec))


def _symbol_rows(
    table: symtable.SymbolTable,
    head: tuple[str, int],
    namespaces: Counter[str] | None,
    interpreted: dict[int, tuple[tuple[bool, ...], tuple[bool, ...]]],
    add: Any,
) -> None:
    """Rows of a block's symbols, in the table's order.

    ``SymbolTable.lookup`` rescans every child block per name (quadratic on a module with
    many functions), so each distinct flag word is interpreted once through the public
    ``Symbol`` API and reused (``interpreted``, shared by blocks whose symbols the API
    treats alike); the namespace count comes from the block's child names, which is what
    ``Symbol.get_namespaces`` is made of.
    """
    for name, flags in table.get_identifiers().mapping.items():
        bits = interpreted.get(flags)
        if bits is None:
            symbol = table.lookup(name)
            bits = interpreted[flags] = (
                tuple(getattr(symbol, m)() for m in _FLAGS_BEFORE_NAMESPACE),
                tuple(_optional_flag(symbol, m) for m in _FLAGS_AFTER_NAMESPACE),
            )
        count = namespaces[name] if namespaces is not None else 0
        add((*head, name, *bits[0], count > 0, *bits[1], count))


def _optional_flag(symbol: symtable.Symbol, method: str) -> bool:
    """A flag this interpreter may not have (False where the method does not exist)."""
    query = getattr(symbol, method, None)
    return query is not None and bool(query())


_Candidates = dict[tuple[str, int], list[tuple[Any, int]]]
_Table = symtable.SymbolTable
# (table, parent index, index among the parent's children, the table's children)
_Block = tuple[_Table, int | None, int | None, list[_Table]]


def _preorder(top: symtable.SymbolTable) -> list[_Block]:
    """Every block of the file, in pre-order (the module first)."""
    blocks: list[_Block] = []
    pending: list[tuple[_Table, int | None, int | None]] = [(top, None, None)]
    while pending:
        table, parent, child_index = pending.pop()
        idx = len(blocks)
        kids = table.get_children()
        blocks.append((table, parent, child_index, kids))
        pending.extend([(kids[i], idx, i) for i in range(len(kids) - 1, -1, -1)])
    return blocks


def _candidates(module: ast.Module, block_lines: list[int]) -> list[_Candidates]:
    """Per AST scope: its child scope nodes (with their own scope id) by (block name,
    line), each list in symtable order."""
    block_names = _BLOCK_NAMES
    result: list[_Candidates] = []
    for nodes in _ast_scopes(module, block_lines):
        by_key: _Candidates = {}
        for pair in nodes:
            node = pair[0]
            name = block_names.get(node.__class__) or node.name
            by_key.setdefault((name, node.lineno), []).append(pair)
        result.append(by_key)
    return result


def extract(source: SourceFile) -> dict[str, RowTuples]:
    """Scopes and symbols of one file (raises if it does not decode or parse)."""
    text = source.text
    with warnings.catch_warnings():
        # Parser warnings (invalid escapes, ...) are reported by the ast layer, not here.
        warnings.simplefilter("ignore")
        top = symtable.symtable(text, source.relpath, "exec")
    blocks = _preorder(top)
    candidates = _candidates(
        source.python_ast(), sorted([block[0].get_lineno() for block in blocks[1:]])
    )

    file_id = source.file_id
    offset = source.offset_of_utf8_col
    scope_rows: RowTuples = []
    symbol_rows: RowTuples = []
    add_symbol = symbol_rows.append
    # Block index -> the candidates for its children. An unmatched block lends its
    # children its parent's candidates, so e.g. a generic function below a type-parameter
    # block still finds its ``def``.
    scope_candidates: list[_Candidates] = []
    flag_bits: dict[tuple[str, bool], dict[int, tuple[tuple[bool, ...], tuple[bool, ...]]]] = {}
    for idx, (table, parent, child_index, kids) in enumerate(blocks):
        name = table.get_name()
        scope_type = str(table.get_type()).lower().replace(" ", "_")
        lineno: int | None = table.get_lineno()
        bstart: int | None = None
        bend: int | None = None
        node_kind: str | None = None
        name_bstart: int | None = None
        name_bend: int | None = None
        if parent is None:
            lineno = None  # symtable says 0: the module has no defining line
            bstart = len(codecs.BOM_UTF8) if source.bom else 0
            bend = len(source.data)
            scope_candidates.append(candidates[0])
        else:
            pool = scope_candidates[parent]
            queue = pool.get((name, table.get_lineno()))
            if queue:
                node, inner = queue.pop(0)
                scope_candidates.append(candidates[inner])
                bstart = offset(node.lineno, node.col_offset)
                bend = offset(node.end_lineno, node.end_col_offset)
                node_kind = node.__class__.__name__
                if node.__class__ in _NAMED_DEFS:
                    name_bstart, name_bend = _name_span(source, node, bstart, bend)
            else:
                scope_candidates.append(pool)
        scope_rows.append(
            (
                file_id,
                idx,
                parent,
                scope_type,
                name,
                lineno,
                table.is_nested(),
                table.is_optimized(),
                child_index,
                bstart,
                bend,
                node_kind,
                name_bstart,
                name_bend,
            )
        )
        namespaces = Counter([k.get_name() for k in kids]) if kids else None
        # ``Symbol`` decides module scope from the table's name (3.11) or type (later).
        interpreted = flag_bits.setdefault((scope_type, name == "top"), {})
        _symbol_rows(table, (file_id, idx), namespaces, interpreted, add_symbol)
    return {SYM_SCOPES.name: scope_rows, SYM_SYMBOLS.name: symbol_rows}


LAYER = LayerSpec(
    name="symtable",
    doc="the compiler's symbol tables: scopes with spans, and every name's binding flags",
    tables=(SYM_SCOPES, SYM_SYMBOLS),
    extract=extract,
    version=platform.python_version,
    needs_text=True,
    default=True,
)
