"""``yujing retune`` on a tiny trained model: thresholds set again by a rule, every figure measured again."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from yujing.errors import InputError
from yujing.models import calibration, metrics
from yujing.models.dataset import Example, describe, read_examples
from yujing.models.retune import retune
from yujing.models.scorer import probabilities
from yujing.models.train import TrainConfig, train
from yujing.models.transformer import TransformerScorer
from yujing.records import SIGNALS


def real_like(examples: list[Example]) -> list[Example]:
    """The toy texts again, with a punctuation change and new ids: a second kind of dev text."""
    return [Example(f"real-{e.id}", e.text + "！", e.labels, "real", f"real-{e.group}") for e in examples]


@pytest.fixture(scope="module")
def trained(cache: Path, data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models") / "toy"
    cfg = TrainConfig(data, out, name="toy", depth=2, train_from=1, epochs=2, lr=1e-3, cache_dir=cache)
    extra = real_like(read_examples(data / "dev.jsonl"))
    source = {"name": "toy-real", "added_to": "dev", "source": "the toy texts with a mark", **describe(extra)}
    train(cfg, say=lambda _m: None, extra_dev=extra, extra_sources=[source])
    return out


def test_retune_writes_floor_rule_thresholds_and_measures_again_in_a_copy(
    trained: Path, data: Path, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YUJING_CACHE_DIR", str(cache))
    before = (trained / "thresholds.json").read_bytes()
    synthetic, test = read_examples(data / "dev.jsonl"), read_examples(data / "test.jsonl")
    extra = real_like(synthetic)
    out = tmp_path / "toy-f"
    report = retune(trained, synthetic, extra, test, rule="floor", tolerance=0.05, out_dir=out, version="1f")

    assert (trained / "thresholds.json").read_bytes() == before  # the source model is untouched
    scorer = TransformerScorer.load(out, cache)
    dev = [*synthetic, *extra]
    probs = probabilities(scorer, [e.text for e in dev], "dev")
    gold = [list(e.labels) for e in dev]
    expected = calibration.tune_thresholds(probs, gold, ["synthetic"] * 12 + ["extra"] * 12, "floor", "synthetic", 0.05)
    assert scorer.thresholds == pytest.approx({s: round(expected[s], 4) for s in SIGNALS})
    test_probs = probabilities(scorer, [e.text for e in test], "test")
    assert report["test"] == metrics.summary(test_probs, [list(e.labels) for e in test], expected)
    assert report["dev_by_kind"]["extra"] == metrics.summary(probs[12:], gold[12:], expected)
    assert report["retuned"]["previous_thresholds"] == json.loads(before)
    assert report["retuned"]["dev"]["extra"]["n"] == 12 and report["retuned"]["rule"] == "floor"
    assert scorer.version == "1f" and report["retuned"]["previous_version"] == "1"
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8")) == report
    card = (out / "model_card.md").read_text(encoding="utf-8")
    assert "## Dev split: the real texts" in card
    assert "Re-tuned by `yujing retune`" in card and "the floor rule" in card and "# Model card: toy v1f" in card


def test_retune_refuses_what_would_leave_stale_figures_or_overwrite_a_folder(
    trained: Path, data: Path, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YUJING_CACHE_DIR", str(cache))
    synthetic, test = read_examples(data / "dev.jsonl"), read_examples(data / "test.jsonl")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(InputError, match=r"--out .*taken: the folder exists and is not empty"):
        retune(trained, synthetic, [], test, out_dir=taken)
    with_real = tmp_path / "with-real"
    retune(trained, synthetic, [], test, out_dir=with_real)  # synthetic dev alone: allowed
    report = json.loads((with_real / "metrics.json").read_text(encoding="utf-8"))
    report["real_eval"] = {"macro_f1": 0.5}
    (with_real / "metrics.json").write_text(json.dumps(report), encoding="utf-8")
    with pytest.raises(InputError, match="real_eval holds figures taken at the old thresholds; pass --real"):
        retune(with_real, synthetic, [], test)
    with pytest.raises(InputError, match="--thresholds must be one of mean, floor"):
        retune(trained, synthetic, [], test, rule="best")


def test_retune_cli_in_place_prints_the_change(
    trained: Path, data: Path, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import shutil

    from yujing.models.cli import register

    monkeypatch.setenv("YUJING_CACHE_DIR", str(cache))
    model = tmp_path / "toy"
    shutil.copytree(trained, model)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["retune", str(model), "--data", str(data), "--thresholds", "mean", "--json"])
    assert args.func(args) == 0
    printed = capsys.readouterr()
    out = json.loads(printed.out)
    assert out["retuned"]["rule"] == "mean" and "tuned on the synthetic dev texts alone" in printed.err
    assert json.loads((model / "thresholds.json").read_text(encoding="utf-8")) == out["retuned"]["thresholds"]
    for argv, message in (
        (["--tolerance", "1.5"], "--tolerance must be in"),
        (["--real-labels", str(data / "dev.jsonl")], r"--real-labels: .* --extra-real"),
    ):
        args = parser.parse_args(["retune", str(model), "--data", str(data), *argv])
        with pytest.raises(InputError, match=message):
            args.func(args)
