"""Semantic types of evidence columns, read from the Arrow field metadata.

The evidence row declarations tag their columns (``semantic``: file_id, span_start,
span_end, node_index, node_ref, ...; ``space``: the node index space; ``references``: the
table a reference points into). :class:`AnnotatedSchema` reads those tags back, and
:func:`infer_join_keys` derives the keys of a relationship from them, with a confidence:

* ``file``: equality on the file identity of both sides;
* ``ref_to_node``: the left side's reference into a space equals the right side's own
  node index in that space (plus the file). A reference whose ``references`` names a
  table other than the right side's is not a candidate; two remaining candidates are an
  ambiguity that only an explicit, recorded override can settle;
* ``span_equal``: identical spans (file, start, end) — the exact-span equi-join
  DataFusion runs as a hash join, preferred to containment joins;
* ``name_span_equal``: identical identifier spans (a definition's name).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import pyarrow as pa

from codeanatomy.semantics.decisions import InferenceConfidence, certain, fallback

JoinKind = Literal["file", "ref_to_node", "span_equal", "name_span_equal"]
KeyPairs = tuple[tuple[str, str], ...]


class SemanticType(StrEnum):
    FILE_ID = "file_id"
    SPAN_START = "span_start"
    SPAN_END = "span_end"
    NAME_SPAN_START = "name_span_start"
    NAME_SPAN_END = "name_span_end"
    NODE_INDEX = "node_index"
    NODE_REF = "node_ref"
    PATH = "path"


@dataclass(frozen=True)
class ColumnType:
    name: str
    semantic: str | None
    space: str | None
    references: str | None


class JoinInferenceError(ValueError):
    """No keys, or ambiguous keys, for a relationship without an override."""


@dataclass(frozen=True)
class AnnotatedSchema:
    """An evidence (or view) schema with the semantic type of each column."""

    table: str
    columns: tuple[ColumnType, ...]

    @classmethod
    def of(cls, table: str, schema: pa.Schema) -> AnnotatedSchema:
        return cls(table, tuple(_column_type(field) for field in schema))

    def with_semantic(self, semantic: SemanticType, space: str | None = None) -> list[ColumnType]:
        return [
            c
            for c in self.columns
            if c.semantic == semantic and (space is None or c.space == space)
        ]

    def one(self, semantic: SemanticType, space: str | None = None) -> str:
        found = self.with_semantic(semantic, space)
        if len(found) != 1:
            raise JoinInferenceError(
                f"{self.table}: expected one {semantic} column"
                f"{f' in space {space}' if space else ''}, found {[c.name for c in found]}"
            )
        return found[0].name

    def node_index(self) -> ColumnType:
        found = self.with_semantic(SemanticType.NODE_INDEX)
        if len(found) != 1:
            raise JoinInferenceError(f"{self.table}: no single node_index column")
        return found[0]

    def span(self, *, name_span: bool = False) -> tuple[str, str]:
        """(start, end) columns of the node's span, or of its identifier's span."""
        start_type, end_type = (
            (SemanticType.NAME_SPAN_START, SemanticType.NAME_SPAN_END)
            if name_span
            else (SemanticType.SPAN_START, SemanticType.SPAN_END)
        )
        starts = [c.name for c in self.with_semantic(start_type)]
        ends = [c.name for c in self.with_semantic(end_type)]
        if len(starts) != 1 or len(ends) != 1:
            raise JoinInferenceError(f"{self.table}: no single {'name ' if name_span else ''}span")
        return starts[0], ends[0]


def infer_join_keys(
    left: AnnotatedSchema, right: AnnotatedSchema, kind: JoinKind
) -> tuple[KeyPairs, InferenceConfidence]:
    """Key pairs (left column, right column) for ``kind``, from semantic types only."""
    file_pair = (left.one(SemanticType.FILE_ID), right.one(SemanticType.FILE_ID))
    if kind == "file":
        return (file_pair,), certain("semantic_type:file_id")
    if kind in ("span_equal", "name_span_equal"):
        name_span = kind == "name_span_equal"
        ls, le = left.span(name_span=name_span)
        rs, re_ = right.span(name_span=name_span)
        return (file_pair, (ls, rs), (le, re_)), certain(
            "semantic_type:file_id", "semantic_type:span_start", "semantic_type:span_end"
        )
    target = right.node_index()
    candidates = [
        c
        for c in left.with_semantic(SemanticType.NODE_REF, target.space)
        if c.references in (None, right.table)
    ]
    narrowed = [c for c in candidates if c.references == right.table]
    if len(narrowed) == 1:
        return (file_pair, (narrowed[0].name, target.name)), certain(
            "semantic_type:node_ref", f"references:{right.table}"
        )
    if len(candidates) == 1:
        return (file_pair, (candidates[0].name, target.name)), fallback(
            0.9,
            "reference target is any node of the space",
            "semantic_type:node_ref",
            f"space:{target.space}",
        )
    raise JoinInferenceError(
        f"{left.table} -> {right.table}: {len(candidates)} references into space "
        f"{target.space!r} ({[c.name for c in candidates]}); give an override with a reason"
    )


def _column_type(field: pa.Field) -> ColumnType:
    meta = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
    return ColumnType(field.name, meta.get("semantic"), meta.get("space"), meta.get("references"))
