"""``yujing retune``: set a trained model's thresholds again from dev texts, without training it again.

Training tunes thresholds once, by the rule it was given. Retuning scores the dev texts with the model as it is
served (fp32, long texts as windows, the trained temperatures), tunes each signal's threshold by a rule
(:func:`yujing.models.calibration.tune_thresholds`), measures the test split (and the real eval split) at the new
thresholds, and writes ``thresholds.json``, ``metrics.json`` and the model card, so every figure the card shows is
one taken at the thresholds the model now uses. The weights are not touched; the temperatures are fitted again only
when asked (``yujing average`` asks, since averaged weights change the logits' scale).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from yujing.errors import InputError
from yujing.models import calibration, metrics
from yujing.models.card import read_metrics, write_card
from yujing.models.dataset import Example, describe
from yujing.models.scorer import logit_rows
from yujing.models.train import threshold_tuning
from yujing.models.transformer import TransformerScorer, read_spec, write_spec
from yujing.records import SIGNALS, Signal


def retune(
    model_dir: Path,
    synthetic_dev: Sequence[Example],
    extra_dev: Sequence[Example],
    test: Sequence[Example],
    real_eval: Sequence[Example] = (),
    *,
    rule: str = "floor",
    tolerance: float = 0.01,
    out_dir: Path | None = None,
    version: str | None = None,
    refit_temperatures: bool = False,
    by: str = "yujing retune",
    say: Callable[[str], None] = lambda _msg: None,
) -> dict[str, Any]:
    """Re-tune ``model_dir``'s thresholds (in place, or in a copy at ``out_dir``); returns the new report.

    ``refit_temperatures`` fits each signal's temperature on the dev texts first, as training does; ``by`` names
    the command in the report and the model card.
    """
    if rule not in calibration.RULES:
        raise InputError("bad_option", f"--thresholds must be one of {', '.join(calibration.RULES)}, got {rule!r}")
    if not synthetic_dev:
        raise InputError("no_dev", "retune: the synthetic dev split is empty; point --data at a folder with dev.jsonl")
    report = read_metrics(model_dir)
    if not report:
        raise InputError(
            "no_metrics",
            f"{model_dir / 'metrics.json'}: missing; retune needs a model written by `yujing train`",
        )
    if "real_eval" in report and not real_eval:
        raise InputError(
            "needs_real",
            f"{model_dir / 'metrics.json'}: real_eval holds figures taken at the old thresholds; pass --real DATA_DIR "
            "so they are measured again at the new ones",
        )
    copy = out_dir is not None and out_dir.resolve() != model_dir.resolve()
    if copy and out_dir is not None and out_dir.exists() and any(out_dir.iterdir()):
        raise InputError("out_exists", f"--out {out_dir}: the folder exists and is not empty; name a new folder")
    spec, old = read_spec(model_dir)
    scorer = TransformerScorer.load(model_dir, progress=say, precision="fp32")
    dev = [*synthetic_dev, *extra_dev]
    say(f"scoring {len(dev)} dev texts ({len(synthetic_dev)} synthetic, {len(extra_dev)} extra)")
    dev_logits = logit_rows(scorer, [e.text for e in dev], "dev")
    dev_gold = [list(e.labels) for e in dev]
    temps = calibration.fit_temperatures(dev_logits, dev_gold) if refit_temperatures else spec.temperatures
    if refit_temperatures:
        pairs = zip(SIGNALS, spec.temperatures, temps, strict=True)
        say("temperatures " + ", ".join(f"{s.value} {a:.2f} -> {b:.2f}" for s, a, b in pairs))
    dev_probs = calibration.apply(dev_logits, temps)
    kinds = ["synthetic"] * len(synthetic_dev) + ["extra"] * len(extra_dev)
    thresholds = calibration.tune_thresholds(dev_probs, dev_gold, kinds, rule, "synthetic", tolerance)
    say("thresholds " + ", ".join(f"{s.value} {old[s]:.2f} -> {thresholds[s]:.2f}" for s in SIGNALS))
    report.update(dev_report(dev_probs, dev_gold, len(synthetic_dev), thresholds))
    for name, examples in (("test", test), ("real_eval", real_eval)):
        if examples:
            probs = calibration.apply(logit_rows(scorer, [e.text for e in examples], name), temps)
            report[name] = metrics.summary(probs, [list(e.labels) for e in examples], thresholds)
    report["threshold_tuning"] = threshold_tuning(rule, tolerance, bool(extra_dev)) + f" (set by `{by}`)"
    report["retuned"] = {
        "by": by,
        "rule": rule,
        "tolerance": tolerance,
        "thresholds": {s.value: round(float(thresholds[s]), 4) for s in SIGNALS},
        "previous_thresholds": {s.value: old[s] for s in SIGNALS},
        "previous_version": spec.version,
        "temperatures_refit": refit_temperatures,
        "temperatures": list(temps),
        "previous_temperatures": list(spec.temperatures),
        "dev": {"synthetic": describe(synthetic_dev), "extra": describe(extra_dev)},
        "precision": "fp32",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    # Written only now, after all the scoring: an interrupted retune leaves no half-written model.
    target = model_dir
    if copy and out_dir is not None:
        shutil.copytree(model_dir, out_dir, dirs_exist_ok=True)
        target = out_dir
    spec = replace(spec, temperatures=temps)
    if version is not None:
        spec = replace(spec, version=version)
    write_spec(target, spec, thresholds)
    write_card(target, spec, thresholds, report)
    return report


def dev_report(
    dev_probs: Sequence[Sequence[float]],
    dev_gold: Sequence[Sequence[int]],
    n_synthetic: int,
    thresholds: Mapping[Signal, float],
) -> dict[str, Any]:
    """``dev`` and ``dev_by_kind`` of a report: the dev summary, and one per kind (the first ``n_synthetic`` rows
    synthetic, the rest extra)."""
    parts = {"synthetic": range(n_synthetic), "extra": range(n_synthetic, len(dev_gold))}
    return {
        "dev": metrics.summary(dev_probs, dev_gold, thresholds),
        "dev_by_kind": {
            kind: metrics.summary([dev_probs[i] for i in idx], [dev_gold[i] for i in idx], thresholds)
            for kind, idx in parts.items()
            if idx
        },
    }
