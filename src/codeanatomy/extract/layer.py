"""The contract every evidence layer fulfils.

A layer is one parser: it declares its tables once (see :mod:`codeanatomy.extract.schema`)
and offers one function from a :class:`SourceFile` to row tuples per table. The function
runs inside a worker process; it either returns all of a file's rows or raises, in which
case the runner records one ``extract_errors`` row and keeps the file's other layers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from codeanatomy.extract.schema import TableSpec
from codeanatomy.scan.source import SourceFile

RowTuples = list[tuple[Any, ...]]
LayerRows = Mapping[str, RowTuples]
ExtractFn = Callable[[SourceFile], LayerRows]


@dataclass(frozen=True)
class LayerSpec:
    """One evidence layer: its name, tables, extraction function and provenance."""

    name: str
    doc: str
    tables: tuple[TableSpec, ...]
    extract: ExtractFn
    version: Callable[[], str]
    # False for parsers that work on raw bytes (tree-sitter): they still run on files
    # that do not decode, which is what keeps broken files in the graph.
    needs_text: bool = True
    default: bool = True

    def table(self, name: str) -> TableSpec:
        for spec in self.tables:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def table_names(self) -> Sequence[str]:
        return [t.name for t in self.tables]
