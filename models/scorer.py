"""The scorer contract: ``score(texts) -> list[Scores]``, one return type whatever the model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from yujing.records import SIGNALS, Scores, Signal


class Scorer(Protocol):
    name: str
    version: str
    thresholds: Mapping[Signal, float]

    def score(self, texts: Sequence[str]) -> list[Scores]: ...


def labels_for(scores: Scores, thresholds: Mapping[Signal, float]) -> tuple[Signal, ...]:
    """Signals at or above their threshold, in the canonical order."""
    return tuple(s for s in SIGNALS if scores.get(s) >= thresholds.get(s, 0.5))
