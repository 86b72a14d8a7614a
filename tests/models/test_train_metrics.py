"""Evaluation arithmetic and calibration (pure)."""

from __future__ import annotations

import math
import random

import pytest

from yujing.models import calibration, metrics
from yujing.records import SIGNALS, Signal

HALF = dict.fromkeys(SIGNALS, 0.5)


def test_prf_and_counts() -> None:
    assert metrics.counts([1, 1, 0, 0], [1, 0, 1, 0]) == (1, 1, 1)
    assert metrics.prf(1, 1, 1) == (0.5, 0.5, 0.5)
    assert metrics.prf(0, 0, 0) == (0.0, 0.0, 0.0)


def test_best_threshold_separates_when_possible() -> None:
    probs, gold = [0.1, 0.2, 0.35, 0.4, 0.9], [0, 0, 1, 1, 1]
    t = metrics.best_threshold(probs, gold)
    assert 0.2 < t <= 0.35
    assert metrics.f1_at(probs, gold, t) == 1.0


def test_ece_is_zero_when_confidence_matches_frequency_and_large_when_not() -> None:
    assert metrics.ece([0.75] * 4, [1, 1, 1, 0]) < 1e-9
    assert metrics.ece([0.95] * 4, [0, 0, 0, 0]) > 0.9


def test_summary_reports_per_label_macro_and_confusions() -> None:
    probs = [[0.9, 0.1, 0.1], [0.1, 0.9, 0.8], [0.1, 0.1, 0.1], [0.6, 0.1, 0.1]]
    gold = [[1, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 0]]
    s = metrics.summary(probs, gold, HALF)
    assert s["labels"]["rumour"]["precision"] == 0.5 and s["labels"]["panic"]["f1"] == 1.0
    assert s["labels"]["gathering"]["f1"] == 0.0
    assert s["macro_f1"] == round((2 / 3 + 1.0 + 0.0) / 3, 4)
    assert s["confusions"] == {"panic->gathering": 1, "none->rumour": 1}


def test_example_losses_rank_confident_mistakes_worst() -> None:
    losses = metrics.example_losses([[0.99, 0.0, 0.0], [0.01, 0.0, 0.0]], [[1, 0, 0], [1, 0, 0]])
    assert losses[1] > losses[0]


def test_temperature_scaling_recovers_an_overconfident_scale() -> None:
    rng = random.Random(3)
    true_logits = [rng.gauss(0, 2) for _ in range(3000)]
    gold = [int(rng.random() < 1 / (1 + math.exp(-z))) for z in true_logits]
    t = calibration.fit_temperature([3 * z for z in true_logits], gold)
    assert 2.4 < t < 3.6
    assert calibration.fit_temperature([1.0, 2.0], [1, 1]) == 1.0


def test_tune_thresholds_defaults_to_half_without_positives() -> None:
    probs = [[0.9, 0.2, 0.3], [0.1, 0.7, 0.2]]
    th = calibration.tune_thresholds(probs, [[1, 0, 0], [0, 1, 0]])
    assert th[Signal.GATHERING] == 0.5
    assert 0.1 < th[Signal.RUMOUR] <= 0.9 and 0.2 < th[Signal.PANIC] <= 0.7


def test_thresholds_weigh_each_kind_of_dev_text_the_same() -> None:
    # Synthetic dev: 50 clear positives at 0.9, 20 negatives at 0.3. Real dev: 2 positives at only 0.25,
    # 10 negatives at 0.1. Pooled, the synthetic negatives decide (0.5); by kind, the real positives count.
    rows = [([0.9, 0.9, 0.9], [1, 1, 1])] * 50 + [([0.3, 0.3, 0.3], [0, 0, 0])] * 20
    real = [([0.25, 0.25, 0.9], [1, 1, 0])] * 2 + [([0.1, 0.1, 0.1], [0, 0, 0])] * 10
    probs = [p for p, _ in rows + real]
    gold = [g for _, g in rows + real]
    kinds = ["synthetic"] * len(rows) + ["real"] * len(real)
    pooled = calibration.tune_thresholds(probs, gold)
    by_kind = calibration.tune_thresholds(probs, gold, kinds)
    assert pooled[Signal.RUMOUR] == 0.5 and by_kind[Signal.RUMOUR] == 0.25
    # Real dev has no gathering positive: only the synthetic part sets that threshold.
    assert by_kind[Signal.GATHERING] == pooled[Signal.GATHERING] == 0.5
    with pytest.raises(ValueError, match="2 kinds for 82 dev rows"):
        calibration.tune_thresholds(probs, gold, ["a", "b"])


def test_floor_rule_keeps_synthetic_f1_and_lets_real_texts_choose_within_the_band() -> None:
    # Synthetic dev: 20 negatives at 0.3, one positive at 0.35, 50 at 0.9: its F1 is 1.0 on (0.30, 0.35] and
    # 0.990 on (0.35, 0.90]. Real dev: 2 positives at 0.4, 10 negatives at 0.1.
    synthetic = [([0.3] * 3, [0] * 3)] * 20 + [([0.35] * 3, [1] * 3)] + [([0.9] * 3, [1] * 3)] * 50
    real = [([0.4] * 3, [1, 1, 0])] * 2 + [([0.1] * 3, [0] * 3)] * 10
    probs = [p for p, _ in synthetic + real]
    gold = [g for _, g in synthetic + real]
    kinds = ["synthetic"] * len(synthetic) + ["real"] * len(real)
    mean = calibration.tune_thresholds(probs, gold, kinds)
    floor = calibration.tune_thresholds(probs, gold, kinds, rule="floor", tolerance=0.01)
    strict = calibration.tune_thresholds(probs, gold, kinds, rule="floor", tolerance=0.0)
    assert mean[Signal.RUMOUR] == 0.35  # both kinds at F1 1.0; the tie goes closest to 0.5
    assert floor[Signal.RUMOUR] == 0.4  # synthetic 0.990 (within 0.01), real 1.0, closest to 0.5
    assert strict[Signal.RUMOUR] == 0.35
    # No real gathering positive: the synthetic part alone decides, as under the mean rule.
    assert floor[Signal.GATHERING] == mean[Signal.GATHERING]


def test_floor_rule_never_gives_up_more_than_the_tolerance_on_the_floor_kind() -> None:
    rng = random.Random(11)
    rows = [([rng.random() for _ in range(3)], [int(rng.random() < 0.3) for _ in range(3)]) for _ in range(300)]
    probs = [p for p, _ in rows]
    gold = [g for _, g in rows]
    kinds = ["synthetic" if i % 3 else "real" for i in range(len(rows))]
    th = calibration.tune_thresholds(probs, gold, kinds, rule="floor", tolerance=0.02)
    for j, s in enumerate(SIGNALS):
        syn = [(probs[i][j], gold[i][j]) for i in range(len(rows)) if kinds[i] == "synthetic"]
        p, g = [x for x, _ in syn], [y for _, y in syn]
        best = max(metrics.f1_at(p, g, (k + 1) / 100) for k in range(99))
        assert metrics.f1_at(p, g, th[s]) >= best - 0.02 - 1e-9


def test_floor_rule_without_floor_positives_falls_back_to_the_mean_and_bad_rules_are_refused() -> None:
    probs = [[0.8, 0.8, 0.8], [0.2, 0.2, 0.2], [0.7, 0.7, 0.7], [0.1, 0.1, 0.1]]
    gold = [[0, 0, 0], [0, 0, 0], [1, 1, 1], [0, 0, 0]]
    kinds = ["synthetic", "synthetic", "real", "real"]
    floor = calibration.tune_thresholds(probs, gold, kinds, rule="floor")
    assert floor == calibration.tune_thresholds(probs, gold, kinds)
    with pytest.raises(ValueError, match="threshold rule must be one of mean, floor, got 'max'"):
        calibration.tune_thresholds(probs, gold, kinds, rule="max")
    with pytest.raises(ValueError, match="tolerance must be 0 or more"):
        metrics.floor_threshold(([0.5], [1]), [], -0.1)
