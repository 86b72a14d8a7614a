"""``yujing average``: one model from the equal-weight average of several runs of one recipe.

Runs of one recipe that differ only by seed start from the same pretrained encoder and move its fine-tuned layers
a few per cent; averaging their weights tends to keep what the runs share and cancel what each seed added by
chance, and scores at the cost of one model. The runs must be the same architecture (encoder, depth, fine-tuned
layers, input length, windows): :func:`average_weights` checks that and writes the averaged tensors. The averaged
logits have their own scale, so :func:`average` then fits the temperatures and sets the thresholds on dev through
:func:`yujing.models.retune.retune`, which also measures every split again.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from yujing.errors import InputError
from yujing.models.card import METRICS_FILE, read_metrics
from yujing.models.dataset import Example, file_digest
from yujing.models.retune import retune
from yujing.models.transformer import SPEC_FILE, THRESHOLDS_FILE, WEIGHTS_FILE, ModelSpec, read_spec
from yujing.records import SIGNALS

# Fields that must agree for two runs' tensors to mean the same thing.
SHAPE_FIELDS = ("encoder_id", "depth", "train_from", "max_length", "labels", "window_chars", "max_windows")


def average_weights(model_dirs: Sequence[Path], out_dir: Path, version: str) -> dict[str, Any]:
    """Write the equal-weight average of ``model_dirs`` to the empty folder ``out_dir`` (weights in the sources'
    dtype, the mean temperatures and thresholds as a starting point); returns the report written as metrics.json."""
    import torch
    from safetensors.torch import load_file, save_file

    if len(model_dirs) < 2:
        raise InputError("bad_option", f"average: name two or more models, got {len(model_dirs)}")
    specs: list[ModelSpec] = []
    thresholds = []
    for d in model_dirs:
        spec, tuned = read_spec(d)
        specs.append(spec)
        thresholds.append(tuned)
    first = specs[0]
    for d, spec in zip(model_dirs[1:], specs[1:], strict=True):
        for f in SHAPE_FIELDS:
            if getattr(spec, f) != getattr(first, f):
                raise InputError(
                    "not_averageable",
                    f"{d / SPEC_FILE}: {f} is {getattr(spec, f)!r} but {model_dirs[0] / SPEC_FILE} has "
                    f"{getattr(first, f)!r}; only runs of one architecture can be averaged",
                )
    tensors = [load_file(str(d / WEIGHTS_FILE)) for d in model_dirs]
    for d, t in zip(model_dirs[1:], tensors[1:], strict=True):
        if set(t) != set(tensors[0]) or any(t[k].shape != tensors[0][k].shape for k in t):
            raise InputError(
                "not_averageable",
                f"{d / WEIGHTS_FILE}: its tensors differ in names or shapes from {model_dirs[0] / WEIGHTS_FILE}",
            )
    mean = {
        k: torch.stack([t[k].to(torch.float32) for t in tensors]).mean(0).to(tensors[0][k].dtype).contiguous()
        for k in tensors[0]
    }
    n = len(specs)
    temps = [round(sum(sp.temperatures[j] for sp in specs) / n, 4) for j in range(len(SIGNALS))]
    spec = replace(first, version=version, temperatures=(temps[0], temps[1], temps[2]))
    cards = [read_metrics(d) for d in model_dirs]
    report: dict[str, Any] = {k: cards[0][k] for k in ("data", "data_files", "extra") if k in cards[0]}
    report["averaged"] = {
        "models": [
            {
                "path": str(d),
                "name": sp.name,
                "version": sp.version,
                "seed": card.get("recipe", {}).get("seed"),
                "weights_sha256": file_digest(d / WEIGHTS_FILE),
            }
            for d, sp, card in zip(model_dirs, specs, cards, strict=True)
        ],
        "weights": [round(1 / n, 6)] * n,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(mean, str(out_dir / WEIGHTS_FILE), metadata={"encoder_id": spec.encoder_id})
    (out_dir / SPEC_FILE).write_text(spec.to_json(), encoding="utf-8")
    th = {sig.value: round(sum(one[sig] for one in thresholds) / n, 4) for sig in SIGNALS}
    (out_dir / THRESHOLDS_FILE).write_text(json.dumps(th, indent=2) + "\n", encoding="utf-8")
    (out_dir / METRICS_FILE).write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return report


def average(
    model_dirs: Sequence[Path],
    out_dir: Path,
    synthetic_dev: Sequence[Example],
    extra_dev: Sequence[Example],
    test: Sequence[Example],
    real_eval: Sequence[Example] = (),
    *,
    version: str,
    rule: str = "floor",
    tolerance: float = 0.01,
    say: Callable[[str], None] = lambda _msg: None,
) -> dict[str, Any]:
    """Average ``model_dirs`` into ``out_dir``, then fit temperatures and thresholds on dev and measure it."""
    # Averaged in a scratch folder; retune refuses a non-empty --out and writes it only once the average is
    # calibrated and measured.
    with tempfile.TemporaryDirectory(prefix="yujing-average-") as scratch:
        staged = Path(scratch) / "model"
        average_weights(model_dirs, staged, version)
        say(f"averaged {len(model_dirs)} models: " + ", ".join(str(d) for d in model_dirs))
        report = retune(
            staged,
            synthetic_dev,
            extra_dev,
            test,
            real_eval,
            rule=rule,
            tolerance=tolerance,
            out_dir=out_dir,
            refit_temperatures=True,
            by="yujing average",
            say=say,
        )
    return report
