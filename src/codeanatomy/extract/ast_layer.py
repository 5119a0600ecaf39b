"""The ``ast`` evidence layer: CPython's own parse tree, flattened into span-bearing tables.

The layer starts from the file's shared ``ast.parse`` (:meth:`SourceFile.python_ast`) and
walks it once, iteratively, in pre-order. ``node_idx`` is that pre-order index (children
in ``_fields`` order, so a def's ``body`` is numbered before its ``decorator_list``); every
other ``*_idx`` column refers to a ``node_idx`` of the same file.

Choices, each made because it is cheaper or closer to what Python means:

* ``expr_context`` singletons (Load/Store/Del) and operator singletons (Add, Eq, And, ...)
  are not nodes: they have no position and no identity. The context is the parent's
  ``ctx`` column, the operator the parent's ``op`` column (``Compare`` joins its operators
  with ``,``). This keeps ``ast_nodes`` to nodes that are source constructs.
* ``ast_nodes.name`` holds the identifier a node carries: ``Name.id``, def/class names,
  ``arg.arg``, ``keyword.arg``, ``Attribute.attr``, ``ImportFrom.module``, an alias's
  bound name (``asname`` or ``name``), ``ExceptHandler.name``, ``MatchAs``/``MatchStar``
  names, ``MatchMapping.rest`` and the ``,``-joined names of ``global``/``nonlocal``.
* Python 3.11 gives the literal fragments, ``FormattedValue`` wrappers and format specs
  inside an f-string the position of the whole f-string; those spans are not the node's
  text, so they are null, and the fragments are not literals. The expressions inside the
  braces keep their positions, except that a bare tuple or generator expression there is
  given the braces as parentheses; its span is narrowed to its own text.
* Spans: a UTF-8 column is a byte count, so for UTF-8 files a span is the line's raw
  start plus the column (what :meth:`SourceFile.offset_of_utf8_col` computes, without a
  call per position); files in other encodings go through that method.
* ``arguments``, ``comprehension``, ``withitem`` and ``match_case`` have no position
  (null span); the ``Module`` spans the whole file after any BOM.
* ``scope_def_idx`` is the def/class/lambda whose *body* holds the node. Decorators,
  defaults, annotations and base classes belong to the enclosing scope, where Python
  evaluates them. ``in_comprehension`` is lexical (the whole comprehension, including its
  first iterable); ``symtable`` has the exact scoping.
* ``ast_defs`` spans a def/class from its first decorator's ``@`` when decorated (ast's
  own position, kept in ``ast_nodes``, starts at ``def``/``async``/``class``); ``lineno``
  is ast's (the keyword line).
* ``ast_assignments`` covers ``=``, annotated, augmented and walrus assignments plus
  ``for`` and ``with ... as`` targets and ``except T as name`` (the handler is both the
  statement and the target, its value the type expression; comprehension targets are
  left to ``ast_nodes``).
  Tuple/list targets add one row per element, nested ones recursively, ``element_index``
  being the index in the innermost tuple/list.
* ``value_shape``/``value_text`` describe a value expression the same way everywhere;
  ``*_text`` is the dotted text of a ``Name``/``Attribute`` chain (``os.path.join``),
  and for a call value in assignments/returns the callee's dotted text.
* ``global``/``nonlocal`` statements are cheap to list, so ``ast_scope_markers`` has one
  row per declared name (the statement's span: the names carry no position).
* ``ast_all`` numbers the string entries of every module-level ``__all__`` assignment,
  ``+=``, ``.extend`` and ``.append`` in source order, across statements.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from codeanatomy.extract.layer import LayerRows, LayerSpec, RowTuples
from codeanatomy.extract.schema import (
    AstCallRef,
    AstDefRef,
    AstNodeId,
    AstRef,
    ByteEnd,
    ByteStart,
    FileId,
    LineNo,
    NameEnd,
    NameStart,
    OptAstDefRef,
    OptAstRef,
    OptByteEnd,
    OptByteStart,
    OptNameEnd,
    OptNameStart,
    Row,
    TableSpec,
)
from codeanatomy.scan.source import SourceFile


class AstNodeRow(Row, frozen=True):
    file_id: FileId
    node_idx: AstNodeId  # pre-order index; the Module is 0
    parent_idx: OptAstRef
    ast_type: str  # the node's class name
    field: str | None  # field of the parent holding the node
    child_index: int | None  # index within a list field; null for single-valued fields
    name: str | None  # identifier the node carries (see module doc)
    ctx: str | None  # 'load' | 'store' | 'del'
    op: str | None  # operator class name(s) folded into BinOp/UnaryOp/BoolOp/AugAssign/Compare
    bstart: OptByteStart
    bend: OptByteEnd


class AstDefRow(Row, frozen=True):
    file_id: FileId
    node_idx: AstNodeId
    kind: str  # 'class' | 'function' | 'async_function' | 'lambda'
    name: str
    qualname: str  # dotted within the module, no '<locals>'
    parent_def_idx: OptAstDefRef
    bstart: ByteStart  # first decorator's '@' when decorated
    bend: ByteEnd
    name_bstart: OptNameStart
    name_bend: OptNameEnd
    is_async: bool
    is_method: bool  # function whose enclosing def is a class
    decorator_count: int
    docstring_idx: OptAstRef  # the docstring Constant
    returns_idx: OptAstRef
    lineno: LineNo


class AstParamRow(Row, frozen=True):
    file_id: FileId
    def_idx: AstDefRef
    node_idx: AstNodeId  # the `arg` node
    name: str
    index: int  # position over all parameters in signature order
    kind: str  # 'positional_only' | 'positional' | 'vararg' | 'keyword_only' | 'kwarg'
    default_idx: OptAstRef
    annotation_idx: OptAstRef
    bstart: ByteStart
    bend: ByteEnd


class AstDecoratorRow(Row, frozen=True):
    file_id: FileId
    def_idx: AstDefRef
    node_idx: AstNodeId  # the decorator expression (after '@')
    index: int
    text: str
    bstart: ByteStart
    bend: ByteEnd


class AstNameRow(Row, frozen=True):
    file_id: FileId
    node_idx: AstNodeId
    name: str
    ctx: str
    scope_def_idx: OptAstDefRef
    in_comprehension: bool
    bstart: ByteStart
    bend: ByteEnd


class AstAttributeRow(Row, frozen=True):
    file_id: FileId
    node_idx: AstNodeId
    attr: str
    ctx: str
    value_idx: AstRef
    value_text: str | None  # dotted text of a Name/Attribute chain value
    scope_def_idx: OptAstDefRef
    bstart: ByteStart
    bend: ByteEnd
    attr_bstart: NameStart  # the attribute name after the dot
    attr_bend: NameEnd


class AstCallRow(Row, frozen=True):
    file_id: FileId
    node_idx: AstNodeId
    func_idx: AstRef
    callee_shape: str  # 'name' | 'attribute' | 'call' | 'subscript' | 'lambda' | 'other'
    callee_text: str | None  # dotted text of a Name/Attribute chain callee
    n_args: int  # positional arguments, `*x` included
    n_keywords: int  # keyword arguments, `**kw` included
    has_starargs: bool
    has_kwargs: bool
    scope_def_idx: OptAstDefRef
    bstart: ByteStart
    bend: ByteEnd


class AstCallArgRow(Row, frozen=True):
    file_id: FileId
    call_idx: AstCallRef
    node_idx: AstNodeId  # argument expression (the Starred for `*x`, the value for keywords)
    position: int | None  # null for keyword arguments
    keyword: str | None  # null for positional arguments and `**kw`
    is_starred: bool
    is_double_star: bool
    value_shape: str  # shape of the passed value (for `*x`, of `x`)
    value_text: str | None
    bstart: ByteStart
    bend: ByteEnd


class AstImportRow(Row, frozen=True):
    file_id: FileId
    node_idx: AstNodeId  # the alias
    stmt_idx: AstRef
    is_from: bool
    module: str | None
    name: str  # imported name: 'a.b.c' for `import a.b.c`, '*' for a star import
    asname: str | None
    level: int  # 0 for absolute imports
    is_star: bool
    scope_def_idx: OptAstDefRef
    bstart: ByteStart
    bend: ByteEnd


class AstAssignmentRow(Row, frozen=True):
    file_id: FileId
    node_idx: AstNodeId  # the statement (or NamedExpr)
    kind: str  # 'assign' | 'annassign' | 'augassign' | 'namedexpr' | 'for' | 'with' | 'except'
    target_idx: AstRef  # the ExceptHandler itself for 'except' (its name has no node)
    target_shape: str  # 'name' | 'attribute' | 'subscript' | 'tuple' | 'list' | 'starred'
    target_text: str | None
    element_index: int | None  # index in the enclosing tuple/list target; null otherwise
    value_idx: OptAstRef
    value_shape: str | None
    value_text: str | None
    scope_def_idx: OptAstDefRef
    bstart: ByteStart
    bend: ByteEnd


class AstReturnRow(Row, frozen=True):
    file_id: FileId
    node_idx: AstNodeId  # Return/Yield/YieldFrom, or a lambda's body
    kind: str  # 'return' | 'yield' | 'yield_from'
    def_idx: OptAstDefRef  # enclosing function/lambda
    value_idx: OptAstRef
    value_shape: str | None
    value_text: str | None
    bstart: ByteStart
    bend: ByteEnd


class AstDocstringRow(Row, frozen=True):
    file_id: FileId
    owner_idx: AstRef
    node_idx: AstNodeId  # the Constant
    value: str
    bstart: ByteStart
    bend: ByteEnd


class AstLiteralRow(Row, frozen=True):
    file_id: FileId
    node_idx: AstNodeId
    literal_type: str  # 'str' | 'bytes' | 'int' | 'float' | 'complex' | 'bool' | 'none' | ...
    value: str  # repr (source text for f-strings), at most 200 characters
    bstart: ByteStart
    bend: ByteEnd


class AstAnnotationRow(Row, frozen=True):
    file_id: FileId
    node_idx: AstNodeId  # the annotation expression
    target_kind: str  # 'param' | 'return' | 'assign'
    target_idx: AstRef  # the arg / def / AnnAssign target
    text: str
    bstart: ByteStart
    bend: ByteEnd


class AstAllRow(Row, frozen=True):
    file_id: FileId
    name: str
    index: int
    node_idx: AstNodeId  # the string Constant
    bstart: ByteStart
    bend: ByteEnd


class AstScopeMarkerRow(Row, frozen=True):
    file_id: FileId
    node_idx: AstNodeId  # the Global/Nonlocal statement
    kind: str  # 'global' | 'nonlocal'
    name: str
    index: int
    scope_def_idx: OptAstDefRef
    bstart: ByteStart  # the statement's span (names carry no position)
    bend: ByteEnd


AST_NODES = TableSpec("ast_nodes", AstNodeRow, "every ast node, pre-order, with parent and span")
AST_DEFS = TableSpec("ast_defs", AstDefRow, "classes, functions and lambdas with qualnames")
AST_PARAMS = TableSpec("ast_params", AstParamRow, "parameters of functions and lambdas")
AST_DECORATORS = TableSpec("ast_decorators", AstDecoratorRow, "decorator expressions")
AST_NAMES = TableSpec("ast_names", AstNameRow, "Name nodes with context and scope")
AST_ATTRIBUTES = TableSpec("ast_attributes", AstAttributeRow, "attribute accesses")
AST_CALLS = TableSpec("ast_calls", AstCallRow, "call expressions and their callee")
AST_CALL_ARGS = TableSpec("ast_call_args", AstCallArgRow, "arguments of calls")
AST_IMPORTS = TableSpec("ast_imports", AstImportRow, "one row per imported alias")
AST_ASSIGNMENTS = TableSpec("ast_assignments", AstAssignmentRow, "assignment targets and values")
AST_RETURNS = TableSpec("ast_returns", AstReturnRow, "return/yield values and lambda results")
AST_DOCSTRINGS = TableSpec("ast_docstrings", AstDocstringRow, "module/class/function docstrings")
AST_LITERALS = TableSpec("ast_literals", AstLiteralRow, "constants and f-strings")
AST_ANNOTATIONS = TableSpec("ast_annotations", AstAnnotationRow, "type annotations")
AST_ALL = TableSpec("ast_all", AstAllRow, "entries of the module-level __all__")
AST_SCOPE_MARKERS = TableSpec("ast_scope_markers", AstScopeMarkerRow, "global/nonlocal names")

TABLES = (
    AST_NODES,
    AST_DEFS,
    AST_PARAMS,
    AST_DECORATORS,
    AST_NAMES,
    AST_ATTRIBUTES,
    AST_CALLS,
    AST_CALL_ARGS,
    AST_IMPORTS,
    AST_ASSIGNMENTS,
    AST_RETURNS,
    AST_DOCSTRINGS,
    AST_LITERALS,
    AST_ANNOTATIONS,
    AST_ALL,
    AST_SCOPE_MARKERS,
)

# ---- per-class walk plan ------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Node kinds needing more than the generic ast_nodes row (0 = generic).
K_NAME, K_ATTR, K_CONST, K_CALL, K_CTX, K_OP, K_CMP, K_NAMED, K_ALIAS, K_FUNC = range(1, 11)
K_CLASS, K_LAMBDA, K_COMP, K_ASSIGN, K_AUG, K_IMPORT, K_RETURN, K_JOINED = range(11, 19)
K_FMT, K_SCOPE = range(19, 21)
_DEF_NODE_KINDS = (K_FUNC, K_CLASS, K_LAMBDA)
_ASSIGN_NODE_KINDS = (K_ASSIGN, K_AUG)
_KIND_OF_CLASS = MappingProxyType(
    {
        name: kind
        for kind, names in (
            (K_NAME, "Name"),
            (K_ATTR, "Attribute"),
            (K_CONST, "Constant"),
            (K_CALL, "Call"),
            (K_CTX, "Subscript Starred List Tuple"),
            (K_OP, "BinOp UnaryOp BoolOp"),
            (K_CMP, "Compare"),
            (K_NAMED, "arg keyword ExceptHandler MatchAs MatchStar MatchMapping"),
            (K_ALIAS, "alias"),
            (K_FUNC, "FunctionDef AsyncFunctionDef"),
            (K_CLASS, "ClassDef"),
            (K_LAMBDA, "Lambda"),
            (K_COMP, "ListComp SetComp DictComp GeneratorExp"),
            (K_ASSIGN, "Assign AnnAssign NamedExpr For AsyncFor With AsyncWith"),
            (K_AUG, "AugAssign"),
            (K_IMPORT, "Import ImportFrom"),
            (K_RETURN, "Return Yield YieldFrom"),
            (K_JOINED, "JoinedStr"),
            (K_FMT, "FormattedValue"),
            (K_SCOPE, "Global Nonlocal"),
        )
        for name in names.split()
    }
)
# The identifier field a K_NAMED node carries in ast_nodes.name.
_NAME_FIELD = MappingProxyType(
    {
        "arg": "arg",
        "keyword": "arg",
        "ExceptHandler": "name",
        "MatchAs": "name",
        "MatchStar": "name",
        "MatchMapping": "rest",
    }
)
# ASDL types whose values are child nodes; identifier/string/int/constant fields are data,
# expr_context and the operator types are folded into ctx/op.
_NODE_TYPES = _words(
    "mod stmt expr excepthandler arguments arg keyword alias withitem match_case pattern "
    "type_ignore comprehension"
)
_DATA_TYPES = _words("identifier string int constant expr_context operator boolop unaryop cmpop")
_SCOPE_BODY = frozenset({"FunctionDef", "AsyncFunctionDef", "ClassDef", "Lambda"})
_SIGNATURE = re.compile(r"(\w+)\((.*)\)\Z", re.DOTALL)

ChildField = tuple[str, bool, bool]  # field name, is a list, opens the node's scope
NodeInfo = tuple[str, tuple[ChildField, ...], int, bool, str]


def _node_infos() -> Mapping[type, NodeInfo]:
    """Walk plan per concrete node class, read from the ASDL signature CPython documents.

    Each entry: class name, child fields in *reverse* ``_fields`` order (the stack pops
    them forward), kind, whether the node has a position, and its identifier field.
    """
    infos: dict[type, NodeInfo] = {}
    for cls in vars(ast).values():
        if not (isinstance(cls, type) and issubclass(cls, ast.AST)) or not cls.__doc__:
            continue
        name = cls.__name__
        match = _SIGNATURE.match(cls.__doc__)
        if match is None and cls.__doc__ != name:
            continue  # abstract categories and deprecated aliases: never produced by parse
        if match is not None and match.group(1) != name:
            continue
        signature = [p.split() for p in match.group(2).split(",")] if match else []
        if tuple(f for _, f in signature) != cls._fields:
            raise RuntimeError(f"unexpected ast signature for {name}: {cls.__doc__}")
        children: list[ChildField] = []
        for asdl_type, fname in signature:
            base = asdl_type.rstrip("*?")
            if base in _NODE_TYPES:
                children.append(
                    (fname, asdl_type.endswith("*"), name in _SCOPE_BODY and fname == "body")
                )
            elif base not in _DATA_TYPES:
                raise RuntimeError(f"unknown ast field type {asdl_type} in {name}")
        infos[cls] = (
            name,
            tuple(reversed(children)),
            _KIND_OF_CLASS.get(name, 0),
            "col_offset" in cls._attributes,
            _NAME_FIELD.get(name, ""),
        )
    return MappingProxyType(infos)


_INFOS = _node_infos()
_CTX = MappingProxyType({ast.Load: "load", ast.Store: "store", ast.Del: "del"})
_OP_NAMES = MappingProxyType(
    {
        cls: cls.__name__
        for base in (ast.operator, ast.boolop, ast.unaryop, ast.cmpop)
        for cls in base.__subclasses__()
    }
)
_LITERAL_TYPES = MappingProxyType(
    {
        str: "str",
        bytes: "bytes",
        int: "int",
        float: "float",
        complex: "complex",
        bool: "bool",
        type(None): "none",
        type(...): "ellipsis",
    }
)
_CALLEE_SHAPES = MappingProxyType(
    {
        ast.Name: "name",
        ast.Attribute: "attribute",
        ast.Call: "call",
        ast.Subscript: "subscript",
        ast.Lambda: "lambda",
    }
)
_VALUE_SHAPES = MappingProxyType(
    {
        ast.Name: "name",
        ast.Attribute: "attribute",
        ast.Call: "call",
        ast.Lambda: "lambda",
        ast.Constant: "constant",
        ast.Dict: "dict",
        ast.List: "list",
        ast.Tuple: "tuple",
        ast.Set: "set",
        ast.ListComp: "comprehension",
        ast.SetComp: "comprehension",
        ast.DictComp: "comprehension",
        ast.GeneratorExp: "comprehension",
    }
)
_TARGET_SHAPES = MappingProxyType(
    {
        ast.Name: "name",
        ast.Attribute: "attribute",
        ast.Subscript: "subscript",
        ast.Tuple: "tuple",
        ast.List: "list",
        ast.Starred: "starred",
    }
)
_RETURN_KINDS = MappingProxyType({"Return": "return", "Yield": "yield", "YieldFrom": "yield_from"})
_ASSIGN_KINDS = MappingProxyType(
    {
        "Assign": "assign",
        "AnnAssign": "annassign",
        "AugAssign": "augassign",
        "NamedExpr": "namedexpr",
        "For": "for",
        "AsyncFor": "for",
        "With": "with",
        "AsyncWith": "with",
        "ExceptHandler": "except",
    }
)
_DEF_KINDS = MappingProxyType(
    {
        "FunctionDef": "function",
        "AsyncFunctionDef": "async_function",
        "ClassDef": "class",
        "Lambda": "lambda",
    }
)
_FUNCTION_KINDS = frozenset({"function", "async_function"})
_ALL_MUTATORS = frozenset({"__all__.extend", "__all__.append"})
_ALL_STATEMENTS = frozenset({"Assign", "AnnAssign", "AugAssign"})
_UNPACKED = (ast.Tuple, ast.List)
_IDENT_BYTES = frozenset(b"_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_WS_BYTES = frozenset(b" \t\f")
_AT = ord("@")
_SEP = rb"(?:[ \t\f]|\\(?:\r\n|\n|\r))+"
_DEF_NAME = re.compile(
    rb"(?:async" + _SEP + rb")?(?:def|class)" + _SEP + rb"([0-9A-Za-z_\x80-\xff]+)"
)
_MAX_LITERAL = 200
_MAX_INT_BITS = 14_000  # below Python's 4300-digit limit on int -> decimal str
_BSTART, _BEND = 9, 10  # span columns of an ast_nodes row


def _version() -> str:
    return ".".join(str(part) for part in sys.version_info[:3])


# ---- helpers ------------------------------------------------------------------------------


def _dotted(node: Any) -> str | None:
    """``a.b.c`` for a chain of Attributes ending in a Name, else None."""
    parts: list[str] = []
    while node.__class__ is ast.Attribute:
        parts.append(node.attr)
        node = node.value
    if node.__class__ is not ast.Name:
        return None
    if not parts:
        return str(node.id)
    parts.append(node.id)
    parts.reverse()
    return ".".join(parts)


def _value_text(node: Any) -> str | None:
    """Dotted text of a Name/Attribute value, the callee's for a call."""
    if node.__class__ is ast.Call:
        return _dotted(node.func)
    return _dotted(node)


def _short_repr(value: object) -> str:
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        return hex(value)[:_MAX_LITERAL]
    if isinstance(value, str | bytes) and len(value) > _MAX_LITERAL:
        value = value[:_MAX_LITERAL]
    return repr(value)[:_MAX_LITERAL]


def _attr_start(data: bytes, attr: str, bend: int) -> int:
    """Start of the attribute identifier that ends the Attribute node at ``bend``."""
    encoded = attr.encode()
    if bend >= len(encoded) and data.startswith(encoded, bend - len(encoded)):
        return bend - len(encoded)
    # Non-UTF-8 file or a non-NFKC spelling in the source: scan the identifier back.
    pos = bend
    while pos > 0 and (data[pos - 1] >= 0x80 or data[pos - 1] in _IDENT_BYTES):
        pos -= 1
    return pos


def _decorator_at(
    data: bytes, bases: list[int], line_ends: list[int], lineno: int, fallback: int
) -> int:
    """Offset of the ``@`` of a decorator whose expression starts on ``lineno``.

    A decorator starts its logical line, and only whitespace, ``(`` or continuation
    lines can sit between ``@`` and the expression, so the ``@`` opens the nearest line
    at or above ``lineno`` whose first non-blank character is ``@``.
    """
    while lineno >= 1:
        pos, end = bases[lineno], line_ends[lineno - 1]
        while pos < end and data[pos] in _WS_BYTES:
            pos += 1
        if pos < end and data[pos] == _AT:
            return pos
        lineno -= 1
    return fallback


# ---- the walk -----------------------------------------------------------------------------


@dataclass
class _Walk:
    """Rows emitted during the walk, and the nodes the second pass needs to revisit."""

    source: SourceFile
    bases: list[int]
    codec: str
    nodes: RowTuples = field(default_factory=list)
    idx_of: dict[Any, int] = field(default_factory=dict)
    qualnames: dict[int, str] = field(default_factory=dict)
    is_class: dict[int, bool] = field(default_factory=dict)
    lambdas_in: dict[int | None, int] = field(default_factory=dict)  # lambdas seen per scope
    names: RowTuples = field(default_factory=list)
    attributes: RowTuples = field(default_factory=list)
    calls: RowTuples = field(default_factory=list)
    imports: RowTuples = field(default_factory=list)
    returns: RowTuples = field(default_factory=list)
    literals: RowTuples = field(default_factory=list)
    scope_markers: RowTuples = field(default_factory=list)
    pending_defs: list[tuple[Any, int, int | None, int, int]] = field(default_factory=list)
    pending_calls: list[tuple[Any, int]] = field(default_factory=list)
    pending_assigns: list[tuple[Any, int, int | None, int, int]] = field(default_factory=list)
    all_candidates: list[Any] = field(default_factory=list)
    formatted: list[Any] = field(default_factory=list)

    def text(self, bstart: int, bend: int) -> str:
        return self.source.data[bstart:bend].decode(self.codec)

    def span(self, node_idx: int) -> tuple[int, int]:
        row = self.nodes[node_idx]
        return row[_BSTART], row[_BEND]


def _walk(source: SourceFile, tree: ast.Module) -> _Walk:
    """One iterative pre-order pass: ast_nodes plus every table that needs no child index."""
    codec = source.codec
    w = _Walk(source, source.line_bases, codec)
    fid = source.file_id
    data = source.data
    linear = source.is_utf8
    bases = w.bases
    conv = source.offset_of_utf8_col
    infos = _INFOS
    ctx_names = _CTX
    op_names = _OP_NAMES
    nodes = w.nodes
    idx_of = w.idx_of
    qualnames = w.qualnames
    is_class = w.is_class
    add_node = nodes.append
    add_name = w.names.append
    add_attr = w.attributes.append
    add_call = w.calls.append
    add_literal = w.literals.append
    starred_cls = ast.Starred
    dotted_cls = (ast.Name, ast.Attribute)
    stack: list[tuple[Any, int | None, str | None, int | None, int | None, bool]] = [
        (tree, None, None, None, None, False)
    ]
    push = stack.append
    pop = stack.pop
    idx = -1
    while stack:
        node, parent, fname, ci, scope, comp = pop()
        idx += 1
        idx_of[node] = idx
        tname, children, kind, haspos, nattr = infos[node.__class__]
        bs: Any  # int, or None for a positionless node
        be: Any
        if not haspos:
            bs = be = None
        elif linear:
            bs = bases[node.lineno] + node.col_offset
            be = bases[node.end_lineno] + node.end_col_offset
        else:
            bs = conv(node.lineno, node.col_offset)
            be = conv(node.end_lineno, node.end_col_offset)
        name = ctx = op = None
        ccomp = comp
        if kind:
            if kind == K_NAME:
                name = node.id
                ctx = ctx_names[node.ctx.__class__]
                add_name((fid, idx, name, ctx, scope, comp, bs, be))
            elif kind == K_ATTR:
                name = node.attr
                ctx = ctx_names[node.ctx.__class__]
                value = node.value
                add_attr(
                    (
                        fid,
                        idx,
                        name,
                        ctx,
                        idx + 1,
                        _dotted(value) if value.__class__ in dotted_cls else None,
                        scope,
                        bs,
                        be,
                        _attr_start(data, name, be),
                        be,
                    )
                )
            elif kind == K_CONST:
                if nodes[parent][3] == "JoinedStr":  # type: ignore[index]
                    bs = be = None  # an f-string fragment: 3.11 gives it the whole string
                else:
                    value = node.value
                    add_literal(
                        (fid, idx, _LITERAL_TYPES[value.__class__], _short_repr(value), bs, be)
                    )
            elif kind == K_CALL:
                func = node.func
                args = node.args
                keywords = node.keywords
                starargs = kwargs = False
                for arg in args:
                    if arg.__class__ is starred_cls:
                        starargs = True
                        break
                for kw in keywords:
                    if kw.arg is None:
                        kwargs = True
                        break
                ctext = _dotted(func) if func.__class__ in dotted_cls else None
                add_call(
                    (
                        fid,
                        idx,
                        idx + 1,
                        _CALLEE_SHAPES.get(func.__class__, "other"),
                        ctext,
                        len(args),
                        len(keywords),
                        starargs,
                        kwargs,
                        scope,
                        bs,
                        be,
                    )
                )
                if args or keywords:
                    w.pending_calls.append((node, idx))
                if scope is None and ctext in _ALL_MUTATORS:
                    w.all_candidates.append(node)
            elif kind == K_CTX:
                ctx = ctx_names[node.ctx.__class__]
            elif kind == K_OP:
                op = op_names[node.op.__class__]
            elif kind == K_CMP:
                op = ",".join([op_names[o.__class__] for o in node.ops])
            elif kind == K_NAMED:
                name = getattr(node, nattr)
                if tname == "ExceptHandler" and name is not None:
                    w.pending_assigns.append((node, idx, scope, bs, be))
            elif kind == K_COMP:
                ccomp = True
            elif kind in _DEF_NODE_KINDS:
                if kind == K_LAMBDA:
                    nth = w.lambdas_in[scope] = w.lambdas_in.get(scope, 0) + 1
                    dname = f"<lambda{nth}>"
                else:
                    dname = name = node.name
                qualnames[idx] = dname if scope is None else f"{qualnames[scope]}.{dname}"
                is_class[idx] = kind == K_CLASS
                w.pending_defs.append((node, idx, scope, bs, be))
            elif kind in _ASSIGN_NODE_KINDS:
                if kind == K_AUG:
                    op = op_names[node.op.__class__]
                w.pending_assigns.append((node, idx, scope, bs, be))
                if scope is None and tname in _ALL_STATEMENTS:
                    w.all_candidates.append(node)
            elif kind == K_ALIAS:
                name = node.asname or node.name
            elif kind == K_IMPORT:
                _import_rows(w, node, idx, tname, scope)
                if tname == "ImportFrom":
                    name = node.module
            elif kind == K_RETURN:
                value = node.value
                w.returns.append(
                    (
                        fid,
                        idx,
                        _RETURN_KINDS[tname],
                        scope if scope is not None and not is_class[scope] else None,
                        None if value is None else idx + 1,
                        None if value is None else _VALUE_SHAPES.get(value.__class__, "other"),
                        None if value is None else _value_text(value),
                        bs,
                        be,
                    )
                )
            elif kind == K_JOINED:
                if fname == "format_spec" or nodes[parent][3] == "JoinedStr":  # type: ignore[index]
                    bs = be = None
                else:
                    text = data[bs : min(be, bs + 4 * _MAX_LITERAL)]
                    add_literal(
                        (fid, idx, "fstring", text.decode(codec, "replace")[:_MAX_LITERAL], bs, be)
                    )
            elif kind == K_FMT:
                bs = be = None
                w.formatted.append(node)
            elif kind == K_SCOPE:
                name = ",".join(node.names)
                marker = "global" if tname == "Global" else "nonlocal"
                for i, ident in enumerate(node.names):
                    w.scope_markers.append((fid, idx, marker, ident, i, scope, bs, be))
        add_node((fid, idx, parent, tname, fname, ci, name, ctx, op, bs, be))
        for cfield, is_list, opens in children:
            value = getattr(node, cfield)
            cscope = idx if opens else scope
            if is_list:
                for i in range(len(value) - 1, -1, -1):
                    child = value[i]
                    if child is not None:
                        push((child, idx, cfield, i, cscope, ccomp))
            elif value is not None:
                push((value, idx, cfield, None, cscope, ccomp))
    return w


def _import_rows(w: _Walk, node: Any, idx: int, tname: str, scope: int | None) -> None:
    """Alias rows of an import statement (aliases are its only, leaf, children)."""
    source = w.source
    is_from = tname == "ImportFrom"
    module = node.module if is_from else None
    level = (node.level or 0) if is_from else 0
    fid = source.file_id
    conv = source.offset_of_utf8_col
    for i, alias in enumerate(node.names):
        w.imports.append(
            (
                fid,
                idx + 1 + i,
                idx,
                is_from,
                module,
                alias.name,
                alias.asname,
                level,
                alias.name == "*",
                scope,
                conv(alias.lineno, alias.col_offset),
                conv(alias.end_lineno, alias.end_col_offset),
            )
        )


# ---- second pass: rows that point at children -------------------------------------------


def _unbrace_formatted(w: _Walk) -> None:
    """Drop the braces 3.11 puts in the span of a bare tuple/genexp inside an f-string.

    CPython 3.11 parses ``{a, b}`` as ``(a, b)`` with the braces standing in for the
    parentheses, so the Tuple (or GeneratorExp) spans ``{a, b`` up to the ``}``/``!``/
    ``:``/``=`` after it; the node's own text is what lies between, minus blanks.
    """
    data = w.source.data
    for formatted in w.formatted:
        value = formatted.value
        if value.__class__ is not ast.Tuple and value.__class__ is not ast.GeneratorExp:
            continue
        value_idx = w.idx_of[value]
        row = w.nodes[value_idx]
        bstart, bend = row[_BSTART], row[_BEND]
        if data[bstart] != ord("{"):
            continue
        inner = data[bstart + 1 : bend - 1]
        bstart += 1 + len(inner) - len(inner.lstrip())
        bend = bstart + len(inner.strip())
        w.nodes[value_idx] = (*row[:_BSTART], bstart, bend)


def _def_rows(w: _Walk, out: dict[str, RowTuples]) -> None:
    source = w.source
    data = source.data
    fid = source.file_id
    idx_of = w.idx_of
    defs = out["ast_defs"]
    decorators = out["ast_decorators"]
    docstrings = out["ast_docstrings"]
    annotations = out["ast_annotations"]
    for node, idx, scope, bs, be in w.pending_defs:
        tname = node.__class__.__name__
        kind = _DEF_KINDS[tname]
        is_method = kind in _FUNCTION_KINDS and scope is not None and w.is_class[scope]
        if kind == "lambda":
            defs.append(
                (
                    fid,
                    idx,
                    kind,
                    "<lambda>",
                    w.qualnames[idx],
                    scope,
                    bs,
                    be,
                    None,
                    None,
                    False,
                    False,
                    0,
                    None,
                    None,
                    node.lineno,
                )
            )
            _param_rows(w, node.args, idx, out)
            body = node.body
            body_idx = idx_of[body]
            out["ast_returns"].append(
                (
                    fid,
                    body_idx,
                    "return",
                    idx,
                    body_idx,
                    _VALUE_SHAPES.get(body.__class__, "other"),
                    _value_text(body),
                    *w.span(body_idx),
                )
            )
            continue
        start = bs
        for i, deco in enumerate(node.decorator_list):
            deco_idx = idx_of[deco]
            dbs, dbe = w.span(deco_idx)
            if i == 0:
                start = _decorator_at(data, w.bases, source.line_ends, deco.lineno, dbs)
            decorators.append((fid, idx, deco_idx, i, w.text(dbs, dbe), dbs, dbe))
        match = _DEF_NAME.match(data, bs)
        name_span = match.span(1) if match else (None, None)
        doc_idx = _docstring(w, node, idx, docstrings)
        returns = node.returns if kind != "class" else None
        returns_idx = None
        if returns is not None:
            returns_idx = idx_of[returns]
            rbs, rbe = w.span(returns_idx)
            annotations.append((fid, returns_idx, "return", idx, w.text(rbs, rbe), rbs, rbe))
        defs.append(
            (
                fid,
                idx,
                kind,
                node.name,
                w.qualnames[idx],
                scope,
                start,
                be,
                *name_span,
                kind == "async_function",
                is_method,
                len(node.decorator_list),
                doc_idx,
                returns_idx,
                node.lineno,
            )
        )
        if kind != "class":
            _param_rows(w, node.args, idx, out)


def _docstring(w: _Walk, node: Any, idx: int, docstrings: RowTuples) -> int | None:
    """Record the docstring of a module/class/function; return its Constant's node_idx."""
    body = node.body
    if not body or body[0].__class__ is not ast.Expr:
        return None
    const = body[0].value
    if const.__class__ is not ast.Constant or const.value.__class__ is not str:
        return None
    const_idx = w.idx_of[const]
    docstrings.append((w.source.file_id, idx, const_idx, const.value, *w.span(const_idx)))
    return const_idx


def _param_rows(w: _Walk, args: ast.arguments, def_idx: int, out: dict[str, RowTuples]) -> None:
    fid = w.source.file_id
    idx_of = w.idx_of
    params = out["ast_params"]
    annotations = out["ast_annotations"]
    positional = [(p, "positional_only") for p in args.posonlyargs]
    positional += [(p, "positional") for p in args.args]
    first_default = len(positional) - len(args.defaults)
    signature: list[tuple[ast.arg, str, ast.expr | None]] = [
        (p, kind, args.defaults[i - first_default] if i >= first_default else None)
        for i, (p, kind) in enumerate(positional)
    ]
    if args.vararg is not None:
        signature.append((args.vararg, "vararg", None))
    signature += [
        (p, "keyword_only", d) for p, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]
    if args.kwarg is not None:
        signature.append((args.kwarg, "kwarg", None))
    for index, (param, kind, default) in enumerate(signature):
        param_idx = idx_of[param]
        annotation_idx = None
        if param.annotation is not None:
            annotation_idx = idx_of[param.annotation]
            abs_, abe = w.span(annotation_idx)
            annotations.append(
                (fid, annotation_idx, "param", param_idx, w.text(abs_, abe), abs_, abe)
            )
        params.append(
            (
                fid,
                def_idx,
                param_idx,
                param.arg,
                index,
                kind,
                None if default is None else idx_of[default],
                annotation_idx,
                *w.span(param_idx),
            )
        )


def _call_arg_rows(w: _Walk, rows: RowTuples) -> None:
    fid = w.source.file_id
    idx_of = w.idx_of
    for node, call_idx in w.pending_calls:
        for position, arg in enumerate(node.args):
            starred = arg.__class__ is ast.Starred
            value = arg.value if starred else arg
            arg_idx = idx_of[arg]
            rows.append(
                (
                    fid,
                    call_idx,
                    arg_idx,
                    position,
                    None,
                    starred,
                    False,
                    _VALUE_SHAPES.get(value.__class__, "other"),
                    _dotted(value),
                    *w.span(arg_idx),
                )
            )
        for kw in node.keywords:
            value = kw.value
            value_idx = idx_of[value]
            rows.append(
                (
                    fid,
                    call_idx,
                    value_idx,
                    None,
                    kw.arg,
                    False,
                    kw.arg is None,
                    _VALUE_SHAPES.get(value.__class__, "other"),
                    _dotted(value),
                    *w.span(value_idx),
                )
            )


def _assignment_rows(w: _Walk, out: dict[str, RowTuples]) -> None:
    fid = w.source.file_id
    idx_of = w.idx_of
    rows = out["ast_assignments"]
    for node, idx, scope, bs, be in w.pending_assigns:
        tname = node.__class__.__name__
        kind = _ASSIGN_KINDS[tname]
        pairs: list[tuple[Any, Any]]
        if tname == "Assign":
            pairs = [(t, node.value) for t in node.targets]
        elif kind == "for":
            pairs = [(node.target, node.iter)]
        elif kind == "with":
            pairs = [
                (i.optional_vars, i.context_expr) for i in node.items if i.optional_vars is not None
            ]
        elif kind == "except":
            rows.append(
                (
                    fid,
                    idx,
                    kind,
                    idx,
                    "name",
                    node.name,
                    None,
                    idx_of[node.type],
                    _VALUE_SHAPES.get(node.type.__class__, "other"),
                    _value_text(node.type),
                    scope,
                    bs,
                    be,
                )
            )
            continue
        else:
            pairs = [(node.target, node.value)]
        if tname == "AnnAssign":
            ann_idx = idx_of[node.annotation]
            abs_, abe = w.span(ann_idx)
            out["ast_annotations"].append(
                (fid, ann_idx, "assign", idx_of[node.target], w.text(abs_, abe), abs_, abe)
            )
        for target, value in pairs:
            if value is None:
                value_cols: tuple[int | None, str | None, str | None] = (None, None, None)
            else:
                value_cols = (
                    idx_of[value],
                    _VALUE_SHAPES.get(value.__class__, "other"),
                    _value_text(value),
                )
            todo: list[tuple[Any, int | None]] = [(target, None)]
            while todo:
                tgt, element = todo.pop()
                shape = _TARGET_SHAPES.get(tgt.__class__, "other")
                text = _dotted(tgt.value if shape == "starred" else tgt)
                rows.append(
                    (fid, idx, kind, idx_of[tgt], shape, text, element, *value_cols, scope, bs, be)
                )
                if isinstance(tgt, _UNPACKED):
                    todo.extend((e, i) for i, e in reversed(list(enumerate(tgt.elts))))


def _all_rows(w: _Walk, rows: RowTuples) -> None:
    """Entries of ``__all__`` built by module-level assignments, ``+=`` and list methods."""
    fid = w.source.file_id
    index = 0
    for node in w.all_candidates:  # in pre-order, i.e. source order
        values: list[Any] = []
        if node.__class__ is ast.Call:
            if len(node.args) == 1 and not node.keywords:
                arg = node.args[0]
                method: Any = node.func
                if method.attr == "extend" or arg.__class__ is ast.Constant:
                    values = [arg]  # .extend(display) or .append("name")
        else:
            targets = node.targets if node.__class__ is ast.Assign else [node.target]
            if node.__class__ is ast.AugAssign and node.op.__class__ is not ast.Add:
                continue
            if node.value is not None and any(
                t.__class__ is ast.Name and t.id == "__all__" for t in targets
            ):
                values = [node.value]
        for const in _string_entries(values):
            const_idx = w.idx_of[const]
            rows.append((fid, const.value, index, const_idx, *w.span(const_idx)))
            index += 1


def _string_entries(values: list[Any]) -> list[ast.Constant]:
    """String constants, in order, of list/tuple displays joined by ``+``."""
    found: list[ast.Constant] = []
    todo = list(reversed(values))
    while todo:
        value = todo.pop()
        if isinstance(value, _UNPACKED):
            todo.extend(reversed(value.elts))
        elif value.__class__ is ast.BinOp and value.op.__class__ is ast.Add:
            todo.extend((value.right, value.left))
        elif value.__class__ is ast.Constant and value.value.__class__ is str:
            found.append(value)
    return found


def extract(source: SourceFile) -> LayerRows:
    """Rows of every ``ast_*`` table for one file (raises the parse error, if any)."""
    tree = source.python_ast()
    w = _walk(source, tree)
    # The Module has no position: it spans the whole file after any BOM.
    w.nodes[0] = (*w.nodes[0][:_BSTART], w.bases[1] if source.line_starts else 0, len(source.data))
    out: dict[str, RowTuples] = {spec.name: [] for spec in TABLES}
    out["ast_nodes"] = w.nodes
    out["ast_names"] = w.names
    out["ast_attributes"] = w.attributes
    out["ast_calls"] = w.calls
    out["ast_imports"] = w.imports
    out["ast_returns"] = w.returns
    out["ast_literals"] = w.literals
    out["ast_scope_markers"] = w.scope_markers
    _unbrace_formatted(w)
    _docstring(w, tree, 0, out["ast_docstrings"])
    _def_rows(w, out)
    _call_arg_rows(w, out["ast_call_args"])
    _assignment_rows(w, out)
    _all_rows(w, out["ast_all"])
    return out


LAYER = LayerSpec(
    name="ast",
    doc="CPython ast: nodes, defs, params, names, attributes, calls, imports, assignments, ...",
    tables=TABLES,
    extract=extract,
    version=_version,
    needs_text=True,
    default=True,
)
