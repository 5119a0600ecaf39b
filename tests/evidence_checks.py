"""Checks shared by the extractor tests."""

from __future__ import annotations

import sysconfig
import tempfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import msgspec

from codeanatomy.extract.layer import LayerRows, LayerSpec
from codeanatomy.scan.source import SourceFile
from tests import fixture_repos as fx

STDLIB = Path(sysconfig.get_path("stdlib"))


@cache
def fixture_files() -> dict[str, bytes]:
    """Every good and bad file of the fixture repository, by repo-relative path."""
    with tempfile.TemporaryDirectory() as tmp:
        root = fx.write_messy_repo(Path(tmp))
        return {rel: (root / rel).read_bytes() for rel in (*fx.GOOD_FILES, *fx.BAD_FILES)}


def extract(layer: LayerSpec, relpath: str, data: bytes) -> tuple[SourceFile, LayerRows]:
    source = SourceFile(relpath, data)
    return source, layer.extract(source)


def extract_fixture(layer: LayerSpec, relpath: str) -> tuple[SourceFile, LayerRows]:
    return extract(layer, relpath, fixture_files()[relpath])


def extract_stdlib(layer: LayerSpec, relpath: str) -> tuple[SourceFile, LayerRows]:
    return extract(layer, relpath, (STDLIB / relpath).read_bytes())


def check_layer_rows(layer: LayerSpec, rows: LayerRows) -> None:
    """Every table is declared, and every row tuple converts strictly to its Struct."""
    assert set(rows) <= set(layer.table_names()), set(rows) - set(layer.table_names())
    for name, tuples in rows.items():
        spec = layer.table(name)
        for row in tuples:
            msgspec.convert(list(row), spec.row, strict=True)
        spec.batch(tuples)  # the Arrow conversion accepts them too


def records(layer: LayerSpec, table: str, rows: LayerRows) -> list[dict[str, Any]]:
    """Rows of ``table`` as dicts (test readability only)."""
    cols = layer.table(table).columns
    return [dict(zip(cols, row, strict=True)) for row in rows.get(table, [])]


def assert_all_spans_in_bounds(recs: Iterable[dict[str, Any]], size: int) -> None:
    for rec in recs:
        bstart, bend = rec.get("bstart"), rec.get("bend")
        if bstart is None or bend is None:
            continue
        assert 0 <= bstart <= bend <= size, rec
