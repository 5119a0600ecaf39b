"""What the planning authority receives from the semantic compiler: named view builders.

A builder is a pure function of the session: it reads its inputs with
``ctx.table(name)`` (evidence tables or other views) and returns a DataFrame. Nothing
declares a view's inputs: the planner finds them in the plan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from datafusion import DataFrame, SessionContext

ViewRole = Literal["intermediate", "output"]
ViewBuilder = Callable[[SessionContext], DataFrame]
StatementsBuilder = Callable[[SessionContext], tuple[DataFrame, ...]]


@dataclass(frozen=True)
class ViewDefinition:
    """One view of the semantic program: its name, builder and role.

    ``output`` views are CPG tables written to Delta; ``intermediate`` views exist to feed
    other views.

    An iterated view (a fixpoint rule) is several statements, each reading the previous
    ones: ``statements`` plans them, each over schema-only placeholders of the others,
    the last one having the view's schema; the view's lineage, functions and fingerprint
    cover all of them, and ``build`` runs the iterations.
    """

    name: str
    build: ViewBuilder
    role: ViewRole = "intermediate"
    doc: str = ""
    statements: StatementsBuilder | None = None

    def planned(self, ctx: SessionContext) -> tuple[DataFrame, ...]:
        """The frames planning reads: the view's statements, or its one frame."""
        return self.statements(ctx) if self.statements else (self.build(ctx),)
