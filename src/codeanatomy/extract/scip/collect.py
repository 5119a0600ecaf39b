"""An ``index.scip`` → SCIP evidence rows, streamed into the build's table sinks.

Documents are matched to the scanned files by relative path; each document's ranges are
converted to byte spans through its file's :class:`SourceFile` (the declared position
unit, UTF-16 by default). scip-python (pyright) keeps a UTF-8 BOM as one character at the
start of line 1 and decodes every file as UTF-8, whatever its coding cookie: a latin-1
file's accented letters are then one replacement character each, which is still one
character per byte, but its identifiers are cut at them (its own view, kept as given).
Rows leave in batches, so memory holds one document and the table of global symbols
(one entry per distinct symbol string), never the index.

Problems of one document (its file no longer decodes, a range outside the file) become
``extract_errors`` rows for that file and the rest of the index is read on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from codeanatomy.extract.errors import EXTRACT_ERRORS
from codeanatomy.extract.schema import TableSpec
from codeanatomy.extract.scip import proto
from codeanatomy.extract.scip.reader import read_index
from codeanatomy.extract.scip.symbols import SymbolSyntaxError, parse_symbol
from codeanatomy.extract.scip.tables import (
    SCIP_DIAGNOSTICS,
    SCIP_DOCUMENTS,
    SCIP_OCCURRENCES,
    SCIP_RELATIONSHIPS,
    SCIP_SYMBOLS,
    TABLES,
)
from codeanatomy.scan.source import SourceDecodeError, SourceFile

LAYER_NAME = "scip"
_FLUSH_ROWS = 50_000
_MAX_DOC_CHARS = 2000
_UTF8, _UTF16, _UTF32 = 1, 2, 3


class BatchSink(Protocol):
    def add(self, batch: pa.RecordBatch) -> None: ...


@dataclass
class IndexCounts:
    """What reading one index found (all counts over documents of scanned files)."""

    documents: int = 0
    documents_outside_scan: int = 0
    occurrences: int = 0
    symbols: int = 0
    relationships: int = 0
    diagnostics: int = 0
    bad_ranges: int = 0
    paths: set[str] = field(default_factory=set)


@dataclass
class _Symbol:
    """A symbol seen so far: the first file it occurs in, its information, relationships."""

    file_id: str | None
    info: tuple[Any, ...] | None = None
    relationships: list[tuple[Any, ...]] = field(default_factory=list)


class _Buffers:
    """Row tuples per table, flushed to the sinks as Arrow batches."""

    def __init__(self, sinks: Mapping[str, BatchSink]) -> None:
        self._sinks = sinks
        self._rows: dict[str, list[tuple[Any, ...]]] = {}

    def add(self, spec: TableSpec, row: tuple[Any, ...]) -> None:
        rows = self._rows.setdefault(spec.name, [])
        rows.append(row)
        if len(rows) >= _FLUSH_ROWS:
            self.flush(spec)

    def flush(self, spec: TableSpec) -> None:
        rows = self._rows.pop(spec.name, [])
        if rows:
            self._sinks[spec.name].add(spec.batch(rows))

    def flush_all(self) -> None:
        for spec in (*TABLES, EXTRACT_ERRORS):
            self.flush(spec)


def collect_index(
    index: Path, root: Path, scanned: Mapping[str, str], sinks: Mapping[str, BatchSink]
) -> IndexCounts:
    """Read ``index`` into ``sinks``; ``scanned`` maps repo-relative path → file id."""
    counts = IndexCounts()
    out = _Buffers(sinks)
    globals_: dict[str, _Symbol] = {}
    for entry in read_index(index):
        if entry.kind == "document":
            _document(entry.message, root, scanned, out, counts, globals_)
        elif entry.kind == "external_symbol":
            _information(entry.message, None, True, globals_)
    for symbol, seen in globals_.items():
        if seen.file_id is None:  # described by the index, never occurring in a document
            continue
        out.add(SCIP_SYMBOLS, _symbol_row(symbol, seen.file_id, seen.info))
        counts.symbols += 1
    for seen in globals_.values():
        for row in seen.relationships:
            if seen.file_id is not None:
                out.add(SCIP_RELATIONSHIPS, (seen.file_id, *row))
                counts.relationships += 1
    out.flush_all()
    return counts


def _document(
    doc: Any,
    root: Path,
    scanned: Mapping[str, str],
    out: _Buffers,
    counts: IndexCounts,
    globals_: dict[str, _Symbol],
) -> None:
    path = doc.relative_path
    file_id = scanned.get(path)
    if file_id is None:
        counts.documents_outside_scan += 1
        return
    try:
        source = SourceFile(path, (root / path).read_bytes())
        _ = source.text  # a file that does not decode has no columns to convert
    except (OSError, SourceDecodeError) as exc:
        error_type = "DecodeError" if isinstance(exc, SourceDecodeError) else type(exc).__name__
        out.add(EXTRACT_ERRORS, (file_id, path, LAYER_NAME, error_type, str(exc)[:500], None, None))
        return
    counts.documents += 1
    counts.paths.add(path)
    encoding = doc.position_encoding
    offset = (
        source.offset_of_utf8_col
        if encoding == _UTF8
        else source.offset_of_char_col
        if encoding == _UTF32
        else partial(source.offset_of_utf16_col, bom_is_char=True)
    )
    locals_: dict[str, _Symbol] = {}
    occurrences = 0
    bad = 0
    for occ_idx, occ in enumerate(doc.occurrences):
        span = _span(occ.range, offset)
        if span is None:
            bad += 1
            continue
        (sl, sc, el, ec), bstart, bend = span
        enclosing = _span(occ.enclosing_range, offset) if occ.enclosing_range else None
        symbol = occ.symbol
        roles = occ.symbol_roles
        out.add(
            SCIP_OCCURRENCES,
            (
                file_id,
                occ_idx,
                symbol,
                roles,
                bool(roles & proto.ROLE_DEFINITION),
                occ.syntax_kind,
                sl,
                sc,
                el,
                ec,
                bstart,
                bend,
                enclosing[1] if enclosing else None,
                enclosing[2] if enclosing else None,
            ),
        )
        occurrences += 1
        table = locals_ if symbol.startswith("local ") else globals_
        if symbol not in table:
            table[symbol] = _Symbol(file_id)
        elif table[symbol].file_id is None:
            table[symbol].file_id = file_id
        for diag_idx, diag in enumerate(occ.diagnostics):
            severity = proto.SEVERITIES[diag.severity] if diag.severity < 5 else "unspecified"
            out.add(
                SCIP_DIAGNOSTICS,
                (
                    file_id,
                    occ_idx,
                    diag_idx,
                    severity,
                    diag.code,
                    diag.message,
                    diag.source,
                    bstart,
                    bend,
                ),
            )
            counts.diagnostics += 1
    for info in doc.symbols:
        _information(info, file_id, False, globals_, locals_)
    for symbol, seen in locals_.items():
        out.add(SCIP_SYMBOLS, _symbol_row(symbol, file_id, seen.info))
        counts.symbols += 1
        for row in seen.relationships:
            out.add(SCIP_RELATIONSHIPS, (file_id, *row))
            counts.relationships += 1
    if bad:
        counts.bad_ranges += bad
        out.add(
            EXTRACT_ERRORS,
            (
                file_id,
                path,
                LAYER_NAME,
                "ScipRangeError",
                f"{bad} occurrence range(s) malformed or outside the file; skipped",
                None,
                None,
            ),
        )
    counts.occurrences += occurrences
    out.add(
        SCIP_DOCUMENTS,
        (
            file_id,
            path,
            doc.language or "python",
            proto.POSITION_ENCODINGS[encoding] if 0 < encoding < 4 else "utf16",
            occurrences,
            len(doc.symbols),
        ),
    )


def _information(
    info: Any,
    file_id: str | None,
    external: bool,
    globals_: dict[str, _Symbol],
    locals_: dict[str, _Symbol] | None = None,
) -> None:
    """Record a SymbolInformation (its rows leave with the symbol's, keyed by its file)."""
    symbol = info.symbol
    if symbol.startswith("local "):
        if locals_ is None:
            return  # a local symbol outside a document means nothing
        seen = locals_.setdefault(symbol, _Symbol(file_id))
    else:
        seen = globals_.setdefault(symbol, _Symbol(file_id))
        seen.file_id = seen.file_id or file_id
    if seen.info is None:
        seen.info = (
            external,
            info.kind,
            info.display_name or None,
            info.enclosing_symbol or None,
            "\n\n".join(info.documentation)[:_MAX_DOC_CHARS] or None,
        )
    seen.relationships.extend(
        (
            symbol,
            rel.symbol,
            rel.is_reference,
            rel.is_implementation,
            rel.is_type_definition,
            rel.is_definition,
        )
        for rel in info.relationships
    )


def _symbol_row(symbol: str, file_id: str, info: tuple[Any, ...] | None) -> tuple[Any, ...]:
    try:
        parsed = parse_symbol(symbol)
        header = (parsed.manager, parsed.package, parsed.version)
        described = (parsed.suffix, parsed.name, parsed.qualname)
        is_local = parsed.is_local
    except SymbolSyntaxError:
        header, described, is_local = (None, None, None), ("unparsed", None, None), False
    external, kind, display, enclosing, documentation = info or (False, 0, None, None, None)
    return (
        file_id,
        symbol,
        is_local,
        external,
        *(value or None for value in header),
        *described,
        kind,
        display,
        enclosing,
        documentation,
    )


def _span(native: Any, offset: Any) -> tuple[tuple[int, int, int, int], int, int] | None:
    """((start line, start col, end line, end col), bstart, bend) of a SCIP range."""
    if len(native) == 3:
        sl, sc, ec = native
        el = sl
    elif len(native) == 4:
        sl, sc, el, ec = native
    else:
        return None
    if min(sl, sc, el, ec) < 0:
        return None
    bstart, bend = offset(sl + 1, sc), offset(el + 1, ec)
    if bend < bstart:
        return None
    return (sl, sc, el, ec), bstart, bend
