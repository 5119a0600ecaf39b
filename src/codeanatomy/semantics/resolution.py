"""Resolution rules: SQL rules that resolve names to definitions (REFERS_TO, BINDS, ...)."""

from __future__ import annotations

from codeanatomy.semantics.specs import SqlRuleSpec

RULES: tuple[SqlRuleSpec, ...] = ()
