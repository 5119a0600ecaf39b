"""UTF-16 columns (SCIP/LSP positions) → byte offsets, on non-ASCII lines."""

import codecs

import pytest

from codeanatomy.scan.source import SourceFile

LINES = (
    "x = 1",
    'z = "😀😀"; w = café(y)  # emoji then an accented call',
    "def gröẞe(π=3.14): return π * 2  # 𝔘 outside the BMP",
    "名前 = 'ünïcödé'",
)


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_character_boundary_of_every_line(newline):
    data = newline.join(LINES).encode() + newline.encode()
    source = SourceFile("m.py", data)
    base = 0
    for lineno, line in enumerate(LINES, 1):
        for k in range(len(line) + 1):
            expected = base + len(line[:k].encode())
            assert source.offset_of_utf16_col(lineno, _utf16_units(line[:k])) == expected
        assert source.offset_of_utf16_col(lineno, 10_000) == base + len(line.encode())
        base += len(line.encode()) + len(newline.encode())


def test_latin1_file_counts_characters_of_its_own_encoding():
    text = "# -*- coding: latin-1 -*-\nnaïve = 'crème'\n"
    source = SourceFile("l.py", text.encode("latin-1"))
    line = "naïve = 'crème'"
    start = len(b"# -*- coding: latin-1 -*-\n")
    for k in range(len(line) + 1):
        assert source.offset_of_utf16_col(2, k) == start + len(line[:k].encode("latin-1"))


def test_bom_is_skipped_or_counted_as_one_unit():
    source = SourceFile("b.py", codecs.BOM_UTF8 + "été = 1\n".encode())
    bom = len(codecs.BOM_UTF8)
    assert source.offset_of_utf16_col(1, 1) == bom + len("é".encode())
    assert source.offset_of_utf16_col(1, 1, bom_is_char=True) == bom
    assert source.offset_of_utf16_col(1, 4, bom_is_char=True) == bom + len("été".encode())
    assert source.offset_of_utf16_col(2, 0) == len(source.data)  # past the last line
