"""The ``tree_sitter`` evidence layer: an error-tolerant parse of the raw bytes.

``ast`` gives up on a file with one syntax error, syntax newer than the running
interpreter, undecodable bytes or very deep nesting; tree-sitter parses all of them,
recovering with ERROR and MISSING nodes. This layer is therefore what keeps such files
(their structure, comments and definitions) in the graph, so it never needs the decoded
text: UTF-8 and undecodable files are parsed byte for byte, and offsets are raw offsets.

tree-sitter only understands UTF-8, so a file whose declared encoding is another
(ASCII-compatible) codec is transcoded to UTF-8 for parsing and every offset is mapped
back to the raw bytes; if that is impossible the raw bytes are parsed as they are.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from types import MappingProxyType
from typing import Annotated, Any

import msgspec
import tree_sitter_python
from tree_sitter import Language, Parser, Tree

from codeanatomy.extract.layer import LayerRows, LayerSpec, RowTuples
from codeanatomy.extract.schema import (
    ByteEnd,
    ByteStart,
    FileId,
    LineNo,
    NameEnd,
    NameStart,
    OptByteStart,
    OptTsDefRef,
    OptTsRef,
    Row,
    TableSpec,
    TsNodeId,
)
from codeanatomy.scan.source import SourceDecodeError, SourceFile


def _doc(text: str) -> msgspec.Meta:
    return msgspec.Meta(description=text)


class TsNodeRow(Row, frozen=True):
    file_id: FileId
    node_idx: TsNodeId
    parent_idx: OptTsRef
    node_type: Annotated[str, _doc("grammar type; ERROR, or the missing token's type")]
    field: Annotated[str | None, _doc("field name of the node in its parent")]
    child_index: Annotated[int | None, _doc("index among the parent's ts_nodes children")]
    is_error: bool
    is_missing: bool
    has_error: Annotated[bool, _doc("the subtree holds an ERROR or MISSING node")]
    bstart: ByteStart
    bend: ByteEnd
    name: Annotated[str | None, _doc("identifier text; a class/function's name; else null")]


class TsErrorRow(Row, frozen=True):
    file_id: FileId
    node_idx: TsNodeId
    kind: Annotated[str, _doc("error (an ERROR region) | missing (a token the parser inserted)")]
    bstart: ByteStart
    bend: ByteEnd
    line: LineNo
    col: Annotated[int, _doc("0-based byte column from the raw line start (BOM included)")]
    text: Annotated[str, _doc("first 200 bytes of the region, or the missing token's type")]


class TsCommentRow(Row, frozen=True):
    file_id: FileId
    node_idx: TsNodeId
    bstart: ByteStart
    bend: ByteEnd
    line: LineNo
    text: str


class TsDefRow(Row, frozen=True):
    file_id: FileId
    node_idx: TsNodeId
    kind: Annotated[str, _doc("class | function | async_function")]
    name: str
    qualname: Annotated[str, _doc("dotted local qualname (Class.method, outer.inner)")]
    parent_def_idx: OptTsDefRef
    is_method: Annotated[bool, _doc("a function whose enclosing definition is a class")]
    in_error: Annotated[bool, _doc("the definition holds, sits in or borders an ERROR node")]
    bstart: ByteStart
    bend: ByteEnd
    decorated_bstart: OptByteStart
    name_bstart: NameStart
    name_bend: NameEnd


TS_NODES = TableSpec(
    "ts_nodes", TsNodeRow, "tree-sitter named nodes plus every ERROR and MISSING node"
)
TS_ERRORS = TableSpec("ts_errors", TsErrorRow, "tree-sitter ERROR regions and MISSING tokens")
TS_COMMENTS = TableSpec("ts_comments", TsCommentRow, "comments, as tree-sitter sees them")
TS_DEFS = TableSpec(
    "ts_defs", TsDefRow, "class and function definitions found by tree-sitter, broken files too"
)

_ERROR_TEXT_BYTES = 200
_ERROR_KIND = 0xFFFF  # tree-sitter's built-in ERROR symbol, outside the grammar's kind range

# What the walk does with a node kind beyond emitting it.
_PLAIN, _IDENTIFIER, _DEFINITION, _COMMENT = 0, 1, 2, 3
_ROLES = MappingProxyType(
    {
        "identifier": _IDENTIFIER,
        "function_definition": _DEFINITION,
        "class_definition": _DEFINITION,
        "comment": _COMMENT,
    }
)


@dataclass(frozen=True)
class _Grammar:
    """The parser and lookup tables derived once per process from the language."""

    parser: Parser
    # kind id -> (node type, role) of the named kinds; a plain dict that is never mutated,
    # because a mappingproxy lookup costs a tenth of the walk
    named_kinds: Mapping[int, tuple[str, int]]
    name_field: int
    class_kinds: frozenset[int]


@cache
def _grammar() -> _Grammar:
    """Build the parser lazily: workers that never run this layer never load it."""
    language = Language(tree_sitter_python.language())
    named: dict[int, tuple[str, int]] = {}
    for kind in (*range(language.node_kind_count), _ERROR_KIND):
        node_type = language.node_kind_for_id(kind)
        if node_type is not None and language.node_kind_is_named(kind):
            named[kind] = (node_type, _ROLES.get(node_type, _PLAIN))
    name_field = language.field_id_for_name("name")
    if name_field is None:
        raise RuntimeError("tree-sitter-python has no `name` field")
    return _Grammar(
        parser=Parser(language),
        named_kinds=named,
        name_field=name_field,
        class_kinds=frozenset(k for k, (t, _) in named.items() if t == "class_definition"),
    )


def _version() -> str:
    return (
        f"tree-sitter {version('tree-sitter')} / tree-sitter-python {version('tree-sitter-python')}"
    )


# ---- the bytes tree-sitter reads ---------------------------------------------------

_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_ASCII = bytes(range(128))


@dataclass(frozen=True)
class _OffsetMap:
    """UTF-8 offsets of a transcoded file -> raw offsets.

    ``points[i]`` is the UTF-8 offset just after a non-ASCII character and ``shifts[i]``
    how many more bytes UTF-8 has used than the raw encoding up to there.
    """

    points: list[int]
    shifts: list[int]

    def raw(self, offset: int) -> int:
        i = bisect_right(self.points, offset)
        return offset - self.shifts[i - 1] if i else offset


def _parse_input(source: SourceFile) -> tuple[bytes, _OffsetMap | None]:
    """The bytes to parse and, for a transcoded file, the way back to raw offsets."""
    data = source.data
    if data.isascii():
        return data, None
    try:
        if source.is_utf8:
            return data, None
        text = source.text
        encoding = source.encoding
    except SourceDecodeError:
        return data, None
    if _ASCII.decode(encoding, errors="replace").encode() != _ASCII:
        return data, None
    points: list[int] = []
    shifts: list[int] = []
    utf8_extra = raw_extra = 0
    for match in _NON_ASCII.finditer(text):
        char = match.group()
        utf8_extra += len(char.encode("utf-8", errors="surrogatepass")) - 1
        raw_extra += len(char.encode(encoding, errors="replace")) - 1
        points.append(match.end() + utf8_extra)
        shifts.append(utf8_extra - raw_extra)
    if len(text) + raw_extra != len(data):  # a stateful or lossy codec: no char-wise map
        return data, None
    return text.encode("utf-8", errors="surrogatepass"), _OffsetMap(points, shifts)


# ---- the walk --------------------------------------------------------------------------


@dataclass
class _Walk:
    """Rows of one parse, offsets still in the parsed buffer's coordinates."""

    nodes: RowTuples
    definitions: list[tuple[int, bool, int, int]]  # node_idx, is_class, name bstart, bend
    comments: list[tuple[int, int, int]]  # node_idx, bstart, bend
    problems: list[tuple[int, str, int, int, str]]  # node_idx, kind, bstart, bend, text
    has_error: bool


def _walk(tree: Tree, buf: bytes, file_id: str, grammar: _Grammar) -> _Walk:
    """One pre-order pass of a tree cursor over the whole tree.

    Every visited node costs one ``cursor.node`` and a few attribute reads; the error
    attributes are only read when the tree has an error somewhere.
    """
    named_kinds = grammar.named_kinds.get
    name_field = grammar.name_field
    class_kinds = grammar.class_kinds
    nodes: RowTuples = []
    definitions: list[tuple[int, bool, int, int]] = []
    comments: list[tuple[int, int, int]] = []
    problems: list[tuple[int, str, int, int, str]] = []
    emit = nodes.append
    kids: list[int] = []  # emitted children so far, per emitted node
    ancestors: list[int | None] = []  # per cursor depth: the nearest emitted ancestor
    check = tree.root_node.has_error
    cursor = tree.walk()
    parent: int | None = None
    current: int | None
    while True:
        node = cursor.node
        if node is None:
            raise RuntimeError("tree-sitter cursor lost its node")
        kind = node.kind_id
        info = named_kinds(kind)
        if info is None and not (check and node.is_missing):
            current = parent  # an anonymous token: its children (if any) hang on `parent`
        else:
            node_type, role = (node.type, _PLAIN) if info is None else info
            idx = len(nodes)
            start = node.start_byte
            end = node.end_byte
            name: str | None = None
            if role == _IDENTIFIER:
                name = buf[start:end].decode("utf-8", errors="replace")
            elif role == _DEFINITION:
                name_node = node.child_by_field_id(name_field)
                if name_node is not None:
                    name_start = name_node.start_byte
                    name_end = name_node.end_byte
                    name = buf[name_start:name_end].decode("utf-8", errors="replace")
                    definitions.append((idx, kind in class_kinds, name_start, name_end))
            elif role == _COMMENT:
                comments.append((idx, start, end))
            if parent is None:
                child_index = None
            else:
                child_index = kids[parent]
                kids[parent] = child_index + 1
            if check:
                is_error = node.is_error
                is_missing = node.is_missing
                has_error = is_error or is_missing or node.has_error
                if is_error:
                    text = buf[start : min(end, start + _ERROR_TEXT_BYTES)]
                    problems.append(
                        (idx, "error", start, end, text.decode("utf-8", errors="replace"))
                    )
                elif is_missing:
                    problems.append((idx, "missing", start, end, node.type))
            else:
                is_error = is_missing = has_error = False
            emit(
                (
                    file_id, idx, parent, node_type, cursor.field_name, child_index,
                    is_error, is_missing, has_error, start, end, name,
                )
            )  # fmt: skip
            kids.append(0)
            current = idx
        if cursor.goto_first_child():
            ancestors.append(parent)
            parent = current
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return _Walk(nodes, definitions, comments, problems, check)
            parent = ancestors.pop()


# ts_nodes row columns the definition pass reads.
_PARENT, _TYPE, _CHILD_INDEX, _IS_ERROR, _HAS_ERROR, _START, _END, _NAME = (
    TS_NODES.columns.index(c)
    for c in (
        "parent_idx", "node_type", "child_index", "is_error", "has_error", "bstart", "bend", "name",
    )
)  # fmt: skip


def _definitions(walk: _Walk, buf: bytes, file_id: str) -> RowTuples:
    """ts_defs rows, from the emitted node rows (pre-order, so enclosing defs come first)."""
    nodes = walk.nodes
    near_error = _near_error(nodes) if walk.has_error else None
    rows: RowTuples = []
    open_defs: list[tuple[int, int, str, bool]] = []  # bend, node_idx, qualname, is_class
    for idx, is_class, name_start, name_end in walk.definitions:
        row = nodes[idx]
        start, end, name = row[_START], row[_END], row[_NAME]
        while open_defs and open_defs[-1][0] <= start:
            open_defs.pop()
        if open_defs:
            _, parent_def, outer_qualname, in_class = open_defs[-1]
            qualname = f"{outer_qualname}.{name}"
        else:
            parent_def, qualname, in_class = None, name, False
        open_defs.append((end, idx, qualname, is_class))
        if is_class:
            kind = "class"
        elif buf.startswith(b"async", start):
            kind = "async_function"
        else:
            kind = "function"
        outer = row[_PARENT]
        if outer is None or nodes[outer][_TYPE] != "decorated_definition":
            outer = idx
        rows.append(
            (
                file_id, idx, kind, name, qualname, parent_def, in_class and not is_class,
                near_error is not None and near_error(outer), start, end,
                nodes[outer][_START] if outer != idx else None, name_start, name_end,
            )
        )  # fmt: skip
    return rows


def _near_error(nodes: RowTuples) -> Callable[[int], bool]:
    """Whether a node holds an error, lies inside an ERROR node or has one as a sibling."""
    inside = [False] * len(nodes)
    children: list[list[int]] = [[] for _ in nodes]
    for idx in range(1, len(nodes)):
        parent = nodes[idx][_PARENT]
        inside[idx] = inside[parent] or nodes[parent][_IS_ERROR]
        children[parent].append(idx)

    def near(idx: int) -> bool:
        if nodes[idx][_HAS_ERROR] or inside[idx]:
            return True
        parent = nodes[idx][_PARENT]
        if parent is None:
            return False
        at = nodes[idx][_CHILD_INDEX]
        return any(nodes[s][_IS_ERROR] for s in children[parent][max(0, at - 1) : at + 2])

    return near


# ---- rows in raw coordinates -------------------------------------------------------------


def _span_columns(spec: TableSpec) -> tuple[int, ...]:
    return tuple(i for i, name in enumerate(spec.columns) if name.endswith(("bstart", "bend")))


def _remap(rows: RowTuples, spec: TableSpec, offsets: _OffsetMap) -> RowTuples:
    """Rows with every span column mapped back to raw bytes."""
    columns = _span_columns(spec)
    to_raw = offsets.raw
    out: RowTuples = []
    for row in rows:
        values: list[Any] = list(row)
        for col in columns:
            if values[col] is not None:
                values[col] = to_raw(values[col])
        out.append(tuple(values))
    return out


def _unchanged(offset: int) -> int:
    return offset


def extract(source: SourceFile) -> LayerRows:
    """All tree-sitter rows of one file (never needs the file to decode)."""
    grammar = _grammar()
    buf, offsets = _parse_input(source)
    tree = grammar.parser.parse(buf)
    file_id = source.file_id
    walk = _walk(tree, buf, file_id, grammar)
    nodes = walk.nodes
    defs = _definitions(walk, buf, file_id)
    to_raw: Callable[[int], int] = _unchanged
    if offsets is not None:
        to_raw = offsets.raw
        nodes = _remap(nodes, TS_NODES, offsets)
        defs = _remap(defs, TS_DEFS, offsets)
    line_of = source.line_of_offset
    line_starts = source.line_starts
    comments: RowTuples = []
    for idx, start, end in walk.comments:
        raw_start = to_raw(start)
        text = buf[start:end].decode("utf-8", errors="replace")
        comments.append((file_id, idx, raw_start, to_raw(end), line_of(raw_start), text))
    errors: RowTuples = []
    for idx, kind, start, end, text in walk.problems:
        raw_start = to_raw(start)
        line = line_of(raw_start)
        col = raw_start - line_starts[line - 1]
        errors.append((file_id, idx, kind, raw_start, to_raw(end), line, col, text))
    return {
        TS_NODES.name: nodes,
        TS_ERRORS.name: errors,
        TS_COMMENTS.name: comments,
        TS_DEFS.name: defs,
    }


LAYER = LayerSpec(
    name="tree_sitter",
    doc="error-tolerant tree-sitter parse of the raw bytes: nodes, errors, comments, defs",
    tables=(TS_NODES, TS_ERRORS, TS_COMMENTS, TS_DEFS),
    extract=extract,
    version=_version,
    needs_text=False,
    default=True,
)
