"""Full training of the default model on models/data (multi-minute, opt-in: ``pytest -m slow``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from yujing.models.cli import DATA_DIR
from yujing.models.train import TrainConfig, train
from yujing.models.transformer import TransformerScorer


@pytest.mark.slow
def test_default_recipe_trains_a_useful_model(tmp_path: Path) -> None:
    out = tmp_path / "e5-zh-ft"
    result = train(TrainConfig(DATA_DIR, out), say=lambda _m: None)
    # A regression guard, not the target (0.90): v8, trained with this recipe plus the real-text extras
    # (counted 3 times) and 3 epochs, measured 0.902 on the synthetic test split; the shipped v16 keeps its layers
    # under a head on several of them (`yujing head`, models/README.md).
    assert result.report["test"]["macro_f1"] >= 0.75
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["test"]["macro_f1"] == result.report["test"]["macro_f1"]
    assert (out / "finetuned.safetensors").stat().st_size < 30 * 2**20  # layers 4-11 and the head in fp16
    scorer = TransformerScorer.load(out)
    rumour, debunk = scorer.score(["听说金禾贷老板跑路了，大家转发！", "网传金禾贷老板跑路系谣言，平台运营正常。"])
    assert rumour.rumour > debunk.rumour
