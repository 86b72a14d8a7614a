"""``yujing head``: a new head for a trained model that reads several of its layers side by side.

Fine-tuning on mostly synthetic text shapes a model's last layer the most; earlier layers keep more of what real
posts need (``bench/real_probe.py --layers``). This command keeps every weight of the encoder, extracts the
mean-pooled window features after each layer named in ``layers`` for the training, dev and test texts in one pass
per text, fits a linear head on them (:mod:`yujing.models.layer_head`: logistic regression, the L2 weight chosen
by dev log loss), sets the thresholds on dev by a rule, measures the test split (and the real eval split) and
writes a model folder: the source's stored layers, the new head in fp32, ``head_layers`` in ``model.json``,
temperatures of 1 (the regression's probabilities are its own calibration), a card. The model is written to a
scratch folder next to ``out_dir`` and moved there only after the scorer, loaded from it, reproduces the head's
probabilities.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import torch

from yujing.errors import InputError, ModelError
from yujing.models import calibration, metrics
from yujing.models.batching import length_buckets
from yujing.models.card import read_metrics, write_card
from yujing.models.dataset import Example, describe, file_digest
from yujing.models.layer_head import Part, choose_decay
from yujing.models.retune import dev_report
from yujing.models.train import threshold_tuning
from yujing.models.transformer import (
    WEIGHTS_FILE,
    MeanPoolClassifier,
    ModelSpec,
    PackedForward,
    TransformerScorer,
    encode_batch,
    load_model,
    write_spec,
)
from yujing.records import SIGNALS

CHECK_TEXTS = 48  # dev texts the written model must score as the fitted head does
CHECK_TOLERANCE = 1e-3  # largest difference in probability allowed between them


def window_features(
    model: MeanPoolClassifier,
    spec: ModelSpec,
    tokenizer: Any,
    texts: Sequence[str],
    layers: Sequence[int],
    say: Callable[[str], None] = lambda _msg: None,
    batch_size: int = 32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(features [windows, width * len(layers)]: each window's mean-pooled outputs of ``layers`` side by side,
    owners [windows]: the text each window belongs to), windows as the scorer cuts them, one pass per window."""
    forward = PackedForward(model)
    pieces, owners = spec.windows(texts)
    width = int(cast(Any, model.bert).config.hidden_size)
    out = torch.zeros(len(pieces), width * len(layers))
    started = time.monotonic()
    buckets = length_buckets([len(t) for t in pieces], batch_size)
    done = 0
    with torch.inference_mode():
        for k, batch in enumerate(buckets):
            enc = encode_batch(tokenizer, [pieces[i] for i in batch], spec.max_length)
            states, tokens = forward.run_keep(enc["input_ids"], enc["attention_mask"], layers)
            rows, length = enc["attention_mask"].shape
            seq = tokens // length
            counts = torch.bincount(seq, minlength=rows).clamp(min=1).unsqueeze(1)
            done += len(batch)
            out[batch] = torch.cat([torch.zeros(rows, width).index_add_(0, seq, x.float()) / counts for x in states], 1)
            if k % 25 == 24 or k == len(buckets) - 1:
                say(f"  {done}/{len(pieces)} windows, {time.monotonic() - started:.0f} s")
    return out, torch.tensor(owners, dtype=torch.long)


def parse_layers(text: str, depth: int) -> tuple[int, ...]:
    """``"4,6,8"`` -> (4, 6, 8), each in 1..depth (layer n = the output of the n-th layer)."""
    try:
        layers = tuple(sorted({int(x) for x in text.split(",") if x.strip()}))
    except ValueError:
        raise InputError(
            "bad_option", f"--layers {text!r}: expected layer numbers separated by commas, e.g. 4,6,8,10,12"
        ) from None
    if not layers or layers[0] < 1 or layers[-1] > depth:
        raise InputError(
            "bad_option",
            f"--layers {text!r}: this model has {depth} layers; give numbers from 1 to {depth} (the last is {depth})",
        )
    return layers


def fit_layer_head(
    model_dir: Path,
    layers: Sequence[int],
    train: Sequence[Example],
    real_train: Sequence[Example],
    synthetic_dev: Sequence[Example],
    extra_dev: Sequence[Example],
    test: Sequence[Example],
    real_eval: Sequence[Example] = (),
    *,
    out_dir: Path,
    version: str,
    balance: bool = True,
    rule: str = "floor",
    tolerance: float = 0.01,
    sources: Sequence[dict[str, Any]] = (),
    say: Callable[[str], None] = lambda _msg: None,
) -> dict[str, Any]:
    """Fit a head on ``layers`` of ``model_dir`` and write the model to the new folder ``out_dir``; returns its
    report (written as metrics.json). ``balance`` weighs the ``real_train`` texts so that they count as much in
    the loss, all together, as the ``train`` texts."""
    if rule not in calibration.RULES:
        raise InputError("bad_option", f"--thresholds must be one of {', '.join(calibration.RULES)}, got {rule!r}")
    if not train:
        raise InputError("no_train", "head: the training split is empty; point --data at a folder with train.jsonl")
    if not synthetic_dev:
        raise InputError("no_dev", "head: the dev split is empty; point --data at a folder with dev.jsonl")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise InputError("out_exists", f"--out {out_dir}: the folder exists and is not empty; name a new folder")
    started = time.monotonic()
    model, spec, _, tokenizer = load_model(model_dir, progress=say)
    layers = tuple(layers)
    try:
        if not layers:
            raise ValueError("no layers")
        new_spec = replace(spec, version=version, temperatures=(1.0, 1.0, 1.0), head_layers=layers)
    except ValueError:
        raise InputError(
            "bad_option", f"--layers {list(layers)}: give increasing numbers from 1 to {spec.depth}"
        ) from None
    sets = {
        "train": list(train),
        "real_train": list(real_train),
        "dev": [*synthetic_dev, *extra_dev],
        "test": list(test),
        "real_eval": list(real_eval),
    }
    parts: dict[str, Part] = {}
    for name, examples in sets.items():
        if not examples:
            continue
        say(f"features of layers {','.join(map(str, layers))}: {name} ({len(examples)} texts)")
        x, owners = window_features(model, spec, tokenizer, [e.text for e in examples], layers, say)
        parts[name] = {"x": x, "owners": owners, "y": torch.tensor([list(e.labels) for e in examples]).float()}
    train_parts = [parts["train"]] + ([parts["real_train"]] if "real_train" in parts else [])
    weights = [1.0] + ([len(train) / len(real_train) if balance else 1.0] if "real_train" in parts else [])
    say(f"fitting the head on {sum(len(p['y']) for p in train_parts)} texts")
    head, losses = choose_decay(train_parts, [parts["dev"]], weights)
    dev_probs = head.probs(parts["dev"]).tolist()
    dev_gold = [list(e.labels) for e in sets["dev"]]
    kinds = ["synthetic"] * len(synthetic_dev) + ["extra"] * len(extra_dev)
    thresholds = calibration.tune_thresholds(dev_probs, dev_gold, kinds, rule, "synthetic", tolerance)
    say("thresholds " + ", ".join(f"{s.value} {thresholds[s]:.2f}" for s in SIGNALS))

    source = read_metrics(model_dir)
    report: dict[str, Any] = {k: source[k] for k in ("data", "data_files") if k in source}
    report["extra"] = list(sources)
    report.update(dev_report(dev_probs, dev_gold, len(synthetic_dev), thresholds))
    for name in ("test", "real_eval"):
        if name in parts:
            report[name] = metrics.summary(
                head.probs(parts[name]).tolist(), [list(e.labels) for e in sets[name]], thresholds
            )
    report["threshold_tuning"] = threshold_tuning(rule, tolerance, bool(extra_dev)) + " (set by `yujing head`)"
    report["head"] = {
        "by": "yujing head",
        "layers": list(layers),
        "from": {
            "name": spec.name,
            "version": spec.version,
            "weights_sha256": file_digest(model_dir / WEIGHTS_FILE),
            "recipe": source.get("recipe"),  # how the kept layers were fine-tuned
        },
        "train": {
            "texts": describe(train),
            "real_texts": describe(real_train),
            "real_weight": round(weights[-1], 4) if len(weights) > 1 else None,
        },
        "l2": head.decay,
        "dev_log_loss": {f"{d:g}": round(v, 5) for d, v in losses.items()},
        "rule": rule,
        "tolerance": tolerance,
        "seconds": round(time.monotonic() - started),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out_dir.name}-", dir=out_dir.parent) as scratch:
        staged = Path(scratch)
        write_model(model_dir, staged, new_spec, head.folded(), thresholds, report)
        check_written(staged, sets["dev"][:CHECK_TEXTS], dev_probs[:CHECK_TEXTS])
        out_dir.mkdir(exist_ok=True)
        for f in staged.iterdir():
            shutil.move(str(f), out_dir / f.name)
    say(f"written to {out_dir}")
    return report


def write_model(
    source_dir: Path,
    out_dir: Path,
    spec: ModelSpec,
    head: tuple[torch.Tensor, torch.Tensor],
    thresholds: dict[Any, float],
    report: dict[str, Any],
) -> None:
    """The source's stored tensors with the head replaced (kept in fp32: it is a few kilobytes, and its decisions
    then match the fitted head's), the spec, thresholds and card."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(source_dir / WEIGHTS_FILE))
    tensors["head.weight"] = head[0].float().contiguous()
    tensors["head.bias"] = head[1].float().contiguous()
    save_file(tensors, str(out_dir / WEIGHTS_FILE), metadata={"encoder_id": spec.encoder_id})
    write_spec(out_dir, spec, thresholds)
    write_card(out_dir, spec, thresholds, report)


def check_written(model_dir: Path, examples: Sequence[Example], expected: Sequence[Sequence[float]]) -> None:
    """Load the written model as the scorer serves it and compare its probabilities with the fitted head's."""
    scorer = TransformerScorer.load(model_dir, precision="fp32")
    got = [[sc.get(s) for s in SIGNALS] for sc in scorer.score([e.text for e in examples])]
    worst = max(
        (abs(a - b) for g, e in zip(got, expected, strict=True) for a, b in zip(g, e, strict=True)), default=0.0
    )
    if worst > CHECK_TOLERANCE:
        raise ModelError(
            f"{model_dir}: the written model scores dev texts up to {worst:.4f} away from the fitted "
            "head; this is a bug in `yujing head`, nothing was written to --out"
        )
