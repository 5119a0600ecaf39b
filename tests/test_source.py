"""SourceFile: encodings, line index and the coordinate conversions every layer uses."""

import ast
import sysconfig
from pathlib import Path

import pytest

from codeanatomy.scan.source import SourceDecodeError, SourceFile
from tests import fixture_repos as fx


def _names(source: SourceFile) -> list[ast.Name]:
    return [n for n in ast.walk(source.python_ast()) if isinstance(n, ast.Name)]


def _codec(source: SourceFile) -> str:
    return source.codec


@pytest.mark.parametrize(
    ("name", "data", "encoding"),
    [
        ("latin1_cookie.py", fx.LATIN1_COOKIE, "iso8859-1"),
        ("bom_utf8.py", fx.BOM_UTF8, "utf-8-sig"),
        ("crlf.py", fx.CRLF, "utf-8"),
        ("tabs.py", fx.TABS, "utf-8"),
        ("core.py", fx.PKG_CORE.encode(), "utf-8"),
    ],
)
def test_ast_name_positions_map_to_exact_raw_bytes(name, data, encoding):
    source = SourceFile(name, data)
    assert source.encoding == encoding
    names = _names(source)
    assert names
    for node in names:
        start = source.offset_of_utf8_col(node.lineno, node.col_offset)
        end = source.offset_of_utf8_col(node.end_lineno or 0, node.end_col_offset or 0)
        assert data[start:end].decode(_codec(source)) == node.id


def test_latin1_offsets_differ_from_utf8_columns():
    source = SourceFile("l.py", fx.LATIN1_COOKIE)
    # line 4: "    s = 'éé'; y = café" -- `y` is 2 bytes earlier in latin-1 than in UTF-8
    line = source.text.splitlines()[3]
    utf8_col = len(line[: line.index("y =")].encode("utf-8"))
    offset = source.offset_of_utf8_col(4, utf8_col)
    assert source.data[offset : offset + 1] == b"y"
    assert offset - source.line_starts[3] == utf8_col - 2


def test_char_columns_round_trip():
    source = SourceFile("b.py", fx.BOM_UTF8)
    for lineno, line in enumerate(source.text.splitlines(), 1):
        for col in range(len(line) + 1):
            offset = source.offset_of_char_col(lineno, col)
            assert source.char_col_of_offset(offset) == (lineno, col)
            assert source.data[offset:].decode("utf-8").startswith(line[col:])


def test_line_index_counts_crlf_cr_and_lf_like_the_tokenizer():
    source = SourceFile("m.py", b"a = 1\rb = 2\r\nc = 3\nd")
    assert source.line_starts == [0, 6, 13, 19]
    assert source.line_ends == [5, 11, 18, 20]
    assert [s.lineno for s in source.python_ast().body] == [1, 2, 3, 4]


def test_bom_counts_in_line_one():
    source = SourceFile("b.py", fx.BOM_UTF8)
    assert source.bom and source.line_starts[0] == 0
    first = source.python_ast().body[0]
    assert isinstance(first, ast.Assign)
    assert source.offset_of_utf8_col(1, first.col_offset) == 3


def test_decode_error_reports_the_raw_offset():
    data = b"x = 1\ny = '\xff'\n"
    source = SourceFile("d.py", data)
    with pytest.raises(SourceDecodeError) as info:
        _ = source.text
    assert info.value.offset == data.index(b"\xff")
    assert source.line_of_offset(info.value.offset) == 2


def test_contradictory_cookie_is_a_decode_error():
    source = SourceFile("c.py", b"\xef\xbb\xbf# coding: latin-1\nx = 1\n")
    with pytest.raises(SourceDecodeError):
        _ = source.encoding


def test_parse_failure_is_raised_to_every_caller():
    source = SourceFile("deep.py", fx.deep_nesting_source())
    for _ in range(2):
        with pytest.raises(RecursionError):
            source.python_ast()


def test_stdlib_sample_name_spans_are_exact():
    root = Path(sysconfig.get_path("stdlib"))
    for rel in ("functools.py", "argparse.py", "asyncio/tasks.py", "encodings/cp1252.py"):
        data = (root / rel).read_bytes()
        source = SourceFile(rel, data)
        for node in _names(source):
            start = source.offset_of_utf8_col(node.lineno, node.col_offset)
            end = source.offset_of_utf8_col(node.end_lineno or 0, node.end_col_offset or 0)
            assert data[start:end].decode(_codec(source)) == node.id
