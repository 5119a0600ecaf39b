"""The vocabulary of the data-operations mapping: entity and relationship specs.

An :class:`EntitySpec` says which evidence rows become nodes of one kind; a
:class:`RelationshipSpec` says which rows (or joined pairs of rows) become edges of one
kind. Ids, join keys, spans and the CPG columns are not written here: the compiler
derives them from the semantic types of the evidence schemas. Adding a kind is one spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from codeanatomy.semantics.types import JoinKind

Op = Literal["=", "!=", "in", "not in", "is null", "is not null"]
Scalar = str | int | bool


@dataclass(frozen=True)
class Where:
    """A row filter on one column of the spec's source."""

    column: str
    op: Op
    value: Scalar | tuple[Scalar, ...] | None = None


@dataclass(frozen=True)
class Endpoint:
    """How an edge endpoint's node id is computed from the (joined) row.

    ``space`` is the id namespace (``ast``, ``ts``, ``scope``, ``symbol``, ``block``,
    ``decorator``, ``diagnostic``; ``file`` means the ``file_id`` itself); ``columns`` are
    the id parts after the file id, read from the ``side`` of a joined row. A null first
    column takes ``default`` (e.g. a top-level definition's parent is the module, node 0).
    """

    space: str
    columns: tuple[str, ...] = ()
    side: Literal["left", "right"] = "left"
    default: int | None = None


@dataclass(frozen=True)
class EntitySpec:
    """One CPG node kind.

    ``source`` rows filtered by ``where`` become nodes. The id is ``space`` + the file id +
    ``id_columns``; both default to the source's ``node_index`` column and its space.
    ``fallback_for`` names a layer: rows are taken only for files that layer could not
    read (tree-sitter standing in for ``ast``). ``residual`` makes the kind the rest of
    its space: the space's nodes no other entity claimed (``SYNTAX``).
    """

    kind: str
    source: str
    doc: str
    where: tuple[Where, ...] = ()
    name: str | None = None
    qualname: str | None = None  # local dotted qualname column, prefixed with the module
    module_qualname: bool = False  # the node is the module itself
    props: tuple[str, ...] = ()
    space: str | None = None
    id_columns: tuple[str, ...] | None = None
    fallback_for: str | None = None
    residual: bool = False
    file_span: bool = False  # span is the whole file (FILE nodes)


@dataclass(frozen=True)
class JoinSpec:
    """Join the relationship's source with ``right`` (filtered by ``where``).

    Keys are inferred from semantic types for ``kind``; ``left_on``/``right_on`` are an
    explicit override and then need ``override_reason`` (recorded in the manifest).
    """

    right: str
    kind: JoinKind
    where: tuple[Where, ...] = ()
    left_on: tuple[str, ...] = ()
    right_on: tuple[str, ...] = ()
    override_reason: str | None = None


@dataclass(frozen=True)
class RelationshipSpec:
    """One rule producing edges of ``kind`` from ``source`` rows (optionally joined)."""

    kind: str
    source: str
    src: Endpoint
    dst: Endpoint
    doc: str
    where: tuple[Where, ...] = ()
    join: JoinSpec | None = None
    props: tuple[str, ...] = ()
    fallback_for: str | None = None
    resolution_method: str | None = None
    confidence: float = 1.0
    name: str = ""  # rule name when a kind has several rules

    @property
    def rule(self) -> str:
        return f"{self.kind}:{self.name}" if self.name else self.kind


@dataclass(frozen=True)
class SqlRuleSpec:
    """A relational rule written as one SELECT over evidence tables and other views.

    For rules a single join cannot say (resolution chains, rankings, closures). The
    query names its inputs as tables; the planner reads them off the plan. ``produces``:
    ``view`` (an intermediate other rules read by ``name``), ``nodes`` or ``edges`` (rows
    in the CPG shape, merged into the output; ``props`` are extra columns ``p__<prop>``).
    Ids inside the SQL come from :func:`codeanatomy.plan.exprs.sql_stable_id`.

    A *fixpoint* rule has ``steps``: ``sql`` computes the initial state, registered as
    ``<name>__state``; each iteration evaluates the steps in order, each registered as
    ``<name>__<step>`` (later steps and the next iteration read earlier ones by those
    names), and the last step's rows become the new state. A step may also read
    ``<name>__prev_<step>``, an earlier step's value in the previous iteration (empty in
    the first), to work only on what changed since. The state has a boolean ``fresh``
    column; iteration stops when no row is fresh or after ``max_iterations``.
    The view is the last step over the final state, planned lazily through every step, so
    its lineage shows every real input; a ``fresh`` row in it means the fixpoint was not
    reached.
    """

    name: str
    sql: str
    produces: Literal["view", "nodes", "edges"]
    doc: str
    props: tuple[str, ...] = ()
    steps: tuple[tuple[str, str], ...] = ()
    max_iterations: int = 0
