"""Evidence row declarations and the Arrow schemas derived from them.

Each evidence table is declared exactly once, as a msgspec ``Struct`` subclass of
:class:`Row`. Field order is column order; the Python type gives the Arrow type
(``str``→utf8, ``int``→int64, ``bool``, ``float``→float64, ``X | None``→nullable) and the
annotated :data:`msgspec.Meta` carries the semantic type (``extra={"semantic": ...}``),
the span unit and an Arrow type override (``extra={"arrow": "int32"}``). The Arrow schema,
the Delta schema and the JSON Schema all come from that declaration; nothing restates it.

Extractors emit rows as plain tuples in field order (building a Struct per row would
cost more than the parse on a large repository); tests check every tuple converts
strictly to its Struct.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any

import msgspec
import msgspec.inspect as mi
import pyarrow as pa


class Row(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """Base of every evidence row declaration."""


def _meta(semantic: str, doc: str, **extra: str) -> msgspec.Meta:
    return msgspec.Meta(description=doc, extra={"semantic": semantic, **extra})


def _byte(semantic: str, doc: str, *, nullable: bool = False) -> msgspec.Meta:
    """A byte-offset column; non-null offsets are checked to be >= 0."""
    extra = {"semantic": semantic, "span_unit": "byte"}
    if nullable:
        return msgspec.Meta(description=doc, extra=extra)
    return msgspec.Meta(ge=0, description=doc, extra=extra)


# Column vocabulary shared by the evidence tables. The semantic tag is what the semantic
# compiler uses to infer join keys and span units; the docstring is exported with schemas.
FileId = Annotated[str, _meta("file_id", "stable id of the file (from its repo-relative path)")]
ByteStart = Annotated[int, _byte("span_start", "span start, byte offset into the raw file")]
ByteEnd = Annotated[int, _byte("span_end", "span end (exclusive), byte offset into the raw file")]
OptByteStart = Annotated[
    int | None,
    _byte(
        "span_start", "span start, byte offset into the raw file (null: no position)", nullable=True
    ),
]
OptByteEnd = Annotated[
    int | None,
    _byte("span_end", "span end (exclusive), byte offset (null: no position)", nullable=True),
]
LineNo = Annotated[
    int,
    msgspec.Meta(
        ge=1, description="1-based line number", extra={"semantic": "line", "arrow": "int32"}
    ),
]
OptLineNo = Annotated[
    int | None,
    msgspec.Meta(description="1-based line number", extra={"semantic": "line", "arrow": "int32"}),
]

NameStart = Annotated[int, _byte("name_span_start", "start of the identifier's span (raw bytes)")]
NameEnd = Annotated[
    int, _byte("name_span_end", "end of the identifier's span (raw bytes, exclusive)")
]
OptNameStart = Annotated[
    int | None,
    _byte("name_span_start", "start of the identifier's span (raw bytes)", nullable=True),
]
OptNameEnd = Annotated[
    int | None,
    _byte("name_span_end", "end of the identifier's span (raw bytes, exclusive)", nullable=True),
]


# Node identities and references. ``node_index`` is a row's own node within its file and
# ``space`` (one index space per parser); a ``node_ref`` points at a node of that space,
# and ``references`` names the table holding its target when it is narrower than "any
# node". The semantic compiler infers join keys from exactly these tags.
def _node(semantic: str, space: str, doc: str, references: str | None = None) -> msgspec.Meta:
    extra = {"semantic": semantic, "space": space}
    if references is not None:
        extra["references"] = references
    return msgspec.Meta(description=doc, extra=extra)


AstNodeId = Annotated[int, _node("node_index", "ast", "pre-order index of the ast node")]
AstRef = Annotated[int, _node("node_ref", "ast", "an ast node of this file")]
OptAstRef = Annotated[int | None, _node("node_ref", "ast", "an ast node of this file")]
AstDefRef = Annotated[
    int, _node("node_ref", "ast", "the enclosing definition's node", references="ast_defs")
]
OptAstDefRef = Annotated[
    int | None, _node("node_ref", "ast", "the enclosing definition's node", references="ast_defs")
]
AstCallRef = Annotated[int, _node("node_ref", "ast", "the call's node", references="ast_calls")]
ScopeId = Annotated[int, _node("node_index", "scope", "pre-order index of the symtable block")]
OptScopeRef = Annotated[int | None, _node("node_ref", "scope", "a symtable block of this file")]
ScopeRef = Annotated[int, _node("node_ref", "scope", "a symtable block of this file")]
TsNodeId = Annotated[
    int, _node("node_index", "ts", "pre-order index among the file's ts_nodes (root: 0)")
]
OptTsRef = Annotated[int | None, _node("node_ref", "ts", "a tree-sitter node of this file")]
OptTsDefRef = Annotated[
    int | None, _node("node_ref", "ts", "the enclosing definition's node", references="ts_defs")
]
CodeId = Annotated[int, _node("node_index", "code", "pre-order index of the code object")]
OptCodeRef = Annotated[int | None, _node("node_ref", "code", "a code object of this file")]
CodeRef = Annotated[int, _node("node_ref", "code", "a code object of this file")]


@dataclass(frozen=True)
class TableSpec:
    """An evidence table: its name and its row declaration."""

    name: str
    row: type[Row]
    doc: str

    @cached_property
    def schema(self) -> pa.Schema:
        return arrow_schema(self.row, doc=self.doc)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.row.__struct_fields__

    @cached_property
    def _struct_type(self) -> pa.StructType:
        return pa.struct(list(self.schema))

    def batch(self, rows: Sequence[tuple[Any, ...]]) -> pa.RecordBatch:
        """Arrow batch from row tuples in declaration order.

        The tuples go to Arrow as one struct array (converted in C++), twice as fast as
        transposing them into columns in Python first. Python strings may hold lone
        surrogates (``"\\ud800"`` is a legal literal) that UTF-8 cannot carry; such
        values are written with backslash escapes, so nothing is lost or refused.
        """
        if not rows:
            return pa.RecordBatch.from_pylist([], schema=self.schema)
        try:
            structs = pa.array(rows, type=self._struct_type)
        except UnicodeEncodeError:
            structs = pa.array([_escape_surrogates(row) for row in rows], type=self._struct_type)
        return pa.RecordBatch.from_arrays(structs.flatten(), schema=self.schema)


def _escape_surrogates(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(
        value.encode("utf-8", "backslashreplace").decode("utf-8")
        if isinstance(value, str)
        else value
        for value in row
    )


_ARROW_NAMED = {
    "int32": pa.int32(),
    "int16": pa.int16(),
    "int64": pa.int64(),
}


def arrow_schema(row: type[Row], *, doc: str = "") -> pa.Schema:
    """Derive the Arrow schema (with semantic field metadata) of a row declaration."""
    info = mi.type_info(row)
    if not isinstance(info, mi.StructType):
        raise TypeError(f"{row!r} is not a Struct")
    fields = [_arrow_field(f.name, f.type) for f in info.fields]
    meta = {b"row": row.__name__.encode(), b"doc": doc.encode()} if doc else None
    return pa.schema(fields, metadata=meta)


def _arrow_field(name: str, tinfo: mi.Type) -> pa.Field:
    nullable = False
    extra: dict[str, Any] = {}
    description = ""
    while True:
        if isinstance(tinfo, mi.Metadata):
            extra.update(tinfo.extra or {})
            description = (tinfo.extra_json_schema or {}).get("description", description)
            tinfo = tinfo.type
        elif isinstance(tinfo, mi.UnionType):
            members = [t for t in tinfo.types if not isinstance(t, mi.NoneType)]
            if len(members) != 1:
                raise TypeError(f"column {name}: only `X | None` unions are supported")
            nullable = True
            tinfo = members[0]
        else:
            break
    arrow_type = _scalar_arrow_type(name, tinfo, extra.get("arrow"))
    metadata = {k: str(v) for k, v in extra.items() if k != "arrow"}
    if description:
        metadata["doc"] = description
    return pa.field(name, arrow_type, nullable=nullable, metadata=metadata or None)


def _scalar_arrow_type(name: str, tinfo: mi.Type, override: str | None) -> pa.DataType:
    if override is not None:
        return _ARROW_NAMED[override]
    if isinstance(tinfo, mi.StrType):
        return pa.string()
    if isinstance(tinfo, mi.BoolType):
        return pa.bool_()
    if isinstance(tinfo, mi.IntType):
        return pa.int64()
    if isinstance(tinfo, mi.FloatType):
        return pa.float64()
    if isinstance(tinfo, mi.BytesType):
        return pa.binary()
    raise TypeError(f"column {name}: unsupported column type {tinfo!r}")
