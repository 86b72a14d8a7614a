"""Evaluation arithmetic for three binary signals: pure functions over probabilities and labels.

``probs`` and ``gold`` are row-per-text sequences in the order of ``SIGNALS``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from yujing.records import SIGNALS, Signal

Matrix = Sequence[Sequence[float]]
Labels = Sequence[Sequence[int]]


@dataclass(frozen=True, slots=True)
class LabelReport:
    precision: float
    recall: float
    f1: float
    support: int
    tp: int
    fp: int
    fn: int
    ece: float


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def counts(pred: Sequence[int], gold: Sequence[int]) -> tuple[int, int, int]:
    tp = sum(1 for p, g in zip(pred, gold, strict=True) if p and g)
    fp = sum(1 for p, g in zip(pred, gold, strict=True) if p and not g)
    fn = sum(1 for p, g in zip(pred, gold, strict=True) if g and not p)
    return tp, fp, fn


def f1_at(probs: Sequence[float], gold: Sequence[int], threshold: float) -> float:
    return prf(*counts([int(p >= threshold) for p in probs], gold))[2]


def best_threshold(probs: Sequence[float], gold: Sequence[int], grid: int = 99) -> float:
    """The threshold in (0, 1) maximising F1; ties go to the one closest to 0.5."""
    return best_mean_threshold([(probs, gold)], grid)


def best_mean_threshold(parts: Sequence[tuple[Sequence[float], Sequence[int]]], grid: int = 99) -> float:
    """The threshold in (0, 1) maximising the mean of the parts' F1 (each part one kind of text, e.g. the
    synthetic and the real dev texts, so a small part weighs as much as a big one); ties go closest to 0.5."""
    candidates = [(k + 1) / (grid + 1) for k in range(grid)]

    def mean_f1(t: float) -> float:
        return sum(f1_at(probs, gold, t) for probs, gold in parts) / len(parts)

    return max(candidates, key=lambda t: (round(mean_f1(t), 9), -abs(t - 0.5)))


def floor_threshold(
    floor: tuple[Sequence[float], Sequence[int]],
    parts: Sequence[tuple[Sequence[float], Sequence[int]]],
    tolerance: float,
    grid: int = 99,
) -> float:
    """The threshold in (0, 1) maximising the mean F1 of ``parts`` among those whose F1 on ``floor`` is within
    ``tolerance`` of the best F1 on ``floor``; ties go closest to 0.5. So the texts of ``floor`` (e.g. the synthetic
    dev texts) keep nearly their best F1 while ``parts`` (e.g. real dev texts) choose within that band."""
    if tolerance < 0:
        raise ValueError(f"tolerance must be 0 or more, got {tolerance}")
    candidates = [(k + 1) / (grid + 1) for k in range(grid)]
    floor_f1 = {t: round(f1_at(floor[0], floor[1], t), 9) for t in candidates}
    best = max(floor_f1.values())
    allowed = [t for t in candidates if floor_f1[t] >= best - tolerance - 1e-9]
    if not parts:
        return max(allowed, key=lambda t: (floor_f1[t], -abs(t - 0.5)))

    def mean_f1(t: float) -> float:
        return sum(f1_at(probs, gold, t) for probs, gold in parts) / len(parts)

    return max(allowed, key=lambda t: (round(mean_f1(t), 9), -abs(t - 0.5)))


def ece(probs: Sequence[float], gold: Sequence[int], bins: int = 10) -> float:
    """Expected calibration error of one binary label (equal-width bins)."""
    if not probs:
        return 0.0
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, p in enumerate(probs) if lo <= p < hi or (b == bins - 1 and p == 1.0)]
        if idx:
            conf = sum(probs[i] for i in idx) / len(idx)
            acc = sum(gold[i] for i in idx) / len(idx)
            total += len(idx) / len(probs) * abs(conf - acc)
    return total


def column(rows: Sequence[Sequence[Any]], j: int) -> list[Any]:
    return [r[j] for r in rows]


def label_reports(probs: Matrix, gold: Labels, thresholds: Mapping[Signal, float]) -> dict[Signal, LabelReport]:
    out: dict[Signal, LabelReport] = {}
    for j, s in enumerate(SIGNALS):
        p, g = column(probs, j), column(gold, j)
        tp, fp, fn = counts([int(x >= thresholds[s]) for x in p], g)
        pr, rc, f = prf(tp, fp, fn)
        out[s] = LabelReport(pr, rc, f, sum(g), tp, fp, fn, ece(p, g))
    return out


def macro_f1(reports: Mapping[Signal, LabelReport]) -> float:
    return sum(r.f1 for r in reports.values()) / len(reports)


def confusions(probs: Matrix, gold: Labels, thresholds: Mapping[Signal, float]) -> dict[str, int]:
    """How often a text of signal A (and not B) was flagged B: ``"A->B"`` counts, plus ``"none->B"``."""
    out: dict[str, int] = {}
    for row, g in zip(probs, gold, strict=True):
        pred = [int(row[j] >= thresholds[s]) for j, s in enumerate(SIGNALS)]
        sources = [s.value for j, s in enumerate(SIGNALS) if g[j]] or ["none"]
        for j, s in enumerate(SIGNALS):
            if pred[j] and not g[j]:
                for src in sources:
                    key = f"{src}->{s.value}"
                    out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def example_losses(probs: Matrix, gold: Labels) -> list[float]:
    """Summed binary cross-entropy per text (higher = worse)."""
    eps = 1e-7
    return [
        -sum(math.log(max(p, eps)) if y else math.log(max(1 - p, eps)) for p, y in zip(row, g, strict=True))
        for row, g in zip(probs, gold, strict=True)
    ]


def summary(probs: Matrix, gold: Labels, thresholds: Mapping[Signal, float]) -> dict[str, Any]:
    reports = label_reports(probs, gold, thresholds)
    return {
        "n": len(gold),
        "macro_f1": round(macro_f1(reports), 4),
        "mean_ece": round(sum(r.ece for r in reports.values()) / len(reports), 4),
        "labels": {
            s.value: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(r).items()}
            for s, r in reports.items()
        },
        "confusions": confusions(probs, gold, thresholds),
    }
