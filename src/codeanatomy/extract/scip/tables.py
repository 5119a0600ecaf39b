"""Row declarations of the SCIP evidence tables (the one source of their schemas).

Spans are converted at extraction time, through the file's :class:`SourceFile` line
index, from the document's native position unit (``scip_documents.position_encoding``:
UTF-16 code units unless a document declares UTF-8 or UTF-32) to raw byte offsets, like
every other layer's. The native coordinates are kept beside them (0-based lines and
columns, ``span_unit: scip_document``) so a conversion can always be checked.

Symbols are keyed by their SCIP string; a ``local`` symbol is only meaningful inside its
document. Every row has the file it belongs to: a symbol's and its relationships' is the
file of its document for a local symbol, else the first document (in index order) it
occurs in; symbols occurring in no document are left out.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from codeanatomy.extract.schema import ByteEnd, ByteStart, FileId, Row, TableSpec

_NATIVE = {"semantic": "scip_position", "span_unit": "scip_document", "arrow": "int32"}


def _native(doc: str) -> msgspec.Meta:
    return msgspec.Meta(ge=0, description=doc, extra=_NATIVE)


def _enclosing(doc: str) -> msgspec.Meta:
    # Not tagged span_start/span_end: the row's own span is the occurrence's.
    return msgspec.Meta(description=doc, extra={"semantic": "enclosing_span", "span_unit": "byte"})


OccIdx = Annotated[
    int,
    msgspec.Meta(
        ge=0,
        description="index of the occurrence in its document",
        extra={"semantic": "node_index", "space": "scip_occ"},
    ),
]
NativeLine = Annotated[int, _native("0-based line of the SCIP range")]
NativeCol = Annotated[int, _native("column of the SCIP range in the document's position unit")]


class ScipDocumentRow(Row, frozen=True):
    file_id: FileId
    path: str
    language: str
    position_encoding: Annotated[
        str,
        msgspec.Meta(
            description="unit of the document's columns: utf16 (also when the document "
            "leaves it unspecified), utf8 or utf32"
        ),
    ]
    occurrences: int
    symbols: int


class ScipOccurrenceRow(Row, frozen=True):
    file_id: FileId
    occ_idx: OccIdx
    symbol: str
    roles: Annotated[
        int,
        msgspec.Meta(description="SCIP symbol_roles bit set (1 definition, 2 import, ...)"),
    ]
    is_definition: bool
    syntax_kind: int
    start_line: NativeLine
    start_col: NativeCol
    end_line: NativeLine
    end_col: NativeCol
    bstart: ByteStart
    bend: ByteEnd
    enclosing_bstart: Annotated[int | None, _enclosing("enclosing range start (bytes)")]
    enclosing_bend: Annotated[int | None, _enclosing("enclosing range end (bytes, exclusive)")]


class ScipSymbolRow(Row, frozen=True):
    file_id: FileId  # a local symbol's document; else the first document it occurs in
    symbol: str
    is_local: bool
    is_external: bool  # described by the index's external symbols, not a document
    package_manager: str | None
    package_name: str | None
    package_version: str | None
    suffix: Annotated[
        str,
        msgspec.Meta(
            description="kind of the last descriptor: namespace, type, term, method, "
            "parameter, type_parameter, meta, macro; 'local' for local symbols"
        ),
    ]
    name: str | None
    qualname: str | None  # dotted descriptors, e.g. 'pkg.mod.Class.method'
    kind: int  # SymbolInformation.kind (0: unspecified)
    display_name: str | None
    enclosing_symbol: str | None
    documentation: str | None  # the documentation strings joined, at most 2000 characters


class ScipRelationshipRow(Row, frozen=True):
    file_id: FileId  # as for the symbol
    symbol: str
    target_symbol: str
    is_reference: bool
    is_implementation: bool
    is_type_definition: bool
    is_definition: bool


class ScipDiagnosticRow(Row, frozen=True):
    file_id: FileId
    occ_idx: Annotated[
        int,
        msgspec.Meta(
            description="the occurrence carrying the diagnostic",
            extra={"semantic": "node_ref", "space": "scip_occ", "references": "scip_occurrences"},
        ),
    ]
    diag_idx: int  # index among the occurrence's diagnostics
    severity: str  # error | warning | information | hint | unspecified
    code: str
    message: str
    source: str
    bstart: ByteStart
    bend: ByteEnd


SCIP_DOCUMENTS = TableSpec("scip_documents", ScipDocumentRow, "documents of the SCIP index")
SCIP_OCCURRENCES = TableSpec(
    "scip_occurrences", ScipOccurrenceRow, "SCIP occurrences: symbol, roles, byte span"
)
SCIP_SYMBOLS = TableSpec(
    "scip_symbols",
    ScipSymbolRow,
    "every SCIP symbol the index mentions, with its information when the index has it",
)
SCIP_RELATIONSHIPS = TableSpec(
    "scip_relationships", ScipRelationshipRow, "relationships between SCIP symbols"
)
SCIP_DIAGNOSTICS = TableSpec(
    "scip_diagnostics", ScipDiagnosticRow, "diagnostics attached to SCIP occurrences"
)
TABLES = (SCIP_DOCUMENTS, SCIP_OCCURRENCES, SCIP_SYMBOLS, SCIP_RELATIONSHIPS, SCIP_DIAGNOSTICS)
