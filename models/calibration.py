"""Per-signal temperature scaling and threshold tuning on the dev split (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from yujing.models.metrics import best_threshold, column
from yujing.records import SIGNALS, Signal

TEMPERATURE_GRID = tuple(round(0.25 * 1.1**k, 4) for k in range(40))  # 0.25 .. ~10


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))


def nll(logits: Sequence[float], gold: Sequence[int], temperature: float) -> float:
    eps = 1e-7
    total = 0.0
    for z, y in zip(logits, gold, strict=True):
        p = sigmoid(z / temperature)
        total -= math.log(max(p, eps)) if y else math.log(max(1.0 - p, eps))
    return total / max(len(gold), 1)


def fit_temperature(logits: Sequence[float], gold: Sequence[int]) -> float:
    """The temperature on a geometric grid minimising dev log-loss (1.0 when dev has one class)."""
    if len(set(gold)) < 2:
        return 1.0
    return min(TEMPERATURE_GRID, key=lambda t: nll(logits, gold, t))


def fit_temperatures(logits: Sequence[Sequence[float]], gold: Sequence[Sequence[int]]) -> tuple[float, float, float]:
    t = [fit_temperature(column(logits, j), column(gold, j)) for j in range(len(SIGNALS))]
    return (t[0], t[1], t[2])


def apply(logits: Sequence[Sequence[float]], temperatures: Sequence[float]) -> list[list[float]]:
    return [[sigmoid(z / t) for z, t in zip(row, temperatures, strict=True)] for row in logits]


def tune_thresholds(probs: Sequence[Sequence[float]], gold: Sequence[Sequence[int]]) -> dict[Signal, float]:
    """Per-signal F1-maximising thresholds (0.5 for a signal with no positives in dev)."""
    out: dict[Signal, float] = {}
    for j, s in enumerate(SIGNALS):
        g = column(gold, j)
        out[s] = best_threshold(column(probs, j), g) if any(g) else 0.5
    return out
