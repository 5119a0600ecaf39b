"""Streaming reader of ``index.scip`` files.

An index is one protobuf ``Index`` message, and indexers (scip-python among them) write
it as a concatenation of small ``Index`` messages — metadata first, then one document at
a time, then external symbols — which protobuf defines to mean the same as one message.
The reader walks the top-level fields over a memory map and decodes one document or
symbol at a time, so a large index is never held as Python objects all at once.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeanatomy.extract.scip import proto

_WIRE_VARINT = 0
_WIRE_I64 = 1
_WIRE_LEN = 2
_WIRE_I32 = 5


class IndexFormatError(ValueError):
    """The file is not a well-formed SCIP index (truncated or not protobuf)."""


@dataclass(frozen=True)
class IndexEntry:
    """One top-level item of an index: ``metadata``, ``document`` or ``external_symbol``."""

    kind: str
    message: Any


_KINDS = {
    proto.INDEX_METADATA: ("metadata", proto.Metadata),
    proto.INDEX_DOCUMENTS: ("document", proto.Document),
    proto.INDEX_EXTERNAL_SYMBOLS: ("external_symbol", proto.SymbolInformation),
}


def read_index(path: Path) -> Iterator[IndexEntry]:
    """Yield the index's top-level items in file order, one decoded message at a time."""
    with path.open("rb") as handle:
        if path.stat().st_size == 0:
            return
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            yield from _entries(data)


def _entries(data: mmap.mmap) -> Iterator[IndexEntry]:
    pos, size = 0, len(data)
    while pos < size:
        key, pos = _varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == _WIRE_LEN:
            length, pos = _varint(data, pos)
            end = pos + length
            if end > size:
                raise IndexFormatError(f"truncated index: field {field} ends past the file")
            known = _KINDS.get(field)
            if known is not None:
                kind, message_type = known
                try:
                    message = message_type.FromString(data[pos:end])
                except Exception as exc:  # protobuf's DecodeError, without importing it
                    raise IndexFormatError(f"undecodable {kind} at byte {pos}: {exc}") from exc
                yield IndexEntry(kind, message)
            pos = end
        elif wire == _WIRE_VARINT:
            _, pos = _varint(data, pos)
        elif wire == _WIRE_I64:
            pos += 8
        elif wire == _WIRE_I32:
            pos += 4
        else:
            raise IndexFormatError(f"unsupported wire type {wire} at byte {pos}")
    if pos != size:
        raise IndexFormatError("truncated index: last field ends past the file")


def _varint(data: mmap.mmap, pos: int) -> tuple[int, int]:
    result = shift = 0
    size = len(data)
    while True:
        if pos >= size or shift > 63:
            raise IndexFormatError("truncated or overlong varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
