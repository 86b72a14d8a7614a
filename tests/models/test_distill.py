"""Distillation: soft targets, the unlabelled real-text pool, and a student trained from a tiny teacher."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import pytest

from tests.models.tiny_model import toy_rows, write_toy_splits
from yujing.errors import InputError
from yujing.models.datagen.real import CED_FILE, load_unlabelled
from yujing.models.train import TrainConfig, soft_targets, teacher_probs, train
from yujing.models.transformer import TransformerScorer

FINNSP = "finance_texts/finnsp/train_list.json"
FINNSP_EVAL = "finance_texts/finnsp/eval_list.json"
BDCI = "finance_texts/bdci2019_testA.csv"


def test_soft_targets_mix_gold_and_teacher() -> None:
    got = soft_targets([[1, 0, 0]], [[0.2, 0.6, 0.0]], 0.75)
    assert got == [[pytest.approx(0.8), pytest.approx(0.15), 0.0]]
    assert soft_targets([[1, 0, 1]], [[0.3, 0.3, 0.3]], 1.0) == [[1.0, 0.0, 1.0]]
    with pytest.raises(ValueError, match="teacher rows"):
        soft_targets([[1, 0, 0], [0, 0, 0]], [[0.1, 0.1, 0.1]], 0.5)


def write_shared(root: Path) -> Path:
    """Finance texts of two platforms (甲 in eval, 乙 in train) and CED posts before/after the eval posts."""
    (root / FINNSP).parent.mkdir(parents=True)
    finnsp = [
        ["e1", "", "甲平台提现困难，大家都慌了，我的养老钱怎么办", "甲平台", "1", "甲平台"],
        ["t1", "", "乙平台今天发布了兑付公告，按月分期偿还出借人本金", "乙平台", "1", "乙平台"],
        ["u1", "", "乙平台的出借人在群里说提现三天还没到账，大家很着急", "乙平台", "1", "乙平台"],
        ["u2", "", "甲平台逾期以后，投资人在讨论能不能追回本金和利息", "甲平台", "1", "甲平台"],
        ["u3", "", "丙平台发布年度信息披露报告，累计成交额稳步增长", "丙平台", "0", ""],
        ["u4", "", "丙平台和甲平台的合作已经终止，双方互不影响日常运营", "丙平台", "0", "丙平台"],
        ["u5", "", "某平台提现困难，大家都慌了，我的养老钱怎么办啊！！", "丁平台", "1", "丁平台"],
    ]
    (root / FINNSP).write_text(json.dumps(finnsp, ensure_ascii=False), encoding="utf-8")
    (root / FINNSP_EVAL).write_text("[]", encoding="utf-8")
    with (root / BDCI).open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "title", "text", "entity"])
        w.writerow(["b1", "", "戊平台上线新的风控系统，用户体验有所提升", "戊平台"])
    (root / CED_FILE).parent.mkdir(parents=True)
    posts = [
        {"id": "c1", "label": "rumor", "time": 1300000000, "text": "听说某银行要倒闭了，赶紧转发告诉家人"},
        {"id": "c2", "label": "non-rumor", "time": 1360000000, "text": "今天的发布会如期举行，现场秩序良好"},
        {"id": "c3", "label": "rumor", "time": 1370000000, "text": "网传某地明天停水停电，请大家提前储水"},
    ]
    (root / CED_FILE).write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in posts), encoding="utf-8")
    return root


def write_labels(path: Path) -> Path:
    rows = [
        {"source": FINNSP, "id": "e1", "rumour": 0, "panic": 1, "gathering": 0, "split": "eval", "group": "ga"},
        {"source": FINNSP, "id": "t1", "rumour": 0, "panic": 0, "gathering": 0, "split": "train", "group": "gb"},
        {"source": CED_FILE, "id": "c2", "rumour": 0, "panic": 0, "gathering": 0, "split": "eval", "group": "c"},
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_unlabelled_pool_is_unannotated_train_side_and_not_near_eval(tmp_path: Path) -> None:
    shared = write_shared(tmp_path / "shared")
    labels = write_labels(tmp_path / "labels.jsonl")
    texts = load_unlabelled(shared, 100, seed=1, labels_file=labels)
    # u1: train-side platform; u3: no key entity, its first entity is new; b1: new platform; c1: older CED post
    expected = {"乙平台的出借人", "丙平台发布年度", "戊平台上线新的", "听说某银行要倒"}
    assert {t[:7] for t in texts} == expected
    # left out: e1/t1 annotated, u2 an eval platform's text, u4 names the eval platform, u5 near-duplicate of e1,
    # c3 newer than the eval CED post
    assert len(load_unlabelled(shared, 2, seed=1, labels_file=labels)) == 2
    assert load_unlabelled(shared, 100, seed=1, labels_file=labels) == texts  # seeded
    finance_only = tmp_path / "finance-only.jsonl"
    finance_only.write_text("".join(labels.read_text(encoding="utf-8").splitlines(keepends=True)[:2]), encoding="utf-8")
    ced = {t[:7] for t in load_unlabelled(shared, 100, seed=1, labels_file=finance_only)} - expected
    assert ced == {"今天的发布会如", "网传某地明天停"}  # no eval CED post: every CED post is on the train side


def test_student_learns_from_teacher_and_unlabelled_texts(cache: Path, tmp_path: Path) -> None:
    data = write_toy_splits(tmp_path / "data")
    teacher_dir = tmp_path / "teacher"
    train(
        TrainConfig(data, teacher_dir, name="toy-teacher", depth=2, train_from=1, epochs=3, lr=1e-3, cache_dir=cache),
        say=lambda _m: None,
    )
    unlabelled = ["听说平台老板跑路了，赶紧转发", "明天上午九点去平台门口拉横幅", "今天天气不错"]
    said: list[str] = []
    cfg = TrainConfig(
        data,
        tmp_path / "student",
        name="toy-student",
        depth=1,
        train_from=0,
        epochs=3,
        lr=1e-3,
        cache_dir=cache,
        teacher=teacher_dir,
        distill_alpha=0.5,
    )
    result = train(cfg, say=said.append, unlabelled=unlabelled)
    base = len(toy_rows())
    assert any(m.startswith(f"teacher toy-teacher v1 scoring {base + len(unlabelled)} distinct") for m in said), said
    dist = result.report["distillation"]
    assert dist["teacher"]["name"] == "toy-teacher" and dist["unlabelled_texts"] == len(unlabelled)
    assert result.report["recipe"]["teacher"] == str(teacher_dir)
    card = (tmp_path / "student" / "model_card.md").read_text(encoding="utf-8")
    assert "## Distillation" in card and "toy-teacher" in card
    student = TransformerScorer.load(tmp_path / "student", cache)
    assert student.spec.depth == 1 and len(student.score(unlabelled)) == 3
    # A text repeated in train (--real-repeat) is scored once and gets the same soft target every time.
    said.clear()
    probs, _ = teacher_probs(teacher_dir, [unlabelled[0], unlabelled[1], unlabelled[0]], said.append, cache)
    assert len(probs) == 3 and probs[0] == probs[2] and probs[0] != probs[1]
    assert any("scoring 2 distinct texts" in m for m in said), said


def test_unlabelled_texts_without_a_teacher_are_refused(cache: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(write_toy_splits(tmp_path / "data"), tmp_path / "out", depth=2, train_from=1, cache_dir=cache)
    with pytest.raises(ValueError, match="teacher"):
        train(cfg, say=lambda _m: None, unlabelled=["一条没有标注的文本"])
    from yujing.models.cli import cmd_train, register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["train", "--unlabelled-real", str(tmp_path)])
    with pytest.raises(InputError, match="--teacher"):
        cmd_train(args)
