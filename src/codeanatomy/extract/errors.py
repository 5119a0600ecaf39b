"""The ``extract_errors`` table: one row per file × layer that could not be extracted."""

from __future__ import annotations

from codeanatomy.extract.schema import FileId, OptLineNo, Row, TableSpec
from codeanatomy.scan.source import SourceDecodeError, SourceFile


class ExtractErrorRow(Row, frozen=True):
    file_id: FileId
    path: str
    layer: str
    error_type: str
    message: str
    line: OptLineNo
    col: int | None


EXTRACT_ERRORS = TableSpec(
    "extract_errors", ExtractErrorRow, "files (or file x layer) that failed; the build goes on"
)

_MAX_MESSAGE = 500


def error_row(
    source: SourceFile | None,
    file_id: str,
    path: str,
    layer: str,
    exc: BaseException,
) -> tuple[str, str, str, str, str, int | None, int | None]:
    """Error row of ``exc`` raised while extracting ``layer`` of a file."""
    line: int | None = None
    col: int | None = None
    message = str(exc) or type(exc).__name__
    if isinstance(exc, SyntaxError):
        line = exc.lineno
        col = exc.offset - 1 if exc.offset else None
        message = exc.msg
    elif isinstance(exc, SourceDecodeError) and exc.offset is not None and source is not None:
        line = source.line_of_offset(exc.offset)
        col = exc.offset - source.line_starts[line - 1]
    elif isinstance(getattr(exc, "raw_line", None), int):
        # libcst's ParserSyntaxError is not a SyntaxError but carries its position
        line = exc.raw_line  # type: ignore[attr-defined]
        col = getattr(exc, "raw_column", None)
    elif isinstance(exc, RecursionError):
        message = f"nesting too deep for the parser: {message}"
    error_type = "DecodeError" if isinstance(exc, SourceDecodeError) else type(exc).__name__
    return (file_id, path, layer, error_type, message[:_MAX_MESSAGE], line, col)
