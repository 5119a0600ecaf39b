"""Per-file evidence tables: one row per discovered file, and its line index."""

from __future__ import annotations

from typing import Annotated

import msgspec

from codeanatomy.extract.schema import ByteStart, FileId, LineNo, Row, TableSpec

Sha256 = Annotated[
    str | None,
    msgspec.Meta(
        description="hex SHA-256 of the raw bytes (null when unreadable or skipped)",
        extra={"semantic": "content_hash"},
    ),
]


class RepoFileRow(Row, frozen=True):
    file_id: FileId
    path: Annotated[
        str, msgspec.Meta(description="repo-relative POSIX path", extra={"semantic": "path"})
    ]
    size: int
    sha256: Sha256
    encoding: Annotated[
        str | None,
        msgspec.Meta(
            description="declared source encoding (BOM or PEP 263 cookie); null if unknown"
        ),
    ]
    has_bom: bool
    line_count: int
    is_stub: bool
    status: Annotated[
        str,
        msgspec.Meta(
            description="ok | binary | too_large | unreadable | undecodable | worker_crashed"
        ),
    ]


class FileLineRow(Row, frozen=True):
    file_id: FileId
    line_no: LineNo
    line_start_byte: ByteStart
    line_end_byte: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            description="end of the line's content, terminator excluded (exclusive)",
            extra={"semantic": "span_end", "span_unit": "byte"},
        ),
    ]


class WideCharRow(Row, frozen=True):
    file_id: FileId
    line_no: LineNo
    byte_offset: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            description="raw offset of a character encoded in more than one byte",
            extra={"semantic": "span_start", "span_unit": "byte"},
        ),
    ]
    extra_bytes: Annotated[
        int,
        msgspec.Meta(
            ge=1, description="the character's byte length minus one (a BOM: its whole length)"
        ),
    ]


REPO_FILES = TableSpec("repo_files", RepoFileRow, "every discovered Python file, one row each")
FILE_LINES = TableSpec("file_lines", FileLineRow, "line index: byte range of every line")
WIDE_CHARS = TableSpec(
    "file_wide_chars",
    WideCharRow,
    "multi-byte characters, so character columns derive from byte spans in plans",
)

FILE_STATUSES = ("ok", "binary", "too_large", "unreadable", "undecodable", "worker_crashed")
