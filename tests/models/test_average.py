"""``yujing average`` on two tiny runs of one recipe (two seeds): the tensors, the calibration and the refusals."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from yujing.errors import InputError
from yujing.models import calibration, metrics
from yujing.models.average import average, average_weights
from yujing.models.dataset import read_examples
from yujing.models.scorer import logit_rows
from yujing.models.train import TrainConfig, train
from yujing.models.transformer import TransformerScorer
from yujing.records import SIGNALS


@pytest.fixture(scope="module")
def runs(cache: Path, data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """One toy recipe trained with two seeds."""
    root = tmp_path_factory.mktemp("runs")
    out = []
    for seed in (13, 14):
        cfg = TrainConfig(data, root / f"seed{seed}", name="toy", version=str(seed), depth=2, train_from=1, epochs=2,
                          lr=1e-3, seed=seed, cache_dir=cache)
        train(cfg, say=lambda _m: None)
        out.append(cfg.out_dir)
    return out


def test_average_weights_is_the_mean_of_every_tensor_and_names_its_sources(runs: list[Path], tmp_path: Path) -> None:
    a, b = (load_file(str(r / "finetuned.safetensors")) for r in runs)
    assert any(not torch.equal(a[k], b[k]) for k in a)  # the seeds really differ
    report = average_weights(runs, tmp_path / "avg", "13+14")
    mean = load_file(str(tmp_path / "avg" / "finetuned.safetensors"))
    assert set(mean) == set(a)
    for k in a:
        expected = ((a[k].float() + b[k].float()) / 2).to(a[k].dtype)
        assert mean[k].dtype == a[k].dtype and torch.equal(mean[k], expected), k
    models = report["averaged"]["models"]
    assert [(m["version"], m["seed"]) for m in models] == [("13", 13), ("14", 14)]
    assert report["averaged"]["weights"] == [0.5, 0.5]
    spec = json.loads((tmp_path / "avg" / "model.json").read_text(encoding="utf-8"))
    assert spec["version"] == "13+14" and spec["depth"] == 2 and spec["train_from"] == 1


def test_average_refuses_runs_that_are_not_one_architecture(runs: list[Path], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="name two or more models, got 1"):
        average_weights(runs[:1], tmp_path / "one", "x")
    other = tmp_path / "other"
    shutil.copytree(runs[1], other)
    spec = json.loads((other / "model.json").read_text(encoding="utf-8"))
    (other / "model.json").write_text(json.dumps({**spec, "max_length": 64}), encoding="utf-8")
    with pytest.raises(InputError, match=r"other/model.json: max_length is 64 but .*seed13/model.json has \d+"):
        average_weights([runs[0], other], tmp_path / "a", "x")
    (other / "model.json").write_text(json.dumps(spec), encoding="utf-8")
    tensors = load_file(str(other / "finetuned.safetensors"))
    tensors.pop(sorted(tensors)[0])
    save_file(tensors, str(other / "finetuned.safetensors"))
    with pytest.raises(InputError, match="its tensors differ in names or shapes"):
        average_weights([runs[0], other], tmp_path / "b", "x")


def test_average_fits_temperatures_and_thresholds_on_dev_and_measures_the_average(
    runs: list[Path], data: Path, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YUJING_CACHE_DIR", str(cache))
    dev, test = read_examples(data / "dev.jsonl"), read_examples(data / "test.jsonl")
    out = tmp_path / "models" / "avg"
    report = average(runs, out, dev, [], test, version="15", rule="mean")

    assert sorted(p.name for p in out.parent.iterdir()) == ["avg"]  # the scratch folder is gone
    scorer = TransformerScorer.load(out, cache)
    dev_logits = logit_rows(scorer, [e.text for e in dev], "dev")
    gold = [list(e.labels) for e in dev]
    temps = calibration.fit_temperatures(dev_logits, gold)
    assert scorer.spec.temperatures == pytest.approx(temps)
    probs = calibration.apply(dev_logits, temps)
    expected = calibration.tune_thresholds(probs, gold, ["synthetic"] * len(dev), "mean", "synthetic", 0.01)
    assert scorer.thresholds == pytest.approx({s: round(expected[s], 4) for s in SIGNALS})
    test_probs = calibration.apply(logit_rows(scorer, [e.text for e in test], "test"), temps)
    assert report["test"] == metrics.summary(test_probs, [list(e.labels) for e in test], expected)
    assert report["retuned"]["by"] == "yujing average" and report["retuned"]["temperatures_refit"] is True
    assert scorer.version == "15"
    card = (out / "model_card.md").read_text(encoding="utf-8")
    assert "the equal-weight average of `toy` v13, `toy` v14" in card and "Re-tuned by" not in card
    assert "Written by `yujing average`." in card
    with pytest.raises(InputError, match=r"--out .*avg: the folder exists and is not empty"):
        average(runs, out, dev, [], test, version="16")


def test_average_cli_prints_the_fitted_calibration(
    runs: list[Path], data: Path, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from yujing.models.cli import register

    monkeypatch.setenv("YUJING_CACHE_DIR", str(cache))
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    out = tmp_path / "avg"
    args = parser.parse_args(["average", *map(str, runs), "--out", str(out), "--version", "15", "--data", str(data)])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "temperatures (fitted on dev): rumour" in printed and f"averaged model in {out}" in printed
    args = parser.parse_args(["average", str(runs[0]), "--out", str(tmp_path / "x"), "--version", "1",
                              "--data", str(data), "--json"])
    with pytest.raises(InputError, match="name two or more models"):
        args.func(args)
    assert not (tmp_path / "x").exists()
