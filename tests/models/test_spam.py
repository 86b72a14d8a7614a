"""The ad-spam negatives (models/datagen/spam.py) and `yujing train --extra-train`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from yujing.errors import InputError
from yujing.models import cli
from yujing.models.datagen import spam
from yujing.models.dataset import read_examples


def test_committed_file_matches_a_fresh_generation(capsys: pytest.CaptureFixture[str]) -> None:
    assert spam.main(["--check"]) == 0, capsys.readouterr().err


def test_check_reports_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "spam.jsonl"
    out.write_text("{}\n", encoding="utf-8")
    assert spam.main(["--out", str(out), "--check"]) == 1
    assert "rerun without --check" in capsys.readouterr().err


def test_rows_are_distinct_negatives_with_an_ad_inside_a_carrier() -> None:
    rows = spam.generate(200, seed=5)
    assert len({r["text"] for r in rows}) == 200
    assert all(r["rumour"] == r["panic"] == r["gathering"] == 0 for r in rows)
    ad_words = {w for parts in spam.ADS for w in parts}
    for r in rows:
        text = str(r["text"])
        assert any(w in text for w in ad_words), text
        assert "#" in text  # the trailing hashtags
    assert spam.generate(50, seed=5) == rows[:50]  # deterministic for a seed
    assert spam.generate(50, seed=6) != rows[:50]


def test_no_carrier_or_ad_mentions_investors_runs_or_gatherings() -> None:
    """The file's premise: every text is a negative, so no carrier may carry a signal's own words."""
    banned = ("兑付", "挤兑", "跑路", "爆雷", "出借人", "投资人", "维权", "上访", "聚集", "拉横幅", "听说", "网传")
    for s in (*spam.CARRIERS, *(w for parts in spam.ADS for w in parts), *spam.HASHTAGS):
        assert not any(b in s for b in banned), s


def _train_args(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    return parser.parse_args(["train", *extra])


def test_extra_train_adds_a_file_to_train_only_and_describes_it(tmp_path: Path) -> None:
    a = tmp_path / "a.jsonl"
    a.write_text(spam.to_jsonl(spam.generate(7, seed=1)), encoding="utf-8")
    b = tmp_path / "b.jsonl"
    b.write_text(
        json.dumps(
            {"id": "x", "text": "某平台今天又延期兑付了，我的钱怎么办", "rumour": 0, "panic": 1, "gathering": 0},
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    train, dev, sources = cli.extra_examples(_train_args("--extra-train", str(a), "--extra-train", str(b)))
    assert train == read_examples(a) + read_examples(b) and dev == []
    assert [s["name"] for s in sources] == ["file:a.jsonl", "file:b.jsonl"]
    assert sources[0]["n"] == 7 and sources[0]["added_to"] == "train" and "sha256" in sources[0]["source"]
    assert sources[1]["positives"]["panic"] == 1


def test_extra_train_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no-such\.jsonl"):
        cli.extra_examples(_train_args("--extra-train", str(tmp_path / "no-such.jsonl")))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"empty\.jsonl: no examples"):
        cli.extra_examples(_train_args("--extra-train", str(empty)))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "rumour": 2, "panic": 0, "gathering": 0}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.jsonl:1"):
        cli.extra_examples(_train_args("--extra-train", str(bad)))
