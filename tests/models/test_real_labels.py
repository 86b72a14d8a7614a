"""The annotated real texts: loader against a fake data folder in the shared formats, and the labels file itself.

Only the last test reads ``../shared/data`` (skipped when that folder is absent); every other test
builds its own fake data folder, so a fresh clone runs them all.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from yujing.errors import InputError
from yujing.models.datagen.real import (
    ANNOTATED_CHARS,
    CED_FILE,
    LABELS_FILE,
    agreement,
    cohen_kappa,
    load_ced,
    load_real,
    load_real_eval,
    normalise,
    parse_ced_time,
    read_labels,
    read_texts,
)
from yujing.models.dataset import describe

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
FINNSP = "finance_texts/finnsp/train_list.json"
BDCI = "finance_texts/bdci2019_testA.csv"


def write_finnsp(path: Path, rows: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = [[i, "", t, "某平台", "1", "某平台"] for i, t in rows.items()]
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def write_bdci(path: Path, rows: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "title", "text", "entity"])
        for i, t in rows.items():
            w.writerow([i, "", t, "某平台"])


def write_ced(path: Path, posts: list[tuple[str, str, object, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"id": i, "label": lab, "time": t, "text": x}, ensure_ascii=False) for i, lab, t, x in posts]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_labels(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def row(source: str, id_: str, labels: tuple[int, int, int], split: str, **extra: object) -> dict[str, object]:
    return {
        "source": source,
        "id": id_,
        "rumour": labels[0],
        "panic": labels[1],
        "gathering": labels[2],
        "split": split,
        "group": "g",
        **extra,
    }


CED_POSTS: list[tuple[str, str, object, str]] = [
    ("c1", "rumor", 1300000000, "听说某银行要倒闭了，赶紧转发"),
    ("c2", "non-rumor", "Wed May 08 20:44:17 +0800 2013", "今天发布会\u2028如期举行"),
    ("c3", "rumor", 1290000000, "网传某地明天停水"),
    ("c4", "non-rumor", 1370000000, "天气预报说明天有雨"),
    ("c5", "rumor", 1380000000, "某公司老板已经出国了"),
]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "shared"
    write_finnsp(root / FINNSP, {"f1": "平台提现困难，大家都慌了，我的养老钱怎么办", "f2": "今日股市平稳"})
    write_bdci(root / BDCI, {"b1": "  明天上午\n\n九点 去平台总部门口拉横幅  ", "b2": "x" * 900})
    write_ced(root / CED_FILE, CED_POSTS)
    return root


@pytest.fixture
def labels(tmp_path: Path) -> Path:
    return write_labels(
        tmp_path / "labels.jsonl",
        [
            row(FINNSP, "f1", (0, 1, 0), "eval"),
            row(FINNSP, "f2", (0, 0, 0), "train", note="neutral market news"),
            row(BDCI, "b1", (0, 0, 1), "eval"),
            row(BDCI, "b2", (0, 0, 0), "train"),
            row(CED_FILE, "c2", (0, 0, 0), "eval"),
            row(CED_FILE, "c5", (1, 0, 0), "eval"),
        ],
    )


def test_load_real_reads_each_format_and_keeps_only_the_split(data_dir: Path, labels: Path) -> None:
    ev = load_real(data_dir, "eval", labels)
    assert [e.id for e in ev] == ["real:f1", "real:b1", "real:c2", "real:c5"]
    assert [e.labels for e in ev] == [(0, 1, 0), (0, 0, 1), (0, 0, 0), (1, 0, 0)]
    assert ev[0].text.startswith("平台提现困难") and ev[0].genre == "finance-real"
    assert ev[2].genre == "weibo-ced" and "如期举行" in ev[2].text
    assert {e.id for e in load_real(data_dir, "train", labels)} == {"real:f2", "real:b2"}
    assert len(load_real(data_dir, "all", labels)) == 6


def test_texts_are_the_whitespace_normalised_annotated_prefix(data_dir: Path, labels: Path) -> None:
    by_id = {e.id: e.text for e in load_real(data_dir, "all", labels)}
    assert by_id["real:b1"] == "明天上午 九点 去平台总部门口拉横幅"
    assert by_id["real:b2"] == "x" * ANNOTATED_CHARS
    assert normalise(" a\t\nb ") == "a b"


def test_a_missing_data_folder_or_file_names_the_path_and_the_fix(tmp_path: Path, labels: Path) -> None:
    with pytest.raises(InputError) as e:
        load_real(tmp_path / "nowhere", "eval", labels)
    assert "nowhere" in str(e.value) and "--data" in str(e.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError) as e:
        load_real(tmp_path / "empty", "eval", labels)
    assert e.value.reason == "missing_source" and FINNSP in str(e.value) and "--data" in str(e.value)


def test_an_id_missing_from_the_data_names_the_labels_file(data_dir: Path, tmp_path: Path) -> None:
    bad = write_labels(tmp_path / "bad.jsonl", [row(BDCI, "nope", (0, 0, 0), "eval")])
    with pytest.raises(InputError) as e:
        load_real(data_dir, "eval", bad)
    assert e.value.reason == "unknown_id" and "bad.jsonl" in str(e.value) and "'nope'" in str(e.value)


@pytest.mark.parametrize(
    ("change", "reason", "field"),
    [
        ({"split": "test"}, "bad_split", "split"),
        ({"panic": 2}, "bad_label", "panic"),
        ({"gathering": True}, "bad_label", "gathering"),
        ({"source": "/etc/passwd"}, "bad_source", "source"),
        ({"source": "../x.csv"}, "bad_source", "source"),
        ({"id": ""}, "bad_field", "id"),
        ({"votes": [[0, 0, 1]]}, "bad_votes", "votes"),
        ({"votes": [[0, 0, 1], [0, 0, 2]]}, "bad_votes", "votes"),
        ({"votes": [[0, 0, 1], [0, 0, True]]}, "bad_votes", "votes"),
        ({"votes": [[0, 0, 1], [0, 0, 1], [0, 0, 1]]}, "bad_votes", "votes"),
        ({"votes": [[0, 0, 1], [0, 1, 1]]}, "bad_votes", "votes"),
        ({"votes": [[0, 0, 0], [0, 0, 0]]}, "bad_votes", "votes"),
        ({"votes": [[0, 0, 0], [0, 1, 1], [1, 0, 0]]}, "bad_votes", "votes"),
    ],
)
def test_bad_label_lines_name_file_line_and_field(
    tmp_path: Path, change: dict[str, object], reason: str, field: str
) -> None:
    good = row(BDCI, "b1", (0, 0, 1), "eval")
    path = write_labels(tmp_path / "l.jsonl", [row(BDCI, "b2", (0, 0, 0), "train"), {**good, **change}])
    with pytest.raises(InputError) as e:
        read_labels(path)
    assert e.value.reason == reason and f"l.jsonl:2 {field}" in str(e.value)


def test_votes_are_read_and_the_first_two_annotators_agreement_is_measured(tmp_path: Path) -> None:
    rows = [
        row(BDCI, "b1", (0, 1, 1), "eval", votes=[[0, 0, 1], [0, 1, 1], [1, 1, 1]]),
        row(BDCI, "b2", (1, 0, 0), "eval", votes=[[1, 0, 0], [1, 0, 0]]),
        row(BDCI, "b3", (0, 0, 0), "eval", votes=[[1, 0, 0], [0, 0, 0], [0, 0, 0]]),
        row(BDCI, "b4", (0, 1, 0), "eval", votes=[[0, 1, 0], [0, 1, 0]]),
        row(BDCI, "b5", (0, 0, 0), "train"),
    ]
    labels = read_labels(write_labels(tmp_path / "l.jsonl", rows))
    assert labels[0].votes == ((0, 0, 1), (0, 1, 1), (1, 1, 1)) and labels[4].votes == ()
    report = agreement(labels)
    assert report["texts"] == 4 and report["disputed"] == 2
    # rumour: first [0,1,1,0], second [0,1,0,0] -> po 3/4, pe 1/2*1/4 + 1/2*3/4 = 1/2, kappa 1/2, F1 2/3
    assert report["rumour"] == {
        "first": 2,
        "second": 1,
        "both": 1,
        "kappa": 0.5,
        "f1_second_vs_first": 0.667,
        "adjudicated": 1,
    }
    # panic: first [0,0,0,1], second [1,0,0,1]; gathering agrees on every text
    assert report["panic"]["f1_second_vs_first"] == 0.667 and report["panic"]["adjudicated"] == 2
    assert report["gathering"]["kappa"] == 1.0 and report["gathering"]["f1_second_vs_first"] == 1.0
    assert report["macro_f1_second_vs_first"] == round((2 / 3 + 2 / 3 + 1) / 3, 3)
    assert agreement([labels[4]]) == {"texts": 0}


def test_the_check_command_prints_counts_and_agreement_for_people_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from yujing.models.datagen.real import main

    rows = [
        row(BDCI, "b1", (0, 1, 1), "eval", votes=[[0, 0, 1], [0, 1, 1], [1, 1, 1]]),
        row(BDCI, "b2", (1, 0, 0), "eval", votes=[[1, 0, 0], [1, 0, 0]]),
        row(BDCI, "b3", (0, 0, 1), "train", votes=[[0, 0, 1], [0, 0, 1]]),
        row(BDCI, "b4", (0, 0, 0), "train"),
    ]
    path = write_labels(tmp_path / "l.jsonl", rows)
    assert main(["--labels", str(path)]) == 0
    out = capsys.readouterr().out
    assert "eval split: agreement of the first two annotators on 2 texts (1 disputed" in out and "kappa" in out
    assert "train split: agreement of the first two annotators on 1 texts (0 disputed" in out
    assert main(["--labels", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["eval"]["n"] == 2 and report["agreement"]["eval"]["disputed"] == 1
    # each split is measured on its own voted texts: the train row without votes is left out
    assert report["agreement"]["train"]["texts"] == 1 and report["agreement"]["train"]["gathering"]["kappa"] == 1.0
    bad = write_labels(tmp_path / "bad.jsonl", [{**rows[1], "votes": [[1, 0, 0]]}])
    assert main(["--labels", str(bad)]) == 1
    assert "bad.jsonl:1 votes" in capsys.readouterr().err


def test_cohen_kappa_by_hand() -> None:
    assert cohen_kappa([1, 1, 0, 0], [1, 0, 0, 0]) == pytest.approx(0.5)
    assert cohen_kappa([1, 0, 1, 0], [0, 1, 0, 1]) == pytest.approx(-1.0)
    assert cohen_kappa([0, 0, 0], [0, 0, 0]) == 1.0
    with pytest.raises(ValueError):
        cohen_kappa([1], [1, 0])


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    r = row(BDCI, "b1", (0, 0, 1), "eval")
    with pytest.raises(InputError) as e:
        read_labels(write_labels(tmp_path / "l.jsonl", [r, r]))
    assert e.value.reason == "duplicate" and "line 1" in str(e.value)


def test_ced_split_is_chronological_and_keeps_real_eval_posts_out_of_train(data_dir: Path, labels: Path) -> None:
    split = load_ced(data_dir, test_fraction=0.4, labels_file=labels)
    # by time: c3 (2010-11), c1 (2011-03), c2 (2013-05-08), c4 (2013-06), c5 (2013-09); 40% latest -> c4, c5
    assert [e.id for e in split.test] == ["ced:c4", "ced:c5"]
    assert [e.id for e in split.train] == ["ced:c3", "ced:c1"]  # c2 is in the real eval split: left out
    assert [e.labels for e in split.train] == [(1, 0, 0), (1, 0, 0)]
    assert split.cutoff == datetime.fromtimestamp(1370000000, UTC)
    everything = load_ced(data_dir, test_fraction=0.4, labels_file=None)
    assert len(everything.train) == 3


def test_ced_times_in_both_formats_parse_and_garbage_is_refused() -> None:
    assert parse_ced_time(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_ced_time("Wed May 08 20:44:17 +0800 2013") == datetime(2013, 5, 8, 12, 44, 17, tzinfo=UTC)
    with pytest.raises(InputError):
        parse_ced_time("yesterday")
    with pytest.raises(InputError):
        parse_ced_time(True)


def test_read_texts_keeps_line_separators_inside_a_jsonl_text(data_dir: Path) -> None:
    assert read_texts(data_dir, CED_FILE)["c2"] == "今天发布会\u2028如期举行"


def fake_shared_for(labels_file: Path, root: Path) -> Path:
    """A data folder with invented texts for every id of ``labels_file`` (cue words per gold label)."""
    cue = {0: "据说内部消息说老板跑路了，转发", 1: "提现失败，赶紧提现，挤兑了", 2: "明天去市政府门口拉横幅集体上访"}
    texts: dict[str, dict[str, str]] = {}
    for x in read_labels(labels_file):
        parts = [cue[j] for j, v in enumerate(x.labels) if v] or ["今天天气不错"]
        texts.setdefault(x.source, {})[x.id] = "，".join(parts)
    for source, rows in texts.items():
        path = root / source
        if path.suffix == ".json":
            write_finnsp(path, rows)
        elif path.suffix == ".csv":
            write_bdci(path, rows)
        else:
            write_ced(path, [(i, "rumor", 1300000000, t) for i, t in rows.items()])
    return root


def test_yujing_eval_real_scores_the_eval_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from yujing.cli import main

    shared = fake_shared_for(LABELS_FILE, tmp_path / "fake-shared")
    assert main(["eval", "--real", str(shared), "--model", "lexicon", "--json", "--worst", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    n_eval = sum(1 for x in read_labels() if x.split == "eval")
    assert report["n"] == n_eval and report["model"].startswith("lexicon")
    assert report["macro_f1"] > 0.5  # the invented texts carry the lexicon's own cues
    assert len(load_real_eval(shared)) == n_eval


def test_labels_file_schema_balance_and_groups() -> None:
    labels = read_labels()
    assert len(labels) >= 600
    splits = Counter(x.split for x in labels)
    assert 0.2 <= splits["eval"] / len(labels) <= 0.55
    # the second and third annotation passes only added training texts: the eval split is the first pass's 589
    assert all(x.split == "train" for x in labels if re.search(r"(^|first note: )pass [23]", x.note))
    assert sum(x.split == "eval" for x in labels) == 589
    # every text was read by two annotators, a third deciding where they differ (REAL_LABELS.md)
    assert all(len(x.votes) >= 2 for x in labels)
    assert all(x.note.startswith("adjudicated 2:1") for x in labels if x.votes and x.labels != x.votes[0])
    pos = [sum(x.labels[j] for x in labels) for j in range(3)]
    assert pos[0] >= 80 and pos[1] >= 150 and pos[2] >= 50, pos
    for s in ("eval", "train"):
        sub = [x for x in labels if x.split == s]
        assert all(sum(x.labels[j] for x in sub) >= 20 for j in range(3)), s
    split_of_group: dict[str, set[str]] = {}
    for x in labels:
        assert x.group, f"{x.source} {x.id} has no group"
        split_of_group.setdefault(x.group, set()).add(x.split)
    assert all(len(v) == 1 for v in split_of_group.values()), "a group crosses the eval/train split"
    assert not any(re.search(r"[\u4e00-\u9fff]{12}", x.note) for x in labels), "notes must not quote texts"


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is absent (it is not part of the repo)")
def test_labels_resolve_against_the_shared_data_without_cross_split_duplicates() -> None:
    examples = load_real(SHARED, "all")
    labels = read_labels()
    assert len(examples) == len(labels) and all(e.text for e in examples)

    def grams(t: str) -> set[str]:
        s = re.sub(r"[^\u4e00-\u9fff0-9a-zA-Z]", "", t)
        return {s[i : i + 4] for i in range(max(1, len(s) - 3))}

    ev = [grams(e.text) for e, x in zip(examples, labels, strict=True) if x.split == "eval"]
    tr = [grams(e.text) for e, x in zip(examples, labels, strict=True) if x.split == "train"]
    worst = max(len(a & b) / min(len(a), len(b)) for a in ev for b in tr if a and b)
    assert worst < 0.6, f"near-duplicate across splits (4-gram containment {worst:.2f})"
    ced = load_ced(SHARED, labels_file=None)
    assert ced.train and ced.test and len(ced.train) + len(ced.test) >= 3000


def test_train_with_extra_real_examples_adds_them_to_train_only(data_dir: Path, labels: Path, tmp_path: Path) -> None:
    from tests.models.tiny_model import make_tiny_encoder, toy_rows, write_toy_splits
    from yujing.models.train import TrainConfig, train

    cache = tmp_path / "cache"
    make_tiny_encoder(cache)
    extra = load_real(data_dir, "train", labels) + load_real(data_dir, "eval", labels)
    cfg = TrainConfig(
        write_toy_splits(tmp_path / "toy"),
        tmp_path / "out",
        name="toy",
        depth=2,
        train_from=1,
        epochs=1,
        max_length=48,
        cache_dir=cache,
    )
    said: list[str] = []
    source = {"name": "real_labels:train", "added_to": "train", "source": str(data_dir), **describe(extra)}
    report = train(cfg, say=said.append, extra_train=extra, extra_sources=[source]).report
    base = len(toy_rows())
    assert any(m.startswith(f"train {base + len(extra)}, dev {base}, test {base};") for m in said), said
    assert report["data"]["train"]["n"] == base  # the synthetic part; extras are listed separately
    assert report["extra"][0]["n"] == len(extra) and report["extra"][0]["positives"]["gathering"] == 1
    assert "real_labels:train" in (tmp_path / "out" / "model_card.md").read_text(encoding="utf-8")


def test_train_command_accepts_extra_real() -> None:
    import argparse

    from yujing.models.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["train", "--extra-real", "/some/shared/data", "--real", "/some/shared/data"])
    assert args.extra_real == Path("/some/shared/data") and args.real == Path("/some/shared/data")


def test_real_repeat_oversamples_the_real_training_texts_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from yujing.errors import InputError
    from yujing.models import cli
    from yujing.models.dataset import Example, hold_out

    real = [Example(f"r{i}", f"真实文本{i}", (i % 2, 0, 0), group=f"g{i}") for i in range(40)]
    monkeypatch.setattr(cli, "load_real_train", lambda _d, _f: real)
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(["train", "--extra-real", "/x", "--real-repeat", "3"])
    train, dev, sources = cli.extra_examples(args)
    kept, held = hold_out(real, args.real_dev)
    assert train == kept * 3 and dev == held  # dev is never repeated
    assert sources[0]["name"] == "real_labels:train (each text 3 times)" and sources[0]["n"] == len(kept)
    assert sources[1]["name"] == "real_labels:train" and sources[1]["n"] == len(held)
    args.real_repeat = 0
    with pytest.raises(InputError, match="--real-repeat must be 1 or more"):
        cli.extra_examples(args)


def test_real_labels_picks_the_file_whose_train_split_is_added(data_dir: Path, labels: Path, tmp_path: Path) -> None:
    import argparse

    from yujing.errors import InputError
    from yujing.models import cli

    subset = write_labels(tmp_path / "subset.jsonl", [row(FINNSP, "f2", (0, 0, 0), "train", group="g1"),
                                                      row(BDCI, "b1", (0, 0, 1), "train", group="g2")])
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(["train", "--extra-real", str(data_dir), "--real-labels", str(subset),
                              "--real-dev", "0.5"])
    train, dev, sources = cli.extra_examples(args)
    assert sorted(e.id for e in train + dev) == ["real:b1", "real:f2"]  # b1 is eval in the committed labels
    assert all(str(subset) in s["source"] and "sha256" in s["source"] for s in sources)
    args = parser.parse_args(["train", "--real-labels", str(subset)])
    with pytest.raises(InputError, match=r"--real-labels: .* --extra-real"):
        cli.extra_examples(args)


def test_real_labels_refuses_a_committed_eval_text_in_train(tmp_path: Path) -> None:
    from yujing.errors import InputError
    from yujing.models import cli
    from yujing.models.datagen.real import read_labels

    first = next(x for x in read_labels() if x.split == "eval")
    leaky = write_labels(tmp_path / "leaky.jsonl", [row(first.source, first.id, (0, 0, 0), "train")])
    with pytest.raises(InputError, match=f"leaky.jsonl: 1 train rows .*{first.id}.* committed real eval split"):
        cli.load_real_train(tmp_path, leaky)
