"""int8 ONNX export/inference and the model zoo, with the tiny encoder (YUJING_CACHE_DIR points at it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.models.tiny_model import make_tiny_encoder, write_toy_splits
from yujing.errors import ModelError
from yujing.models import transformer, zoo
from yujing.models.cli import evaluate, human_report
from yujing.models.dataset import read_examples
from yujing.models.onnx_scorer import OnnxScorer
from yujing.models.train import TrainConfig, train
from yujing.models.transformer import TransformerScorer

TEXTS = ["听说平台老板跑路了，大家赶紧转发", "今天天气很好", "明天上午九点市政府门口集合，拉横幅维权"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("zoo-cache")
    make_tiny_encoder(root)
    data = write_toy_splits(tmp_path_factory.mktemp("zoo-data"))
    cfg = TrainConfig(data, root / "models" / "toy", name="toy", depth=2, train_from=0, epochs=2, cache_dir=root)
    train(cfg, say=lambda _m: None)
    return root


@pytest.fixture()
def env_cache(cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("YUJING_CACHE_DIR", str(cache))
    return cache


def test_int8_scores_agree_with_torch(cache: Path) -> None:
    model_dir = cache / "models" / "toy"
    messages: list[str] = []
    onnx = OnnxScorer.load(model_dir, cache, progress=messages.append, threads=1)
    torch_scores = TransformerScorer.load(model_dir, cache).score(TEXTS)
    assert any("ONNX" in m for m in messages)
    for a, b in zip(onnx.score(TEXTS), torch_scores, strict=True):
        assert a.to_dict() == pytest.approx(b.to_dict(), abs=0.05)
    assert onnx.name == "toy-int8" and onnx.thresholds == TransformerScorer.load(model_dir, cache).thresholds
    again: list[str] = []
    OnnxScorer.load(model_dir, cache, progress=again.append)
    assert not any("exporting" in m for m in again)  # cached


def test_zoo_finds_trained_models_by_name_and_lists_them(env_cache: Path) -> None:
    assert zoo.load_scorer("toy", progress=None).name == ("toy-bf16" if transformer.native_bf16() else "toy")
    assert zoo.load_scorer("toy-fp32", progress=None).name == "toy"
    assert zoo.load_scorer("toy-bf16", progress=None).name == "toy-bf16"
    assert zoo.load_scorer("toy-int8", progress=None).name == "toy-int8"
    names = [m.name for m in zoo.list_models()]
    assert {"lexicon", "toy", "toy-fp32", "toy-bf16", "toy-int8"} <= set(names)


@pytest.mark.parametrize("native", [True, False])
def test_automatic_precision_is_bf16_only_where_the_cpu_has_it(
    env_cache: Path, monkeypatch: pytest.MonkeyPatch, native: bool
) -> None:
    monkeypatch.setattr(transformer, "native_bf16", lambda: native)
    scorer = zoo.load_scorer("toy", progress=None)
    assert isinstance(scorer, TransformerScorer)
    assert (scorer.precision, scorer.name) == (("bf16", "toy-bf16") if native else ("fp32", "toy"))
    assert next(scorer.model.parameters()).dtype == (torch.bfloat16 if native else torch.float32)


def test_bf16_scores_agree_with_fp32(cache: Path) -> None:
    model_dir = cache / "models" / "toy"
    fp32 = TransformerScorer.load(model_dir, cache, precision="fp32").score(TEXTS)
    bf16 = TransformerScorer.load(model_dir, cache, precision="bf16").score(TEXTS)
    for a, b in zip(bf16, fp32, strict=True):
        assert a.to_dict() == pytest.approx(b.to_dict(), abs=0.02)
        assert all(isinstance(v, float) for v in a.to_dict().values())


def test_unknown_precision_is_refused(cache: Path) -> None:
    with pytest.raises(ModelError, match=r"precision 'fp16' is not one of fp32, bf16"):
        TransformerScorer.load(cache / "models" / "toy", cache, precision="fp16")


def test_unknown_model_error_names_paths_and_fix(env_cache: Path) -> None:
    with pytest.raises(ModelError, match=r"no trained model 'nope' \(looked in .*yujing train --name nope"):
        zoo.load_scorer("nope", progress=None)


def test_default_model_missing_says_what_to_run(
    env_cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(zoo, "SHIPPED_DIR", tmp_path / "weights")
    with pytest.raises(ModelError, match=r"default model is missing.*yujing train"):
        zoo.load_scorer(None, progress=None)


def test_eval_report_has_metrics_confusions_and_worst(env_cache: Path, tmp_path: Path) -> None:
    data = write_toy_splits(tmp_path / "d")
    report = evaluate(zoo.load_scorer("toy", progress=None), read_examples(data / "test.jsonl"), worst=3)
    assert report["n"] == 12 and len(report["worst"]) == 3 and "macro_f1" in report
    assert report["worst"][0]["loss"] >= report["worst"][-1]["loss"]
    json.dumps(report, ensure_ascii=False)
    text = human_report(report)
    assert "rumour" in text and "worst examples" in text
