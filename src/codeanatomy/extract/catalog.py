"""The evidence layers CodeAnatomy knows, and the per-run selection of them.

``LAYERS`` is an immutable tuple; a run binds the layers it needs into an
:class:`EvidencePlan` (no mutable registry anywhere). The tables a plan produces are the
per-file tables, the error table and every selected layer's tables — all derived from the
layers' own declarations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from codeanatomy.extract import (
    ast_layer,
    bytecode_layer,
    libcst_layer,
    symtable_layer,
    tree_sitter_layer,
)
from codeanatomy.extract.errors import EXTRACT_ERRORS
from codeanatomy.extract.file_tables import FILE_LINES, REPO_FILES, WIDE_CHARS
from codeanatomy.extract.layer import LayerSpec
from codeanatomy.extract.schema import TableSpec
from codeanatomy.extract.scip import layer as scip_layer

LAYERS: tuple[LayerSpec, ...] = (
    ast_layer.LAYER,
    symtable_layer.LAYER,
    bytecode_layer.LAYER,
    tree_sitter_layer.LAYER,
    libcst_layer.LAYER,
)
# Repository-level layers (one run per build, not per file): the build runs them itself.
REPO_LAYERS: tuple[scip_layer.RepoLayerSpec, ...] = (scip_layer.LAYER,)
BASE_TABLES: tuple[TableSpec, ...] = (REPO_FILES, FILE_LINES, WIDE_CHARS, EXTRACT_ERRORS)


class LayerSelectionError(ValueError):
    """``--layers`` named something that is not a layer."""


@dataclass(frozen=True)
class EvidencePlan:
    """The layers one run extracts, in catalogue order (per-file, then repository-level)."""

    layers: tuple[LayerSpec, ...]
    repo_layers: tuple[scip_layer.RepoLayerSpec, ...] = ()

    @classmethod
    def from_names(cls, names: Iterable[str]) -> EvidencePlan:
        wanted = set(names)
        unknown = wanted - set(_all_names())
        if unknown:
            raise LayerSelectionError(f"unknown layer(s): {', '.join(sorted(unknown))}")
        return cls(
            tuple(layer for layer in LAYERS if layer.name in wanted),
            tuple(layer for layer in REPO_LAYERS if layer.name in wanted),
        )

    @classmethod
    def from_selection(cls, selection: str) -> EvidencePlan:
        """Parse ``--layers``: comma-separated names, ``default``, ``all``, ``-name`` removes."""
        chosen: list[str] = []
        for raw in selection.split(","):
            token = raw.strip()
            if not token:
                continue
            if token.startswith("-"):
                chosen = [n for n in chosen if n != token[1:]]
                if token[1:] not in _all_names():
                    raise LayerSelectionError(_unknown_message(token[1:]))
                continue
            if token == "default":
                names = [layer.name for layer in LAYERS if layer.default]
            elif token == "all":
                names = list(_all_names())
            elif token in _all_names():
                names = [token]
            else:
                raise LayerSelectionError(_unknown_message(token))
            chosen.extend(n for n in names if n not in chosen)
        return cls.from_names(chosen)

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the per-file layers (what extraction workers run)."""
        return tuple(layer.name for layer in self.layers)

    @property
    def tables(self) -> tuple[TableSpec, ...]:
        return BASE_TABLES + tuple(t for layer in self.layers for t in layer.tables)


def all_tables() -> tuple[TableSpec, ...]:
    """Every evidence table any layer can produce (the catalogue's full schema set)."""
    per_file = tuple(t for layer in LAYERS for t in layer.tables)
    return BASE_TABLES + per_file + tuple(t for layer in REPO_LAYERS for t in layer.tables)


def _all_names() -> tuple[str, ...]:
    return tuple(layer.name for layer in LAYERS) + tuple(layer.name for layer in REPO_LAYERS)


def _unknown_message(name: str) -> str:
    known = ", ".join(_all_names())
    return f"unknown layer {name!r} (known: default, all, {known})"
