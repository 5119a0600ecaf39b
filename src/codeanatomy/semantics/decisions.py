"""Every inferred decision carries how sure it is and what it rests on.

A decision is never taken from a name's prefix or suffix: its evidence sources name the
topology, schema or statistics it came from, and a fallback says so in
``fallback_reason``. The set of decisions of a run is the decision-provenance artifact.
"""

from __future__ import annotations

import msgspec


class InferenceConfidence(msgspec.Struct, frozen=True, kw_only=True):
    """How sure an inferred decision is (0..1), from which evidence, and why it fell back."""

    score: float
    evidence_sources: tuple[str, ...]
    fallback_reason: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"confidence score {self.score} is outside [0, 1]")


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """One inferred decision about one subject (a view, a dataset, a join)."""

    subject: str
    decision_type: str
    value: str
    confidence: InferenceConfidence


def certain(*sources: str) -> InferenceConfidence:
    """Confidence of a decision read directly off its evidence."""
    return InferenceConfidence(score=1.0, evidence_sources=tuple(sources))


def fallback(score: float, reason: str, *sources: str) -> InferenceConfidence:
    """Confidence of a decision taken without the evidence that would settle it."""
    return InferenceConfidence(score=score, evidence_sources=tuple(sources), fallback_reason=reason)
