"""The opt-in LibCST layer: qualified names of references, definitions and calls.

LibCST's scope analysis says what a name *means* (``osp.basename`` is ``os.path.basename``
imported, ``len`` is a builtin, ``run`` is ``Derived.run``), which the ``ast``/``symtable``
layers leave to later stages. It is ~100x slower than ``ast`` and an optional dependency
(extra ``libcst``), so the layer is off by default and imports libcst only when it runs.

Spans: ``ByteSpanPositionProvider`` counts UTF-8 bytes of the code LibCST *regenerates*
from its tree (BOM stripped, never re-encoded in the file's encoding). Offsets are shifted
past a BOM, remapped character by character for a non-UTF-8 file with non-ASCII text, and
realigned where the regenerated code drops or adds whitespace (LibCST 1.9 drops the blank
in ``except X :``), so ``data[bstart:bend]`` is exact in every case.
"""

from __future__ import annotations

import importlib.metadata
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, cast

from codeanatomy.extract.layer import LayerRows, LayerSpec, RowTuples
from codeanatomy.extract.schema import (
    ByteEnd,
    ByteStart,
    FileId,
    NameEnd,
    NameStart,
    Row,
    TableSpec,
)
from codeanatomy.scan.source import SourceFile

if TYPE_CHECKING:
    from libcst import CSTNode
    from libcst.metadata import CodeSpan, Scope


class CstNameRow(Row, frozen=True):
    """A ``Name``/``Attribute`` node with one of the qualified names LibCST gives it."""

    file_id: FileId
    node_type: str  # 'Name' | 'Attribute'
    name: str  # the Name's value, or the attribute's dotted name ('osp.basename')
    qualified_name: str
    qn_source: str  # 'import' | 'local' | 'builtin'
    bstart: ByteStart
    bend: ByteEnd


class CstDefRow(Row, frozen=True):
    """A function or class definition, one row per qualified name LibCST gives it.

    (LibCST gives exactly one to every definition of the stdlib; null when it gives none.)

    ``bstart`` is the first decorator's ``@`` when decorated: LibCST's own FunctionDef/
    ClassDef span starts at ``async``/``def``/``class`` and leaves decorators out, but the
    definition as a whole includes them. ``bend`` ends the body (LibCST's span).
    """

    file_id: FileId
    kind: str  # 'class' | 'function'
    name: str
    qualified_name: str | None  # e.g. 'Derived.run', 'make_adder.<locals>.add'
    bstart: ByteStart
    bend: ByteEnd
    name_bstart: NameStart
    name_bend: NameEnd


class CstCallRow(Row, frozen=True):
    """A call with one of the qualified names of its callee (null when it has none)."""

    file_id: FileId
    callee_text: str  # source text of the callee expression
    callee_qualified_name: str | None
    qn_source: str | None  # 'import' | 'local' | 'builtin'
    bstart: ByteStart
    bend: ByteEnd


CST_NAMES = TableSpec(
    "cst_names", CstNameRow, "LibCST qualified names of Name/Attribute nodes (one row per name)"
)
CST_DEFS = TableSpec(
    "cst_defs", CstDefRow, "function/class definitions with LibCST qualified names"
)
CST_CALLS = TableSpec(
    "cst_calls", CstCallRow, "calls with the LibCST qualified names of their callee"
)

OffsetMap = Callable[[int], int]
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# Bytes LibCST may drop or add when it regenerates code: blanks between tokens.
_BLANKS = frozenset(b" \t\f\\\r\n")


def extract(source: SourceFile) -> LayerRows:
    """Rows of the three tables; raises whatever LibCST raises on a file it cannot parse.

    Qualified names are LibCST's, with one correction: an attribute whose base is not a
    dotted name (``"x".format``, ``f().y``) gets none, because LibCST resolves it from a
    name it invents (``builtins.None``, ``f.y``). Calls of such callees keep a null row.
    """
    # Optional dependency: imported only when the layer runs, never by the layer catalog.
    import libcst as cst
    from libcst.metadata import (
        ByteSpanPositionProvider,
        MetadataWrapper,
        ScopeProvider,
    )

    text = source.text
    # The module is parsed here and never shared, so the defensive deep copy is waste.
    wrapper = MetadataWrapper(cst.parse_module(text), unsafe_skip_copy=True)
    # One resolve for both: libcst runs one tree pass per resolve round, even an empty one.
    resolved = wrapper.resolve_many([ByteSpanPositionProvider, ScopeProvider])
    spans = cast("Mapping[CSTNode, CodeSpan]", resolved[ByteSpanPositionProvider])
    scopes = cast("Mapping[CSTNode, Scope | None]", resolved[ScopeProvider])
    raw_start, raw_end = _offset_maps(source, text, wrapper.module.code)
    data = source.data
    codec = source.codec
    file_id = source.file_id
    name_cls, attr_cls, call_cls = cst.Name, cst.Attribute, cst.Call
    def_cls = (cst.FunctionDef, cst.ClassDef)
    names: RowTuples = []
    defs: RowTuples = []
    calls: RowTuples = []
    add_name, add_def, add_call = names.append, defs.append, calls.append
    # Qualified names of Name/Attribute nodes, reused when the node is a callee.
    node_qnames: dict[CSTNode, list[tuple[str, str]]] = {}

    # The span mapping holds every node (children before parents), so one loop over it
    # replaces a visitor and never recurses.
    for node, span in spans.items():
        if isinstance(node, name_cls):
            qnames = _qnames(scopes.get(node), node)
            node_qnames[node] = qnames
            if qnames:
                bstart = raw_start(span.start)
                bend = raw_end(span.start + span.length)
                value = node.value
                for qname, qsource in qnames:
                    add_name((file_id, "Name", value, qname, qsource, bstart, bend))
        elif isinstance(node, attr_cls):
            parts = [node.attr.value]
            base = node.value
            while isinstance(base, attr_cls):
                parts.append(base.attr.value)
                base = base.value
            if not isinstance(base, name_cls):
                node_qnames[node] = []
                continue
            parts.append(base.value)
            qnames = _qnames(scopes.get(node), node)
            node_qnames[node] = qnames
            if qnames:
                dotted = ".".join(reversed(parts))
                bstart = raw_start(span.start)
                bend = raw_end(span.start + span.length)
                for qname, qsource in qnames:
                    add_name((file_id, "Attribute", dotted, qname, qsource, bstart, bend))
        elif isinstance(node, call_cls):
            fspan = spans[node.func]
            callee = data[raw_start(fspan.start) : raw_end(fspan.start + fspan.length)]
            callee_text = callee.decode(codec)
            bstart = raw_start(span.start)
            bend = raw_end(span.start + span.length)
            qnames = node_qnames.get(node.func, [])
            if not qnames:
                add_call((file_id, callee_text, None, None, bstart, bend))
            for qname, qsource in qnames:
                add_call((file_id, callee_text, qname, qsource, bstart, bend))
        elif isinstance(node, def_cls):
            decorators = node.decorators
            first = spans[decorators[0]].start if decorators else span.start
            nspan = spans[node.name]
            kind = "class" if isinstance(node, cst.ClassDef) else "function"
            head = (file_id, kind, node.name.value)
            tail = (
                raw_start(first),
                raw_end(span.start + span.length),
                raw_start(nspan.start),
                raw_end(nspan.start + nspan.length),
            )
            qnames = _qnames(scopes.get(node), node)
            if not qnames:
                add_def((*head, None, *tail))
            for qname, _ in qnames:
                add_def((*head, qname, *tail))

    return {"cst_names": names, "cst_defs": defs, "cst_calls": calls}


def _qnames(scope: Scope | None, node: CSTNode) -> list[tuple[str, str]]:
    """(name, source) pairs of ``node`` in a stable order (LibCST returns a set).

    The same lookup ``QualifiedNameProvider`` makes, without its extra pass over the tree.
    """
    if scope is None:
        return []
    return sorted((q.name, q.source.name.lower()) for q in scope.get_qualified_names_for(node))


def _offset_maps(source: SourceFile, text: str, generated: str) -> tuple[OffsetMap, OffsetMap]:
    """Maps from LibCST span offsets to raw file offsets, for span starts and for span ends.

    Starts and ends differ only where whitespace was realigned: a start maps to the
    source position of the character at the offset, an end to the position just after
    the character before it.
    """
    shift = 3 if source.bom else 0
    recode = not source.is_utf8 and not text.isascii()
    if generated == text and not recode:
        plain = shift.__add__
        return plain, plain
    # A file needing a recode has no BOM (its declared encoding is not UTF-8).
    to_raw = _utf8_to_raw(source, text) if recode else shift.__add__
    if generated == text:
        return to_raw, to_raw
    starts, ends = _realign(generated.encode("utf-8"), text.encode("utf-8"))
    return (lambda offset: to_raw(starts(offset))), (lambda offset: to_raw(ends(offset)))


def _realign(generated: bytes, code: bytes) -> tuple[OffsetMap, OffsetMap]:
    """Offsets of LibCST's regenerated ``generated`` mapped onto the source's UTF-8 ``code``.

    The two may differ only by blanks between tokens; any other difference raises
    ValueError, as no span could then be trusted.
    """
    points: list[int] = []  # offsets in `generated` where the difference changes
    deltas: list[int] = []  # code offset minus generated offset from that point on
    i = j = 0
    while True:
        common = _common_prefix(code[i:], generated[j:])
        i += common
        j += common
        if i == len(code) and j == len(generated):
            break
        if i < len(code) and code[i] in _BLANKS:
            i += 1
        elif j < len(generated) and generated[j] in _BLANKS:
            j += 1
        else:
            raise ValueError(f"LibCST regenerates this file differently at UTF-8 offset {i}")
        if points and points[-1] == j:
            deltas[-1] = i - j
        else:
            points.append(j)
            deltas.append(i - j)

    def start_map(offset: int) -> int:
        index = bisect_right(points, offset)
        return offset + (deltas[index - 1] if index else 0)

    def end_map(offset: int) -> int:
        index = bisect_left(points, offset)
        return offset + (deltas[index - 1] if index else 0)

    return start_map, end_map


def _common_prefix(a: bytes, b: bytes) -> int:
    """Length of the common prefix of two byte strings (binary search on C comparisons)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def _utf8_to_raw(source: SourceFile, text: str) -> OffsetMap:
    """Map UTF-8 offsets of ``text`` to raw offsets of a file in a non-UTF-8 encoding.

    Raises ValueError for a stateful encoding (e.g. ISO-2022), where characters do not
    have a fixed byte length and no per-character map can be exact.
    """
    codec = source.encoding
    ends: list[int] = []  # UTF-8 offset just past each non-ASCII character
    deltas: list[int] = []  # raw minus UTF-8 offset from that point on
    extra_utf8 = 0
    delta = 0
    for match in _NON_ASCII.finditer(text):
        char = match.group()
        utf8_len = len(char.encode("utf-8"))
        extra_utf8 += utf8_len - 1
        delta += len(char.encode(codec)) - utf8_len
        ends.append(match.end() + extra_utf8)
        deltas.append(delta)
    if len(text.encode("utf-8")) + delta != len(source.data):
        raise ValueError(f"encoding {codec} has no per-character byte length; spans would drift")

    def to_raw(offset: int) -> int:
        index = bisect_right(ends, offset)
        return offset + (deltas[index - 1] if index else 0)

    return to_raw


def _version() -> str:
    return "libcst " + importlib.metadata.version("libcst")


LAYER = LayerSpec(
    name="libcst",
    doc="qualified names (import/local/builtin) of references, definitions and calls",
    tables=(CST_NAMES, CST_DEFS, CST_CALLS),
    extract=extract,
    version=_version,
    needs_text=True,
    default=False,
)
