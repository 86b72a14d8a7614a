"""``yujing head`` on a tiny trained model: a head on several layers, served the way it was fitted."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from yujing.errors import InputError, ModelError
from yujing.models import calibration, metrics
from yujing.models.dataset import Example, read_examples
from yujing.models.head import fit_layer_head, parse_layers
from yujing.models.onnx_scorer import export_onnx
from yujing.models.train import TrainConfig, train
from yujing.models.transformer import (
    ModelSpec,
    PackedForward,
    TransformerScorer,
    build_classifier,
    encode_batch,
    init_from,
    load_model,
    load_tokenizer,
)
from yujing.records import SIGNALS

LONG = "听说平台老板跑路了，大家赶紧转发。" * 4 + "明天上午九点市政府门口集合，拉横幅维权。" * 2  # several windows


@pytest.fixture(scope="module")
def source(cache: Path, data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "toy"
    cfg = TrainConfig(data, out, name="toy", version="1", depth=2, train_from=1, epochs=2, lr=1e-3, cache_dir=cache,
                      max_length=48, window_chars=40)  # the tiny encoder has 64 positions
    train(cfg, say=lambda _m: None)
    return out


def real_texts() -> list[Example]:
    """Stand-ins for annotated real posts: other wordings, and one long post the scorer cuts into windows."""
    return [
        Example("r1", LONG, (1, 0, 1)),
        Example("r2", "平台提不出钱了，大家快去挤兑", (0, 1, 0)),
        Example("r3", "周末同学聚会，地点在老地方", (0, 0, 0)),
        Example("r4", "网传老板被抓是谣言吗", (1, 0, 0)),
    ]


def test_spec_head_layers_round_trip_and_are_checked() -> None:
    spec = ModelSpec("m", "1", depth=4, head_layers=(2, 4))
    assert ModelSpec.from_dict(json.loads(spec.to_json())) == spec
    assert ModelSpec.from_dict({"name": "m", "version": "1"}).head_layers == ()  # older model.json files
    with pytest.raises(ValueError, match=r"head_layers: expected increasing layer numbers in 1..4, got \[4, 2\]"):
        ModelSpec("m", "1", depth=4, head_layers=(4, 2))
    with pytest.raises(ValueError, match=r"in 1..4, got \[0\]"):
        ModelSpec("m", "1", depth=4, head_layers=(0,))


def test_a_head_on_several_layers_runs_the_same_packed_and_unpacked(cache: Path) -> None:
    folder = cache / "encoder" / next(p.name for p in (cache / "encoder").iterdir())
    model = build_classifier(folder, 2, seed=0, head_layers=(1, 2)).eval()
    assert model.head.in_features == 2 * model.bert.config.hidden_size
    with torch.no_grad():
        model.head.weight.normal_()
        model.head.bias.normal_()
    texts = ["听说平台跑路了", "明天上午九点市政府门口集合散步拉横幅维权", "钱"]
    enc = encode_batch(load_tokenizer(folder), texts, 64)
    with torch.no_grad():
        reference = model(**enc)
        packed = PackedForward(model)(**enc)
        last_only = build_classifier(folder, 2, seed=0).eval()
        last_only.head.weight.copy_(model.head.weight[:, -last_only.head.in_features :])
        last_only.head.bias.copy_(model.head.bias)
        without_first = model.head.weight.clone()
        model.head.weight[:, : last_only.head.in_features] = 0.0
        only_last_part = model(**enc)
        model.head.weight.copy_(without_first)
    assert torch.allclose(reference, packed, atol=1e-5)
    with pytest.raises(ModelError, match=r"the source model's head reads layers \[1, 2\] and this model's last"):
        init_from(build_classifier(folder, 1), model, [0])  # a student starts from a last-layer head
    # the last block of the head's inputs is the last layer's pooled output, as a plain head reads it
    assert torch.allclose(only_last_part, last_only(**enc), atol=1e-5)


def test_head_fits_serves_and_measures_what_it_fitted(
    source: Path, data: Path, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YUJING_CACHE_DIR", str(cache))
    train_set, dev, test = (read_examples(data / f"{s}.jsonl") for s in ("train", "dev", "test"))
    real = real_texts()
    out = tmp_path / "models" / "toy-head"
    messages: list[str] = []
    report = fit_layer_head(source, (1, 2), train_set, real[:2], dev, real[2:], test, real, out_dir=out,
                            version="2", say=messages.append)
    assert sorted(p.name for p in out.parent.iterdir()) == ["toy-head"]  # the scratch folder is gone
    assert any("windows" in m for m in messages) and any(m.startswith("thresholds ") for m in messages)

    spec = json.loads((out / "model.json").read_text(encoding="utf-8"))
    assert spec["head_layers"] == [1, 2] and spec["temperatures"] == [1.0, 1.0, 1.0] and spec["version"] == "2"
    new, old = load_file(str(out / "finetuned.safetensors")), load_file(str(source / "finetuned.safetensors"))
    assert set(new) == set(old)
    assert all(torch.equal(new[k], old[k]) for k in old if not k.startswith("head."))  # the encoder is kept
    assert new["head.weight"].dtype == torch.float32 and new["head.weight"].shape[1] == 2 * old["head.weight"].shape[1]
    assert report["head"]["layers"] == [1, 2] and report["head"]["train"]["real_weight"] == len(train_set) / 2
    assert report["head"]["l2"] in {float(k) for k in report["head"]["dev_log_loss"]}

    scorer = TransformerScorer.load(out, cache)
    dev_all = [*dev, *real[2:]]
    probs = [[sc.get(s) for s in SIGNALS] for sc in scorer.score([e.text for e in dev_all])]
    gold = [list(e.labels) for e in dev_all]
    kinds = ["synthetic"] * len(dev) + ["extra"] * 2
    expected = calibration.tune_thresholds(probs, gold, kinds, "floor", "synthetic", 0.01)
    assert scorer.thresholds == pytest.approx({s: round(expected[s], 4) for s in SIGNALS})
    for split, examples in (("test", test), ("real_eval", real)):
        served = [[sc.get(s) for s in SIGNALS] for sc in scorer.score([e.text for e in examples])]
        again = metrics.summary(served, [list(e.labels) for e in examples], expected)
        assert report[split]["macro_f1"] == pytest.approx(again["macro_f1"], abs=1e-3), split
    card = (out / "model_card.md").read_text(encoding="utf-8")
    assert "Written by `yujing head`." in card and "layers [1, 2] side by side" in card
    assert "Temperatures (1: the head is a logistic regression)" in card

    # the ONNX export (int8 scorer) takes the several-layer head along
    import onnxruntime as ort

    path = tmp_path / "toy-head.onnx"
    export_onnx(out, path, cache)
    model, spec_, _, tokenizer = load_model(out, cache)
    enc = encode_batch(tokenizer, ["听说平台跑路了", "明天九点市政府门口集合"], spec_.max_length)
    onnx_logits = ort.InferenceSession(str(path)).run(None, {k: v.numpy() for k, v in enc.items()})[0]
    with torch.no_grad():
        assert torch.allclose(torch.from_numpy(onnx_logits), model(**enc), atol=1e-4)

    with pytest.raises(InputError, match=r"--out .*toy-head: the folder exists and is not empty"):
        fit_layer_head(source, (1, 2), train_set, [], dev, [], test, out_dir=out, version="3")


def test_head_refuses_layers_the_model_does_not_have(source: Path, data: Path, cache: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YUJING_CACHE_DIR", str(cache))
    assert parse_layers("2, 1,2", 2) == (1, 2)
    with pytest.raises(InputError, match=r"--layers '0,2': this model has 2 layers; give numbers from 1 to 2"):
        parse_layers("0,2", 2)
    with pytest.raises(InputError, match=r"--layers 'a,b': expected layer numbers separated by commas"):
        parse_layers("a,b", 2)
    dev = read_examples(data / "dev.jsonl")
    with pytest.raises(InputError, match=r"give increasing numbers from 1 to 2"):
        fit_layer_head(source, (1, 3), dev, [], dev, [], dev, out_dir=tmp_path / "x", version="x")
    assert not (tmp_path / "x").exists()


def test_head_cli_prints_the_figures_and_where_the_model_is(
    source: Path, data: Path, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from yujing.models.cli import register

    monkeypatch.setenv("YUJING_CACHE_DIR", str(cache))
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"id": "e1", "text": "花呗套现，秒到账", "rumour": 0, "panic": 0, "gathering": 0},
                                ensure_ascii=False) + "\n", encoding="utf-8")
    out = tmp_path / "head"
    args = parser.parse_args(["head", str(source), "--layers", "1,2", "--out", str(out), "--version", "2",
                              "--data", str(data), "--extra-train", str(extra)])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "head on layers 1,2 of toy v1" in printed and f"model written to {out}" in printed
    report = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert report["extra"][0]["name"] == "file:extra.jsonl" and report["head"]["train"]["texts"]["n"] == 13
    assert report["head"]["train"]["real_weight"] is None  # no real texts, nothing to balance
    args = parser.parse_args(["head", str(source), "--layers", "5", "--out", str(tmp_path / "y"), "--version", "2"])
    with pytest.raises(InputError, match="this model has 2 layers"):
        args.func(args)
