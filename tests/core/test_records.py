from __future__ import annotations

from datetime import UTC, datetime

import pytest

from yujing.privacy import pseudonymise
from yujing.records import Agency, Alert, Level, Post, ScoredPost, Scores, Signal, Source

TS = datetime(2016, 9, 3, 8, tzinfo=UTC)


def test_records_round_trip_through_json_dicts() -> None:
    post = Post("1", "文本", TS, Source.WEIBO, "u_x")
    sp = ScoredPost(post, Scores(0.1, 0.9, 0.0), (Signal.PANIC,), ("鑫盛贷",), "m@1")
    assert ScoredPost.from_dict(sp.to_dict()) == sp
    alert = Alert("k", "鑫盛贷", Signal.GATHERING, Level.RED, TS, (Agency.POLICE,), 12, rule="r",
                  explanation={"why": [1, 2]})
    assert Alert.from_dict(alert.to_dict()) == alert


def test_naive_timestamps_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Post("1", "x", datetime(2016, 9, 3))  # noqa: DTZ001


def test_scores_must_be_probabilities() -> None:
    with pytest.raises(ValueError, match="outside"):
        Scores(rumour=1.5)


def test_levels_are_ordered_and_named_in_chinese() -> None:
    assert [lv.rank for lv in (Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED)] == [1, 2, 3, 4]
    assert Level.ORANGE.chinese == "橙色"


def test_pseudonyms_are_keyed_and_stable() -> None:
    assert pseudonymise("张三", b"a") == pseudonymise(" 张三 ", b"a")
    assert pseudonymise("张三", b"a") != pseudonymise("张三", b"b")
    assert pseudonymise("", b"a") == ""
