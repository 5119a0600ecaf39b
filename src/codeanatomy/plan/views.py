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


@dataclass(frozen=True)
class ViewDefinition:
    """One view of the semantic program: its name, builder and role.

    ``output`` views are CPG tables written to Delta; ``intermediate`` views exist to feed
    other views.
    """

    name: str
    build: ViewBuilder
    role: ViewRole = "intermediate"
    doc: str = ""
