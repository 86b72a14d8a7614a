"""What limits macro-F1 on real texts: the real training data, or the features? Linear heads on frozen features.

    PYTHONPATH=. python bench/real_probe.py --real ../shared/data [--model e5-zh-ft] [--cache DIR]
        [--layers 4,6,8,10] [--resamples 2000] [--json]

For two frozen feature extractors — the fine-tuned model's own (its last layer, mean-pooled, exactly what its head
reads) and the bare e5 encoder it was built on (no fine-tuning) — this fits a linear head (logistic regression,
one logit per 300-character window, max over a text's windows as the scorer does) on the annotated real train
texts outside real dev (the same by-group hold-out as ``yujing train --extra-real``), tunes each signal's
threshold on real dev and measures macro-F1 on the real eval split. It repeats the fit on random 1/8, 1/4 and 1/2
of those train texts (five draws each): a learning curve. It also re-tunes the model's own head's thresholds on
real dev, and fits one head on real train plus 60 % of the synthetic dev split (thresholds at the mean of real-dev
and synthetic F1 on the other 40 %), measuring the synthetic test split too. With ``--layers`` it fits a head on
the model's own features after each of those layers (mean-pooled the same way) and one on all of them and the last
layer side by side: whether an earlier layer carries more of what real texts need than the last.

A flat curve on the model's features and a rising one on the bare encoder's say whether annotating more real texts
would help a head, and by how much per doubling. Features are cached (``--cache``, default
``$YUJING_CACHE_DIR/probe``): the first run encodes ~7,500 windows (about 15 minutes on 2 cores), later runs
take about a minute. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from yujing.models.cli import DATA_DIR
from yujing.models.datagen.real import load_real_eval, load_real_train
from yujing.models.dataset import Example, hold_out, read_examples
from yujing.models.encoder import cache_root, ensure_encoder
from yujing.models.head import window_features as head_features
from yujing.models.layer_head import LinearHead, Part, fit_head, text_max
from yujing.models.layer_head import choose_decay as choose_head
from yujing.models.transformer import (
    MeanPoolClassifier,
    ModelSpec,
    build_classifier,
    load_model,
)
from yujing.models.zoo import DEFAULT_MODEL, find_model_dir
from yujing.records import SIGNALS

REAL_DEV = 0.3  # yujing train's default --real-dev
FRACTIONS = (0.125, 0.25, 0.5, 1.0)
DRAWS = 5


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def window_features(
    model: MeanPoolClassifier, spec: ModelSpec, tokenizer: Any, texts: Sequence[str], stop: int | None = None
) -> Part:
    """Mean-pooled features of each window after ``stop`` layers (all by default), and the index of its text."""
    x, owners = head_features(model, spec, tokenizer, texts, [stop or len(model.layers())], say)
    return {"x": x, "owners": owners}


def f1(pred: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
    tp, fp, fn = (pred * gold).sum(0), (pred * (1 - gold)).sum(0), ((1 - pred) * gold).sum(0)
    return 2 * tp / (2 * tp + fp + fn).clamp(min=1)


GRID = torch.linspace(0.01, 0.99, 99)


def tuned(probs: Sequence[torch.Tensor], golds: Sequence[torch.Tensor]) -> torch.Tensor:
    """Per signal, the grid threshold with the best mean F1 over the given (probabilities, gold) pairs."""
    score = torch.stack([sum(f1((p >= g).float(), y) for p, y in zip(probs, golds, strict=True)) for g in GRID])
    return GRID[score.argmax(0)]


def subset(p: Part, idx: Sequence[int]) -> Part:
    keep = sorted(idx)
    remap = torch.full((len(p["y"]),), -1, dtype=torch.long)
    remap[keep] = torch.arange(len(keep))
    win = remap[p["owners"]] >= 0
    return {"x": p["x"][win], "owners": remap[p["owners"][win]], "y": p["y"][keep]}


def choose_decay(train: Part, dev: Part) -> tuple[float, LinearHead]:
    head, _ = choose_head([train], [dev])
    return head.decay, head


def interval(a: torch.Tensor, b: torch.Tensor, gold: torch.Tensor, resamples: int) -> list[float]:
    """95 % paired-bootstrap interval of macro-F1(b) - macro-F1(a) over texts."""
    rng = torch.Generator().manual_seed(0)
    diffs = []
    for _ in range(resamples):
        i = torch.randint(len(gold), (len(gold),), generator=rng)
        diffs.append((f1(b[i], gold[i]).mean() - f1(a[i], gold[i]).mean()).item())
    diffs.sort()
    return [diffs[int(0.025 * resamples)], diffs[int(0.975 * resamples) - 1]]


def per_label(scores: torch.Tensor) -> dict[str, float]:
    return {"macro_f1": round(scores.mean().item(), 4)} | {
        s.value: round(v, 4) for s, v in zip(SIGNALS, scores.tolist(), strict=True)
    }


def load_features(args: argparse.Namespace, model_dir: Path, sets: dict[str, list[Example]]) -> dict[str, Any]:
    model, spec, thresholds, tokenizer = load_model(model_dir, progress=say)
    bare = build_classifier(ensure_encoder(None, say), spec.depth).eval()
    out: dict[str, Any] = {"spec": spec, "thresholds": thresholds, "model": model, "tokenizer": tokenizer}
    for name, extractor in ((model_dir.name, model), ("e5-bare", bare)):
        path = args.cache / f"{name}-{spec.version}-{'-'.join(f'{k}{len(v)}' for k, v in sets.items())}.pt"
        if not path.is_file():
            cached = {}
            for split, exs in sets.items():
                say(f"{name}: encoding {split} ({len(exs)} texts)")
                cached[split] = window_features(extractor, spec, tokenizer, [e.text for e in exs])
            args.cache.mkdir(parents=True, exist_ok=True)
            torch.save(cached, path)
        parts = torch.load(path)
        for split, exs in sets.items():
            parts[split]["y"] = torch.tensor([list(e.labels) for e in exs], dtype=torch.float32)
        out[name] = parts
    return out


REAL_SETS = ("real_train", "real_dev", "real_eval")


def layer_features(
    args: argparse.Namespace, feats: dict[str, Any], name: str, sets: dict[str, list[Example]], layer: int
) -> dict[str, Part]:
    """The real splits' features after ``layer`` layers of the fine-tuned model (cached like the others)."""
    spec, model = feats["spec"], feats["model"]
    sizes = "-".join(f"{k}{len(sets[k])}" for k in REAL_SETS)
    path = args.cache / f"{name}-{spec.version}-layer{layer}-{sizes}.pt"
    if not path.is_file():
        cached = {}
        for split in REAL_SETS:
            say(f"{name} after layer {layer}: encoding {split} ({len(sets[split])} texts)")
            cached[split] = window_features(model, spec, feats["tokenizer"], [e.text for e in sets[split]], layer)
        args.cache.mkdir(parents=True, exist_ok=True)
        torch.save(cached, path)
    parts: dict[str, Part] = torch.load(path)
    for split in REAL_SETS:
        parts[split]["y"] = feats[name][split]["y"]
    return parts


def full_head(parts: dict[str, Part]) -> tuple[dict[str, Any], torch.Tensor]:
    """A head fitted on all real train texts: its figures on real eval, and its decisions there."""
    decay, head = choose_decay(parts["real_train"], parts["real_dev"])
    thr = tuned([head.probs(parts["real_dev"])], [parts["real_dev"]["y"]])
    pred = (head.probs(parts["real_eval"]) >= thr).float()
    return {"decay": decay, **per_label(f1(pred, parts["real_eval"]["y"]))}, pred


def probe(parts: dict[str, Part], resamples: int) -> dict[str, Any]:
    train, dev, ev = parts["real_train"], parts["real_dev"], parts["real_eval"]
    decay, head = choose_decay(train, dev)
    result: dict[str, Any] = {"decay": decay}
    curve = []
    n = len(train["y"])
    for frac in FRACTIONS:
        draws = []
        for seed in range(DRAWS if frac < 1 else 1):
            idx = random.Random(seed).sample(range(n), int(frac * n)) if frac < 1 else list(range(n))
            h = head if frac == 1 else fit_head([subset(train, idx)], decay)
            t = tuned([h.probs(dev)], [dev["y"]])
            draws.append(f1((h.probs(ev) >= t).float(), ev["y"]))
        mean = torch.stack(draws).mean(0)
        curve.append(
            {
                "texts": int(frac * n),
                "draws": len(draws),
                **per_label(mean),
                "macro_f1_draws": [round(d.mean().item(), 4) for d in draws],
            }
        )
        say(f"  {int(frac * n)} real train texts: macro-F1 {mean.mean():.3f}")
    result["curve"] = curve
    k = len(parts["syn_dev"]["y"])
    order = random.Random(1).sample(range(k), k)
    fit_part, tune_part = (
        subset(parts["syn_dev"], order[: int(0.6 * k)]),
        subset(parts["syn_dev"], order[int(0.6 * k) :]),
    )
    both = fit_head([train, fit_part], decay)
    t = tuned([both.probs(dev), both.probs(tune_part)], [dev["y"], tune_part["y"]])
    result["real_and_synthetic_head"] = {
        "real_eval": per_label(f1((both.probs(ev) >= t).float(), ev["y"])),
        "synthetic_test": per_label(f1((both.probs(parts["syn_test"]) >= t).float(), parts["syn_test"]["y"])),
    }
    result["_full"] = (head, tuned([head.probs(dev)], [dev["y"]]))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--real", type=Path, required=True, help="shared data folder with the annotated real texts")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--cache", type=Path, default=cache_root() / "probe")
    p.add_argument("--resamples", type=int, default=2000)
    p.add_argument(
        "--layers",
        default="",
        help="also probe the model's own features after these layers, e.g. "
        "6,8,10 (each alone, and all of them with the last layer side by side)",
    )
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    try:
        layers = sorted({int(x) for x in args.layers.split(",") if x.strip()})
    except ValueError:
        p.error(f"--layers takes layer numbers separated by commas, e.g. 6,8,10; got {args.layers!r}")
    torch.manual_seed(0)
    real_train, real_dev = hold_out(load_real_train(args.real), REAL_DEV)
    sets = {
        "real_train": real_train,
        "real_dev": real_dev,
        "real_eval": load_real_eval(args.real),
        "syn_dev": read_examples(DATA_DIR / "dev.jsonl"),
        "syn_test": read_examples(DATA_DIR / "test.jsonl"),
    }
    model_dir = find_model_dir(args.model)
    feats = load_features(args, model_dir, sets)
    spec, model = feats["spec"], feats["model"]
    served_thr = torch.tensor([feats["thresholds"][s] for s in SIGNALS])
    own: dict[str, Part] = feats[model_dir.name]

    def served(part: Part) -> torch.Tensor:  # the model's own head and temperatures, as the scorer serves it
        logits = part["x"] @ model.head.weight.detach().T + model.head.bias.detach()
        return torch.sigmoid(text_max(logits, part["owners"], len(part["y"])) / torch.tensor(spec.temperatures))

    ev = own["real_eval"]
    as_served = (served(ev) >= served_thr).float()
    real_dev_thr = tuned([served(own["real_dev"])], [own["real_dev"]["y"]])
    report: dict[str, Any] = {
        "model": f"{spec.name}@{spec.version}",
        "texts": {k: len(v) for k, v in sets.items()},
        "served": {
            "real_eval": per_label(f1(as_served, ev["y"])),
            "synthetic_test": per_label(f1((served(own["syn_test"]) >= served_thr).float(), own["syn_test"]["y"])),
        },
        "served_thresholds_from_real_dev": {
            "thresholds": [round(t, 2) for t in real_dev_thr.tolist()],
            "real_eval": per_label(f1((served(ev) >= real_dev_thr).float(), ev["y"])),
        },
    }
    for name in (model_dir.name, "e5-bare"):
        say(f"{name} features: fitting heads")
        result = probe(feats[name], args.resamples)
        head, thr = result.pop("_full")
        if name == model_dir.name:
            result["real_head_vs_served_interval"] = [
                round(v, 4) for v in interval(as_served, (head.probs(ev) >= thr).float(), ev["y"], args.resamples)
            ]
        report[name] = result
    if layers:
        depth = spec.depth
        if layers[0] < 1 or layers[-1] >= depth:
            p.error(f"--layers: {args.model} has {depth} layers; give numbers from 1 to {depth - 1}")
        by_layer = {n: layer_features(args, feats, model_dir.name, sets, n) for n in layers}
        by_layer[depth] = {k: own[k] for k in REAL_SETS}
        rows = {}
        for n, parts in by_layer.items():
            say(f"after layer {n}: fitting a head")
            rows[str(n)] = full_head(parts)[0]
        joined = {
            k: {
                "x": torch.cat([by_layer[n][k]["x"] for n in by_layer], 1),
                "owners": own[k]["owners"],
                "y": own[k]["y"],
            }
            for k in REAL_SETS
        }
        say("all those layers side by side: fitting a head")
        rows["joined"], pred = full_head(joined)
        rows["joined"]["interval_vs_served"] = [round(v, 4) for v in interval(as_served, pred, ev["y"], args.resamples)]
        report["layers"] = rows
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return 0
    print(f"{report['model']}, real eval {len(ev['y'])} texts (macro-F1; rumour / panic / gathering)")

    def row(label: str, r: dict[str, float]) -> str:
        return f"  {label:<58} {r['macro_f1']:.3f}  ({r['rumour']:.3f} / {r['panic']:.3f} / {r['gathering']:.3f})"

    print(row("as served", report["served"]["real_eval"]))
    print(row("own head, thresholds tuned on real dev", report["served_thresholds_from_real_dev"]["real_eval"]))
    for name in (model_dir.name, "e5-bare"):
        r = report[name]
        print(f"{name} features, a head fitted on real train texts (L2 {r['decay']:g}):")
        for c in r["curve"]:
            print(row(f"{c['texts']} texts (mean of {c['draws']})", c))
        both = r["real_and_synthetic_head"]
        print(
            row("real train + 60 % synthetic dev", both["real_eval"])
            + f"   synthetic test {both['synthetic_test']['macro_f1']:.3f}"
        )
        if "real_head_vs_served_interval" in r:
            lo, hi = r["real_head_vs_served_interval"]
            print(f"  all real train texts vs as served: 95 % interval [{lo:+.3f}, {hi:+.3f}]")
    if "layers" in report:
        print(f"{model_dir.name} features after each layer, a head fitted on all real train texts:")
        for key, r in report["layers"].items():
            label = f"after layer {key}" if key != "joined" else "those layers side by side"
            print(row(f"{label} (L2 {r['decay']:g})", r))
        lo, hi = report["layers"]["joined"]["interval_vs_served"]
        print(f"  side by side vs as served: 95 % interval [{lo:+.3f}, {hi:+.3f}]")
    print(f"synthetic test as served: {report['served']['synthetic_test']['macro_f1']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
