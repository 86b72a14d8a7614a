"""Per-signal temperature scaling and threshold tuning on the dev split (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from yujing.models.metrics import best_mean_threshold, column, floor_threshold
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


RULES = ("mean", "floor")


def tune_thresholds(
    probs: Sequence[Sequence[float]],
    gold: Sequence[Sequence[int]],
    kinds: Sequence[str] | None = None,
    rule: str = "mean",
    floor_kind: str = "synthetic",
    tolerance: float = 0.01,
) -> dict[Signal, float]:
    """Per-signal F1-maximising thresholds (0.5 for a signal with no positives in dev).

    With ``kinds`` (one per dev row, e.g. ``"synthetic"`` / ``"real"``) and the ``mean`` rule, a threshold
    maximises the mean F1 over the kinds that have positives of that signal, so a few hundred real texts weigh as
    much as the larger synthetic dev set: pooled, the synthetic texts' many clear positives set the thresholds and
    real texts get thresholds that do not suit them (a gathering threshold of 0.89 that missed four in five real
    cases). The mean lets a kind with a handful of positives move a threshold far (v13: 14 real gathering
    positives set gathering to 0.16, and 63 synthetic texts without a signal read as gathering). The ``floor``
    rule keeps the ``floor_kind`` texts within ``tolerance`` of their best F1 and lets the other kinds choose
    within that band; a signal without ``floor_kind`` positives falls back to the mean rule.
    """
    if kinds is not None and len(kinds) != len(gold):
        raise ValueError(f"{len(kinds)} kinds for {len(gold)} dev rows")
    if rule not in RULES:
        raise ValueError(f"threshold rule must be one of {', '.join(RULES)}, got {rule!r}")
    groups: dict[str, list[int]] = {}
    for i, kind in enumerate(kinds if kinds is not None else [""] * len(gold)):
        groups.setdefault(kind, []).append(i)
    out: dict[Signal, float] = {}
    for j, s in enumerate(SIGNALS):
        parts = {
            kind: ([probs[i][j] for i in idx], [gold[i][j] for i in idx])
            for kind, idx in groups.items()
            if any(gold[i][j] for i in idx)
        }
        if not parts:
            out[s] = 0.5
        elif rule == "floor" and floor_kind in parts:
            others = [part for kind, part in parts.items() if kind != floor_kind]
            out[s] = floor_threshold(parts[floor_kind], others, tolerance)
        else:
            out[s] = best_mean_threshold(list(parts.values()))
    return out
