"""One source file as stored on disk, and the single place where coordinates become bytes.

Every evidence span is a pair of byte offsets into the file's raw bytes (``bstart``,
``bend``, end-exclusive), so ``raw[bstart:bend]`` is exactly the node's source whatever the
file's encoding. Parsers speak other units:

* ``ast``/``symtable``/``dis``: 1-based line + UTF-8 byte column *of the decoded line*
  (the BOM is not counted on line 1) -> :meth:`SourceFile.offset_of_utf8_col`;
* tree-sitter: raw bytes already;
* character columns (LibCST, derived line/col) -> :meth:`SourceFile.offset_of_char_col`.
* SCIP/LSP positions: UTF-16 code units of the line -> :meth:`SourceFile.offset_of_utf16_col`.

Lines end at ``\\r\\n``, ``\\n`` or a lone ``\\r``, exactly as CPython's tokenizer counts them.
"""

from __future__ import annotations

import ast
import codecs
import hashlib
import io
import tokenize
from bisect import bisect_right
from functools import cached_property

from codeanatomy.ids import file_id_for

UTF8_NAMES = frozenset({"utf-8", "utf-8-sig"})


class SourceDecodeError(Exception):
    """The file's bytes do not decode with its declared encoding."""

    def __init__(self, message: str, offset: int | None) -> None:
        super().__init__(message)
        self.offset = offset


class SourceFile:
    """A file's raw bytes with its encoding, line index and span conversions."""

    def __init__(self, relpath: str, data: bytes) -> None:
        self.relpath = relpath
        self.file_id = file_id_for(relpath)
        self.data = data
        self.bom = data.startswith(codecs.BOM_UTF8)
        self.line_starts, self.line_ends = _line_index(data)
        self._line_maps: dict[int, tuple[bytes, str] | None] = {}
        self._ast: ast.Module | BaseException | None = None

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def line_count(self) -> int:
        return len(self.line_starts)

    @cached_property
    def has_nul(self) -> bool:
        return b"\x00" in self.data

    @cached_property
    def encoding(self) -> str:
        """Declared encoding (BOM or PEP 263 cookie), normalised; ``utf-8`` by default.

        Raises :class:`SourceDecodeError` for an unknown or contradictory declaration.
        """
        try:
            name, _ = tokenize.detect_encoding(io.BytesIO(self.data).readline)
        except SyntaxError as exc:
            raise SourceDecodeError(str(exc), None) from exc
        return codecs.lookup(name).name

    @property
    def is_utf8(self) -> bool:
        return self.encoding in UTF8_NAMES

    @property
    def codec(self) -> str:
        """The codec that decodes raw slices of the file (a BOM is sliced off, not decoded)."""
        return "utf-8" if self.is_utf8 else self.encoding

    def span_text(self, bstart: int, bend: int) -> str:
        """The source text of a raw byte span."""
        return self.data[bstart:bend].decode(self.codec)

    @cached_property
    def text(self) -> str:
        """The decoded source (BOM stripped, line endings untouched)."""
        body = self.data[len(codecs.BOM_UTF8) :] if self.bom else self.data
        codec = self.codec
        try:
            return body.decode(codec)
        except UnicodeDecodeError as exc:
            offset = exc.start + (len(codecs.BOM_UTF8) if self.bom else 0)
            raise SourceDecodeError(
                f"cannot decode as {self.encoding}: {exc.reason}", offset
            ) from exc

    def python_ast(self) -> ast.Module:
        """The ``ast`` parse, done once and shared by the layers that start from it.

        A failed parse raises the same exception to every layer that asks, so each of
        them reports it (one error row per layer).
        """
        if self._ast is None:
            try:
                self._ast = ast.parse(self.text, filename=self.relpath)
            except (SyntaxError, ValueError, RecursionError, MemoryError, SourceDecodeError) as exc:
                self._ast = exc
        if isinstance(self._ast, BaseException):
            raise self._ast
        return self._ast

    # ---- coordinates ---------------------------------------------------------------

    @cached_property
    def line_bases(self) -> list[int]:
        """Raw offset of column 0 of each line, indexed by 1-based line number.

        In a UTF-8 file (``is_utf8``) a UTF-8 column is a byte count, so
        ``line_bases[line] + col`` equals :meth:`offset_of_utf8_col` without a call per
        position — the hot path of the layers. Line 1 skips the BOM.
        """
        bases = [0, *self.line_starts]
        if self.bom and len(bases) > 1:
            bases[1] += len(codecs.BOM_UTF8)
        return bases

    def wide_chars(self) -> list[tuple[str, int, int, int]]:
        """(file_id, line, raw offset, extra bytes) of every character wider than a byte.

        With these rows a plan turns byte columns into character columns exactly:
        ``char_col = byte_col - sum(extra bytes of wide characters before it on the line)``.
        Only lines that are not pure ASCII are decoded. A BOM is one row whose extra
        bytes are its whole width: it counts for no character.
        """
        rows: list[tuple[str, int, int, int]] = []
        if self.bom and self.line_starts:
            rows.append((self.file_id, 1, 0, len(codecs.BOM_UTF8)))
        codec = self.codec
        for line_no in range(1, len(self.line_starts) + 1):
            start, end = self.line_bases[line_no], self.line_ends[line_no - 1]
            raw = self.data[start:end]
            if raw.isascii():
                continue
            offset = start
            for char in raw.decode(codec):
                width = len(char.encode(codec))
                if width > 1:
                    rows.append((self.file_id, line_no, offset, width - 1))
                offset += width
        return rows

    def line_of_offset(self, offset: int) -> int:
        """1-based line holding byte ``offset``."""
        return max(1, bisect_right(self.line_starts, offset))

    def offset_of_utf8_col(self, lineno: int, col: int) -> int:
        """Byte offset of a (1-based line, UTF-8 column of the decoded line) position."""
        if lineno > len(self.line_starts):
            return len(self.data)
        start = self.line_bases[lineno]
        mapped = self._line_map(lineno)
        if mapped is None:
            return start + col
        utf8_line, line_text = mapped
        chars = len(utf8_line[:col].decode("utf-8", errors="ignore"))
        return start + len(line_text[:chars].encode(self.encoding))

    def offset_of_char_col(self, lineno: int, col: int) -> int:
        """Byte offset of a (1-based line, 0-based character column) position."""
        if lineno > len(self.line_starts):
            return len(self.data)
        start = self.line_bases[lineno]
        end = self.line_ends[lineno - 1]
        raw = self.data[start:end]
        if raw.isascii():
            return start + col
        codec = self.codec
        return start + len(raw.decode(codec)[:col].encode(codec))

    def offset_of_utf16_col(self, lineno: int, col: int, *, bom_is_char: bool = False) -> int:
        """Byte offset of a (1-based line, UTF-16 code unit column) position.

        The unit of LSP and SCIP positions: a character outside the BMP (an emoji) counts
        two. A column past the line's end stops at the end (terminator excluded).
        ``bom_is_char``: the producer kept a BOM as a character (U+FEFF, one unit) at the
        start of line 1, as pyright does.
        """
        if lineno > len(self.line_starts):
            return len(self.data)
        if bom_is_char and lineno == 1 and self.bom:
            col = max(0, col - 1)
        start = self.line_bases[lineno]
        end = self.line_ends[lineno - 1]
        raw = self.data[start:end]
        if raw.isascii():
            return start + min(col, len(raw))
        offset, units = start, 0
        codec = self.codec
        for char in raw.decode(codec):
            if units >= col:
                break
            units += 2 if ord(char) > 0xFFFF else 1
            offset += len(char.encode(codec))
        return offset

    def char_col_of_offset(self, offset: int) -> tuple[int, int]:
        """(1-based line, 0-based character column) of a byte offset."""
        lineno = self.line_of_offset(offset)
        start = self.line_starts[lineno - 1] if self.line_starts else 0
        if lineno == 1 and self.bom:
            start = min(offset, start + len(codecs.BOM_UTF8))
        raw = self.data[start:offset]
        if raw.isascii():
            return lineno, len(raw)
        codec = self.codec
        return lineno, len(raw.decode(codec, errors="replace"))

    def _line_map(self, lineno: int) -> tuple[bytes, str] | None:
        """UTF-8 bytes and text of a line when its raw bytes differ from its UTF-8 form."""
        if self.is_utf8:
            return None
        if lineno in self._line_maps:
            return self._line_maps[lineno]
        start = self.line_starts[lineno - 1]
        raw = self.data[start : self.line_ends[lineno - 1]]
        result: tuple[bytes, str] | None = None
        if not raw.isascii():
            line_text = raw.decode(self.encoding)
            result = (line_text.encode("utf-8"), line_text)
        self._line_maps[lineno] = result
        return result


def _line_index(data: bytes) -> tuple[list[int], list[int]]:
    """Start and end (terminator excluded) byte offsets of every line."""
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for line in data.splitlines(keepends=True):
        starts.append(pos)
        if line.endswith(b"\r\n"):
            ends.append(pos + len(line) - 2)
        elif line.endswith((b"\n", b"\r")):
            ends.append(pos + len(line) - 1)
        else:
            ends.append(pos + len(line))
        pos += len(line)
    return starts, ends
