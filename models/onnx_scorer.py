"""ONNX Runtime int8 inference of a trained model (``transformer-int8``).

At first use the trained classifier is exported to ONNX (opset 17, TorchScript exporter), its
weights quantised to int8 (dynamic quantisation), and the file cached under
``<cache>/onnx/<name>-<digest>.int8.onnx`` where the digest covers the trained weights, so a retrained
model gets a fresh file. Scores use the same tokenizer, batching and calibration as the torch scorer.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from yujing.errors import ModelError
from yujing.models.batching import length_buckets
from yujing.models.encoder import ENCODER_ID, cache_root, ensure_encoder
from yujing.models.transformer import (
    SPEC_FILE,
    WEIGHTS_FILE,
    ModelSpec,
    calibrated,
    encode_batch,
    load_model,
    load_tokenizer,
    max_by_owner,
    read_spec,
)
from yujing.records import Scores, Signal

OPSET = 17


def model_digest(model_dir: Path) -> str:
    h = hashlib.sha256(ENCODER_ID.encode())
    for name in (WEIGHTS_FILE, SPEC_FILE):
        try:
            h.update((model_dir / name).read_bytes())
        except OSError as exc:
            raise ModelError(f"{model_dir / name}: cannot read ({exc.strerror}); retrain with `yujing train`") from exc
    return h.hexdigest()[:16]


def export_onnx(model_dir: Path, out_path: Path, cache: Path | None = None) -> None:
    """Export the fp32 classifier to ``out_path`` (dynamic batch and sequence axes)."""

    model, spec, _, tokenizer = load_model(model_dir, cache)
    example = encode_batch(tokenizer, ["示例文本", "第二条稍长一些的示例文本"], spec.max_length)
    model.eval()
    with warnings.catch_warnings():  # the TorchScript exporter warns that it is legacy, and tracer warnings
        warnings.simplefilter("ignore")
        _export(model, example, out_path)
    model.eval()  # the exporter may leave modules in training mode


def _export(model: Any, example: Mapping[str, Any], out_path: Path) -> None:
    import torch

    torch.onnx.export(
        model,
        (example["input_ids"], example["attention_mask"]),
        str(out_path),
        input_names=["input_ids", "attention_mask"],
        output_names=["logits"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "seq"},
            "attention_mask": {0: "batch", 1: "seq"},
            "logits": {0: "batch"},
        },
        opset_version=OPSET,
        dynamo=False,
    )


def quantize(fp32_path: Path, int8_path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)  # it logs a "consider pre-processing" hint on the root logger
    try:
        quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=False)
    finally:
        logging.disable(logging.NOTSET)


def ensure_int8(model_dir: Path, cache: Path | None = None, progress: Callable[[str], None] | None = None) -> Path:
    """The cached int8 ONNX file of a trained model, building it first if needed (~1 min)."""
    spec, _ = read_spec(model_dir)
    target = (cache or cache_root()) / "onnx" / f"{spec.name}-{model_digest(model_dir)}.int8.onnx"
    if target.is_file():
        return target
    say = progress or (lambda _m: None)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        fp32 = Path(tmp) / "model.onnx"
        say(f"exporting {spec.name} to ONNX (once)")
        export_onnx(model_dir, fp32, cache)
        say("quantising to int8")
        staged = Path(tmp) / "model.int8.onnx"
        quantize(fp32, staged)
        os.replace(staged, target)
    say(f"cached {target}")
    return target


def session(path: Path, threads: int | None = None) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or min(os.cpu_count() or 1, 4)
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"{path}: cannot load the ONNX model ({exc}); delete it to rebuild") from exc


@dataclass
class OnnxScorer:
    """int8 ONNX Runtime inference with length-bucketed, dynamically padded batches."""

    sess: Any
    spec: ModelSpec
    thresholds: Mapping[Signal, float]
    tokenizer: Any
    batch_size: int = 32
    name: str = field(init=False)
    version: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.spec.name + "-int8"
        self.version = self.spec.version

    @classmethod
    def load(
        cls,
        model_dir: Path,
        cache: Path | None = None,
        progress: Callable[[str], None] | None = None,
        threads: int | None = None,
    ) -> OnnxScorer:
        path = ensure_int8(model_dir, cache, progress)
        spec, thresholds = read_spec(model_dir)
        tokenizer = load_tokenizer(ensure_encoder(cache, progress))
        return cls(session(path, threads), spec, thresholds, tokenizer)

    def logits(self, texts: Sequence[str]) -> list[list[float]]:
        pieces, owners = self.spec.windows(texts)
        out: list[list[float]] = [[] for _ in pieces]
        for batch in length_buckets([len(t) for t in pieces], self.batch_size):
            enc = encode_batch(self.tokenizer, [pieces[i] for i in batch], self.spec.max_length)
            feeds = {k: v.numpy().astype(np.int64) for k, v in enc.items()}
            (result,) = self.sess.run(["logits"], feeds)
            for i, row in zip(batch, result.tolist(), strict=True):
                out[i] = row
        return max_by_owner(out, owners, len(texts))

    def score(self, texts: Sequence[str]) -> list[Scores]:
        return [calibrated(row, self.spec.temperatures) for row in self.logits(texts)]
