"""Fine-tuning: frozen lower encoder layers (their outputs cached once), trained top layers + head.

Recipe (``TrainConfig``): keep ``depth`` encoder layers, run layers ``< train_from`` once over every
text and cache their hidden states, then train layers ``>= train_from`` and the mean-pool head with
AdamW, linear warm-up/decay, dev evaluation every epoch and early stopping on dev macro-F1. The best
epoch is calibrated (per-signal temperature) and thresholded (per-signal F1-optimal) on dev, then
scored once on test (and on the annotated real texts when given) for the model card. When extra (real)
texts are in dev, a threshold maximises the mean of the synthetic and the extra texts' F1, so that the
smaller real part counts as much as the synthetic one.

Distillation (``TrainConfig.teacher``): the training targets mix the gold labels with a trained teacher's
calibrated probabilities, and unannotated texts may join train with the teacher's probabilities alone.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from yujing.models import calibration, metrics
from yujing.models.batching import length_buckets
from yujing.models.dataset import Example, describe, file_digest, read_splits
from yujing.models.encoder import ensure_encoder
from yujing.models.transformer import (
    MeanPoolClassifier,
    ModelSpec,
    PackedForward,
    build_classifier,
    encode_batch,
    init_from,
    load_model,
    load_tokenizer,
    max_by_owner,
    save_model,
    trainable_names,
)
from yujing.records import SIGNALS, Signal


@dataclass(frozen=True, slots=True)
class TrainConfig:
    data_dir: Path
    out_dir: Path
    name: str = "e5-zh-ft"
    version: str = "1"
    depth: int = 12
    train_from: int = 4
    epochs: int = 6
    patience: int = 2
    batch_size: int = 16
    lr: float = 1e-4
    head_lr: float = 2e-3
    weight_decay: float = 0.01
    warmup: float = 0.1
    seed: int = 13
    max_length: int = 256
    window_chars: int = 300  # longer texts are scored as overlapping windows, max per signal (0: truncate)
    max_windows: int = 8
    device: str = "cpu"
    max_minutes: float | None = None
    cache_dir: Path | None = None
    teacher: Path | None = None  # distillation: a trained model folder whose scores become soft targets
    distill_alpha: float = 0.5  # weight of the gold label in a labelled text's target (teacher: 1 - alpha)
    init_from: Path | None = None  # a trained model folder whose layers (init_layers) and head start this model
    init_layers: tuple[int, ...] = ()  # source layer per layer of this model; empty: evenly spaced, last kept
    threshold_rule: str = "mean"  # how dev sets thresholds with extra dev texts: calibration.RULES
    threshold_tolerance: float = 0.01  # the floor rule's band below the synthetic dev texts' best F1

    def __post_init__(self) -> None:
        if not 0 <= self.train_from < self.depth:
            raise ValueError(f"train_from must be in 0..depth-1 ({self.depth - 1}), got {self.train_from}")
        if not 0.0 <= self.distill_alpha <= 1.0:
            raise ValueError(f"distill_alpha must be in [0, 1], got {self.distill_alpha}")
        if self.init_layers and (self.init_from is None or len(self.init_layers) != self.depth):
            raise ValueError(f"init_layers {list(self.init_layers)}: needs init_from (--init-from) and one layer per "
                             f"layer kept (depth {self.depth}), e.g. 0,4,8,11 for depth 4")
        if self.threshold_rule not in calibration.RULES:
            raise ValueError(f"threshold_rule (--thresholds) must be one of {', '.join(calibration.RULES)}, "
                             f"got {self.threshold_rule!r}")
        if not 0.0 <= self.threshold_tolerance < 1.0:
            raise ValueError(f"threshold_tolerance (--tolerance) must be in [0, 1), got {self.threshold_tolerance}")


def spaced_layers(depth: int, source_depth: int) -> tuple[int, ...]:
    """``depth`` source layers evenly spaced from the first to the last: 4 of 12 -> (0, 4, 7, 11)."""
    if depth == 1:
        return (source_depth - 1,)
    return tuple(round(i * (source_depth - 1) / (depth - 1)) for i in range(depth))


@dataclass
class TrainResult:
    out_dir: Path
    spec: ModelSpec
    thresholds: dict[Signal, float]
    history: list[dict[str, float]] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


def soft_targets(gold: Sequence[Sequence[int]], teacher: Sequence[Sequence[float]], alpha: float) -> list[list[float]]:
    """Distillation targets: ``alpha`` * gold + (1 - alpha) * the teacher's calibrated probability."""
    if len(gold) > len(teacher):
        raise ValueError(f"{len(gold)} gold rows but only {len(teacher)} teacher rows")
    pairs = zip(gold, teacher[: len(gold)], strict=True)  # the teacher rows beyond gold are unlabelled texts
    return [[alpha * g + (1.0 - alpha) * p for g, p in zip(row, probs, strict=True)] for row, probs in pairs]


def teacher_probs(
    teacher_dir: Path, texts: Sequence[str], say: Callable[[str], None], cache: Path | None = None
) -> tuple[list[list[float]], dict[str, Any]]:
    """The teacher's calibrated probabilities for ``texts`` (windows as it scores them) and its identity."""
    from yujing.models.scorer import probabilities
    from yujing.models.transformer import TransformerScorer

    scorer = TransformerScorer.load(teacher_dir, cache, say)
    unique = list(dict.fromkeys(texts))  # --real-repeat puts the same text in train several times
    say(f"teacher {scorer.name} v{scorer.version} scoring {len(unique)} distinct texts for soft targets")
    who = {"name": scorer.name, "version": scorer.version, "dir": str(teacher_dir)}
    by_text = dict(zip(unique, probabilities(scorer, unique, "teacher"), strict=True))
    return [by_text[t] for t in texts], who


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass


# --- cached features -------------------------------------------------------------------------------


def cache_hidden(
    model: MeanPoolClassifier, tokenizer: Any, texts: Sequence[str], cfg: TrainConfig, desc: str
) -> list[torch.Tensor]:
    """Per-text hidden states after the frozen layers, unpadded ([tokens, hidden], on cfg.device)."""
    out: list[torch.Tensor] = [torch.empty(0) for _ in texts]
    batches = length_buckets([len(t) for t in texts], 64)
    model.eval()
    frozen = PackedForward(model)  # the frozen layers' weights do not change while training
    with torch.inference_mode():
        for batch in tqdm(batches, desc=desc, unit="batch", file=sys.stderr, leave=False):
            enc = {
                k: v.to(cfg.device)
                for k, v in encode_batch(tokenizer, [texts[i] for i in batch], cfg.max_length).items()
            }
            packed, _ = frozen.run(enc["input_ids"], enc["attention_mask"], cfg.train_from)
            lengths = enc["attention_mask"].sum(1).tolist()
            for i, hidden in zip(batch, torch.split(packed, lengths), strict=True):
                out[i] = hidden.clone()
    return out


def pad(hiddens: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(h.shape[0] for h in hiddens)
    dim = hiddens[0].shape[1]
    batch = hiddens[0].new_zeros((len(hiddens), longest, dim))
    mask = torch.zeros((len(hiddens), longest), dtype=torch.long, device=hiddens[0].device)
    for i, h in enumerate(hiddens):
        batch[i, : h.shape[0]] = h
        mask[i, : h.shape[0]] = 1
    return batch, mask


def predict_logits(model: MeanPoolClassifier, feats: Sequence[torch.Tensor], start: int) -> list[list[float]]:
    out: list[list[float]] = [[] for _ in feats]
    model.eval()
    with torch.inference_mode():
        for batch in length_buckets([f.shape[0] for f in feats], 64):
            hidden, mask = pad([feats[i] for i in batch])
            for i, row in zip(batch, model.forward_from(hidden, mask, start).tolist(), strict=True):
                out[i] = row
    return out


def shuffled_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Random batches of similar length: shuffle, sort within windows of 20 batches, shuffle batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * 20
    batches: list[list[int]] = []
    for k in range(0, len(order), window):
        chunk = sorted(order[k : k + window], key=lambda i: lengths[i])
        batches += [chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


# --- training --------------------------------------------------------------------------------------


def make_optimizer(model: MeanPoolClassifier, cfg: TrainConfig, steps: int) -> tuple[torch.optim.Optimizer, Any]:
    names = set(trainable_names(model, cfg.train_from))
    for n, p in model.named_parameters():
        p.requires_grad_(n in names)
    params = dict(model.named_parameters())
    no_decay = [n for n in names if n.endswith(".bias") or "LayerNorm" in n]
    groups = [
        {"params": [params[n] for n in names if n.startswith("head.")], "lr": cfg.head_lr, "weight_decay": 0.0},
        {
            "params": [params[n] for n in names if not n.startswith("head.") and n not in no_decay],
            "lr": cfg.lr,
            "weight_decay": cfg.weight_decay,
        },
        {
            "params": [params[n] for n in names if not n.startswith("head.") and n in no_decay],
            "lr": cfg.lr,
            "weight_decay": 0.0,
        },
    ]
    opt = torch.optim.AdamW([g for g in groups if g["params"]])
    warm = max(1, int(steps * cfg.warmup))

    def factor(step: int) -> float:
        return (step + 1) / warm if step < warm else max(0.0, (steps - step) / max(1, steps - warm))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def run_epoch(
    model: MeanPoolClassifier,
    feats: Sequence[torch.Tensor],
    gold: torch.Tensor,
    cfg: TrainConfig,
    opt: torch.optim.Optimizer,
    sched: Any,
    rng: random.Random,
    desc: str,
) -> float:
    model.train()
    loss_fn = nn.BCEWithLogitsLoss()
    total, n = 0.0, 0
    bar = tqdm(
        shuffled_batches([f.shape[0] for f in feats], cfg.batch_size, rng),
        desc=desc,
        unit="batch",
        file=sys.stderr,
        leave=False,
    )
    for batch in bar:
        hidden, mask = pad([feats[i] for i in batch])
        loss = loss_fn(model.forward_from(hidden, mask, cfg.train_from), gold[batch])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        opt.step()
        sched.step()
        total += loss.item() * len(batch)
        n += len(batch)
        bar.set_postfix(loss=f"{total / n:.4f}")
    return total / max(n, 1)


def dev_score(logits: list[list[float]], gold: Sequence[Sequence[int]]) -> tuple[float, float]:
    """(macro-F1 at dev-tuned thresholds, mean log-loss) of uncalibrated logits."""
    probs = calibration.apply(logits, (1.0, 1.0, 1.0))
    thresholds = calibration.tune_thresholds(probs, gold)
    f1 = metrics.macro_f1(metrics.label_reports(probs, gold, thresholds))
    loss = sum(calibration.nll(metrics.column(logits, j), metrics.column(gold, j), 1.0) for j in range(len(SIGNALS)))
    return f1, loss / len(SIGNALS)


def snapshot(model: MeanPoolClassifier, names: Sequence[str]) -> dict[str, torch.Tensor]:
    params = dict(model.named_parameters())
    return {n: params[n].detach().clone() for n in names}


def restore(model: MeanPoolClassifier, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    with torch.no_grad():
        for n, v in state.items():
            params[n].copy_(v)


def train(
    cfg: TrainConfig,
    real_eval: Sequence[Example] = (),
    say: Callable[[str], None] = print,
    extra_train: Sequence[Example] = (),
    extra_dev: Sequence[Example] = (),
    extra_sources: Sequence[Mapping[str, Any]] = (),
    unlabelled: Sequence[str] = (),
) -> TrainResult:
    """``extra_train``/``extra_dev`` (e.g. annotated real texts) are appended to train/dev only (never test);
    ``extra_sources`` describes them for the model card (name, split, where from). With ``cfg.teacher`` the
    train targets are soft (:func:`soft_targets`) and ``unlabelled`` texts join train with the teacher's
    probabilities as their only target (distillation); dev, test and thresholds stay on gold labels."""
    if unlabelled and cfg.teacher is None:
        raise ValueError("unlabelled texts need a teacher model to label them (--teacher)")
    started = time.monotonic()
    seed_everything(cfg.seed)
    splits = read_splits(cfg.data_dir)
    files = {s: file_digest(cfg.data_dir / f"{s}.jsonl") for s in splits}
    synthetic = {s: describe(ex) for s, ex in splits.items()}
    for split, extra in (("train", extra_train), ("dev", extra_dev)):
        if extra:
            splits[split] = [*splits[split], *extra]
            say(f"adding {len(extra)} extra examples (e.g. annotated real texts) to {split}")
    encoder_dir = ensure_encoder(cfg.cache_dir, say)
    model = build_classifier(encoder_dir, cfg.depth, seed=cfg.seed)
    init: dict[str, Any] = {}
    if cfg.init_from is not None:
        source, source_spec, _, _ = load_model(cfg.init_from, cfg.cache_dir, say)
        layers = cfg.init_layers or spaced_layers(cfg.depth, source_spec.depth)
        init_from(model, source, layers)
        init = {"model": f"{source_spec.name}@{source_spec.version}", "layers": list(layers), "head": True}
        say(f"initialised layers {list(range(cfg.depth))} and the head from {init['model']} layers {list(layers)}")
        del source
    model = model.to(cfg.device)
    tokenizer = load_tokenizer(encoder_dir)
    say(
        f"train {len(splits['train'])}, dev {len(splits['dev'])}, test {len(splits['test'])}; "
        f"depth {cfg.depth}, fine-tuning layers {cfg.train_from}..{cfg.depth - 1} + head on {cfg.device}"
    )
    feats = {s: cache_hidden(model, tokenizer, [e.text for e in ex], cfg, f"encoding {s}") for s, ex in splits.items()}
    gold = {s: [list(e.labels) for e in ex] for s, ex in splits.items()}
    targets: list[list[float]] = [[float(v) for v in row] for row in gold["train"]]
    distillation: dict[str, Any] = {}
    if cfg.teacher is not None:
        train_texts = [e.text for e in splits["train"]] + list(unlabelled)
        probs, who = teacher_probs(cfg.teacher, train_texts, say, cfg.cache_dir)
        targets = soft_targets(gold["train"], probs, cfg.distill_alpha) + probs[len(splits["train"]) :]
        if unlabelled:
            feats["train"] += cache_hidden(model, tokenizer, list(unlabelled), cfg, "encoding unlabelled")
        flagged = {s.value: sum(p[j] >= 0.5 for p in probs[len(splits["train"]) :]) for j, s in enumerate(SIGNALS)}
        distillation = {
            "teacher": who,
            "alpha": cfg.distill_alpha,
            "unlabelled_texts": len(unlabelled),
            "unlabelled_teacher_p_ge_0.5": flagged,
        }
    history, best = fit(model, feats, gold, targets, cfg, started, say)
    restore(model, best)
    spec = ModelSpec(
        cfg.name,
        cfg.version,
        depth=cfg.depth,
        train_from=cfg.train_from,
        max_length=cfg.max_length,
        window_chars=cfg.window_chars,
        max_windows=cfg.max_windows,
    )
    # Calibrate and threshold on dev logits computed the way the scorers compute them (long texts as windows).
    dev_logits = serving_logits(model, tokenizer, feats["dev"], splits["dev"], spec, cfg, "dev")
    temps = calibration.fit_temperatures(dev_logits, gold["dev"])
    kinds = ["synthetic"] * (len(gold["dev"]) - len(extra_dev)) + ["extra"] * len(extra_dev)
    thresholds = calibration.tune_thresholds(
        calibration.apply(dev_logits, temps), gold["dev"], kinds, cfg.threshold_rule, "synthetic",
        cfg.threshold_tolerance,
    )
    spec = replace(spec, temperatures=temps)
    report = evaluate_splits(model, tokenizer, feats, splits, spec, thresholds, real_eval, cfg, dev_logits)
    report.update(
        recipe=recipe(cfg),
        history=history,
        train_seconds=round(time.monotonic() - started, 1),
        data=synthetic,
        data_files=files,
        extra=[dict(x) for x in extra_sources],
        threshold_tuning=threshold_tuning(cfg.threshold_rule, cfg.threshold_tolerance, bool(extra_dev)),
    )
    if distillation:
        report["distillation"] = distillation
    if init:
        report["initialised_from"] = init
    save_model(model.cpu(), spec, thresholds, cfg.out_dir)
    from yujing.models.card import write_card

    write_card(cfg.out_dir, spec, thresholds, report)
    return TrainResult(cfg.out_dir, spec, thresholds, history, report)


def threshold_tuning(rule: str, tolerance: float, extra_dev: bool) -> str:
    """The model card's sentence on how the thresholds were set."""
    if not extra_dev:
        return "per signal, F1 on dev"
    if rule == "floor":
        return (
            f"per signal, the floor rule: of the thresholds within {tolerance:g} of the synthetic dev texts' best F1, "
            "the one with the best F1 on the extra (real) dev texts"
        )
    return "per signal, the mean F1 of the synthetic and the extra dev texts (each kind weighs the same)"


def fit(
    model: MeanPoolClassifier,
    feats: dict[str, list[torch.Tensor]],
    gold: dict[str, list[list[int]]],
    targets: Sequence[Sequence[float]],
    cfg: TrainConfig,
    started: float,
    say: Callable[[str], None],
) -> tuple[list[dict[str, float]], dict[str, torch.Tensor]]:
    names = trainable_names(model, cfg.train_from)
    steps = cfg.epochs * -(-len(feats["train"]) // cfg.batch_size)
    opt, sched = make_optimizer(model, cfg, steps)
    rng = random.Random(cfg.seed)
    if len(targets) != len(feats["train"]):
        raise ValueError(f"{len(targets)} training targets for {len(feats['train'])} training texts")
    train_gold = torch.tensor(targets, dtype=torch.float32, device=cfg.device)
    history: list[dict[str, float]] = []
    best, best_key, stale = snapshot(model, names), (-1.0, 0.0), 0
    for epoch in range(1, cfg.epochs + 1):
        loss = run_epoch(model, feats["train"], train_gold, cfg, opt, sched, rng, f"epoch {epoch}/{cfg.epochs}")
        f1, dev_loss = dev_score(predict_logits(model, feats["dev"], cfg.train_from), gold["dev"])
        history.append(
            {"epoch": epoch, "train_loss": round(loss, 4), "dev_loss": round(dev_loss, 4), "dev_macro_f1": round(f1, 4)}
        )
        say(f"epoch {epoch}: train loss {loss:.4f}, dev loss {dev_loss:.4f}, dev macro-F1 {f1:.4f}")
        if (f1, -dev_loss) > best_key:
            best, best_key, stale = snapshot(model, names), (f1, -dev_loss), 0
        else:
            stale += 1
        if stale >= cfg.patience:
            say(f"early stop: no dev improvement for {cfg.patience} epochs")
            break
        if cfg.max_minutes is not None and time.monotonic() - started > cfg.max_minutes * 60:
            say(f"time budget of {cfg.max_minutes} min reached; keeping the best epoch so far")
            break
    return history, best


def windowed_logits(
    model: MeanPoolClassifier, tokenizer: Any, texts: Sequence[str], spec: ModelSpec, cfg: TrainConfig, desc: str
) -> list[list[float]]:
    """Logits as the scorers compute them: overlapping windows for long texts, max per signal."""
    pieces, owners = spec.windows(texts)
    feats = cache_hidden(model, tokenizer, pieces, cfg, desc)
    return max_by_owner(predict_logits(model, feats, cfg.train_from), owners, len(texts))


def serving_logits(
    model: MeanPoolClassifier,
    tokenizer: Any,
    feats: Sequence[torch.Tensor] | None,
    examples: Sequence[Example],
    spec: ModelSpec,
    cfg: TrainConfig,
    name: str,
) -> list[list[float]]:
    """Logits as the shipped scorers compute them: from the cached features when every text fits one window
    (the same thing, faster), else with overlapping windows for the long texts."""
    texts = [e.text for e in examples]
    if feats is not None and (spec.window_chars <= 0 or all(len(t) <= spec.window_chars for t in texts)):
        return predict_logits(model, list(feats), cfg.train_from)
    return windowed_logits(model, tokenizer, texts, spec, cfg, f"encoding {name}")


def evaluate_splits(
    model: MeanPoolClassifier,
    tokenizer: Any,
    feats: dict[str, list[torch.Tensor]],
    splits: dict[str, list[Example]],
    spec: ModelSpec,
    thresholds: dict[Signal, float],
    real_eval: Sequence[Example],
    cfg: TrainConfig,
    dev_logits: Sequence[Sequence[float]],
) -> dict[str, Any]:
    """Dev, test and real texts scored the way the shipped scorers do (long texts as windows)."""
    report: dict[str, Any] = {}
    dev_probs = calibration.apply(dev_logits, spec.temperatures)
    report["dev"] = metrics.summary(dev_probs, [list(e.labels) for e in splits["dev"]], thresholds)
    for name, examples, cached in (("test", splits["test"], feats["test"]), ("real_eval", real_eval, None)):
        if not examples:
            continue
        logits = serving_logits(model, tokenizer, cached, examples, spec, cfg, name)
        probs = calibration.apply(logits, spec.temperatures)
        report[name] = metrics.summary(probs, [list(e.labels) for e in examples], thresholds)
    return report


def recipe(cfg: TrainConfig) -> dict[str, Any]:
    d = asdict(cfg)
    for k in ("data_dir", "out_dir", "cache_dir", "teacher", "init_from"):
        d[k] = str(d[k]) if d[k] is not None else None
    d["torch"] = torch.__version__
    return d
