"""Announced gathering time and place, normalised against the post's timestamp (table-driven)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from yujing.alerting.announce import chinese_number, extract

CST = timezone(timedelta(hours=8))
MONDAY_10AM = datetime(2026, 11, 2, 10, 15, tzinfo=CST)  # a Monday, China time


def at(day: int, hour: int, minute: int = 0, month: int = 11, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CST)


@pytest.mark.parametrize(("text", "when", "where"), [
    ("后天上午九点在区政府门口集合", at(4, 9), "区政府门口"),
    ("明天下午两点半到市信访局门前讨说法", at(3, 14, 30), "市信访局门前"),
    ("今晚8点去公司总部拉横幅", at(2, 20), "公司总部"),
    ("大后天早上9:30在人民广场集合", at(5, 9, 30), "人民广场"),
    ("本周五上午10点在金融办门口见", at(6, 10), "金融办门口"),
    ("下周一9点去区法院门口", at(9, 9), "区法院门口"),
    ("周日下午三点在平台大楼楼下", at(8, 15), "平台大楼楼下"),
    ("11月20日上午十点半在市政府门口集合维权", at(20, 10, 30), "市政府门口"),
    ("12号早上八点到银保监局门口", at(12, 8), "银保监局门口"),
    ("1月5日在市政府广场集合", at(5, 0, month=1, year=2027), "市政府广场"),
    ("明天大家都去", at(3, 0), None),
    ("十一点在区政府门口集合", at(2, 11), "区政府门口"),
    ("九点在区政府门口集合", at(3, 9), "区政府门口"),  # 9:00 has passed today: tomorrow
    ("平台跑路了，钱取不出来", None, None),
])
def test_extract(text: str, when: datetime | None, where: str | None) -> None:
    found = extract(text, MONDAY_10AM)
    assert found.when == when
    assert found.where == where


def test_utc_timestamps_are_read_in_china_time() -> None:
    posted = datetime(2026, 11, 2, 18, 0, tzinfo=timezone.utc)  # 02:00 on Tuesday in China  # noqa: UP017
    assert extract("明天上午九点在区政府门口", posted).when == at(4, 9)


@pytest.mark.parametrize(("text", "value"), [("九", 9), ("十", 10), ("十一", 11), ("二十", 20), ("二十三", 23),
                                              ("12", 12), ("两", 2)])
def test_chinese_number(text: str, value: int) -> None:
    assert chinese_number(text) == value
