"""The scorer contract: ``score(texts) -> list[Scores]``, one return type whatever the model."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from yujing.records import SIGNALS, Scores, Signal


class Scorer(Protocol):
    name: str
    version: str
    thresholds: Mapping[Signal, float]

    def score(self, texts: Sequence[str]) -> list[Scores]: ...


class LogitScorer(Protocol):
    """A scorer that also gives raw logits (the transformer scorers), for calibrating again."""

    def logits(self, texts: Sequence[str]) -> list[list[float]]: ...


def probabilities(scorer: Scorer, texts: Sequence[str], desc: str, batch: int = 64) -> list[list[float]]:
    """Every text's scores as ``[rumour, panic, gathering]``, scored ``batch`` at a time with a progress bar on
    stderr (evaluation and distillation score thousands of texts)."""
    return _batched(lambda part: [[sc.get(sig) for sig in SIGNALS] for sc in scorer.score(part)], texts, desc, batch)


def logit_rows(scorer: LogitScorer, texts: Sequence[str], desc: str, batch: int = 64) -> list[list[float]]:
    """Every text's raw logits (before temperatures), batched with a progress bar like :func:`probabilities`."""
    return _batched(scorer.logits, texts, desc, batch)


def _batched(
    fn: Callable[[Sequence[str]], list[list[float]]], texts: Sequence[str], desc: str, batch: int
) -> list[list[float]]:
    import sys

    from tqdm import tqdm

    out: list[list[float]] = []
    for start in tqdm(range(0, len(texts), batch), desc=desc, unit="batch", file=sys.stderr, leave=False):
        out += fn(texts[start : start + batch])
    return out


def labels_for(scores: Scores, thresholds: Mapping[Signal, float]) -> tuple[Signal, ...]:
    """Signals at or above their threshold, in the canonical order."""
    return tuple(s for s in SIGNALS if scores.get(s) >= thresholds.get(s, 0.5))
