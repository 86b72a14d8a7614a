"""Announced gathering time and place, e.g. "后天上午九点在区政府门口" posted on a Monday.

Pure: ``extract(text, posted_at)`` reads the first time and place expressions and normalises the
time against the post's timestamp (in the post's own UTC offset, or China time if it has none
that differs). Table-driven tests in ``tests/alerting/test_announce.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8))
_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUM = r"(?:[0-9]{1,2}|[零〇一二两三四五六七八九十]{1,3})"
_RELATIVE_DAY = {"今天": 0, "今日": 0, "今晚": 0, "明天": 1, "明日": 1, "明早": 1, "明晚": 1, "后天": 2, "大后天": 3}
_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_PERIOD_OFFSET = {"上午": 0, "早上": 0, "早晨": 0, "凌晨": 0, "清晨": 0, "中午": 12, "下午": 12, "傍晚": 12, "晚上": 12,
                  "今晚": 12, "明晚": 12, "夜里": 12}
_PERIOD_DEFAULT_HOUR = {"上午": 9, "早上": 8, "早晨": 8, "清晨": 7, "凌晨": 5, "中午": 12, "下午": 14, "傍晚": 18,
                        "晚上": 19, "今晚": 19, "明晚": 19, "明早": 8, "夜里": 21}

_DAY_RE = re.compile(
    rf"(?P<rel>大后天|后天|明天|明日|今天|今日|今晚|明晚|明早)"
    rf"|(?P<week>(?P<next>下下?|本|这)?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天]))"
    rf"|(?:(?P<month>{_NUM})月(?P<mday>{_NUM})[日号])"
    rf"|(?:(?P<mday2>{_NUM})[日号])"
)
_PERIOD_RE = re.compile(r"上午|早上|早晨|清晨|凌晨|中午|下午|傍晚|晚上|夜里")
_CLOCK_RE = re.compile(rf"(?P<h>{_NUM})(?:点|时|:|：)(?P<half>半)?(?:(?P<m>{_NUM})分?)?")
_PLACE_RE = re.compile(
    r"(?:在|到|去|赴|于)(?P<place>[^，。,.!！？?\s在到去]{2,16}"
    r"(?:门口|门前|大门|广场|大楼|大厦|楼下|总部|办公室|政府|法院|公安局|信访局|银保监局|金融办|派出所|公司|门外))"
)


def chinese_number(text: str) -> int:
    """``"九"`` → 9, ``"十一"`` → 11, ``"二十"`` → 20, ``"12"`` → 12."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_DIGITS.get(tens, 1) if tens else 1) * 10 + (_DIGITS.get(ones, 0) if ones else 0)
    value = 0
    for ch in text:
        value = value * 10 + _DIGITS[ch]
    return value


@dataclass(frozen=True, slots=True)
class Announcement:
    when: datetime | None = None
    where: str | None = None
    time_text: str = ""

    def labels(self) -> tuple[str, str]:
        return (self.when.isoformat() if self.when else "", self.where or "")


def _local(posted_at: datetime) -> datetime:
    offset = posted_at.utcoffset()
    return posted_at if offset and offset != timedelta(0) else posted_at.astimezone(CHINA)


def _day(match: re.Match[str], base: datetime) -> datetime | None:
    if match.group("rel"):
        return base + timedelta(days=_RELATIVE_DAY[match.group("rel")])
    if match.group("week"):
        wanted = _WEEKDAY[match.group("wd")]
        monday = base - timedelta(days=base.weekday())
        weeks = {"下": 1, "下下": 2}.get(match.group("next") or "", 0)
        day = monday + timedelta(days=wanted + 7 * weeks)
        return day + timedelta(days=7) if not match.group("next") and day < base else day
    month = chinese_number(match.group("month")) if match.group("month") else base.month
    mday = chinese_number(match.group("mday") or match.group("mday2"))
    return _calendar(base, month, mday, explicit_month=bool(match.group("month")))


def _calendar(base: datetime, month: int, mday: int, explicit_month: bool) -> datetime | None:
    try:
        day = base.replace(month=month, day=mday)
    except ValueError:
        return None
    if day.date() < base.date():  # a date already past means next month / next year
        try:
            day = day.replace(year=day.year + 1) if explicit_month else _next_month(day)
        except ValueError:
            return None
    return day


def _next_month(day: datetime) -> datetime:
    return day.replace(year=day.year + 1, month=1) if day.month == 12 else day.replace(month=day.month + 1)


def _hour(text: str, period: str | None, base_hour: int) -> tuple[int, int] | None:
    clock = _CLOCK_RE.search(text)
    if clock is None:
        return (_PERIOD_DEFAULT_HOUR[period], 0) if period else None
    hour = chinese_number(clock.group("h"))
    minute = 30 if clock.group("half") else chinese_number(clock.group("m")) if clock.group("m") else 0
    if period and _PERIOD_OFFSET.get(period, 0) and hour < 12:
        hour += 12
    if hour > 23 or minute > 59:
        return None
    return hour, minute


def extract(text: str, posted_at: datetime) -> Announcement:
    """Pure: the announced time (normalised against ``posted_at``) and place in ``text``."""
    base = _local(posted_at).replace(hour=0, minute=0, second=0, microsecond=0)
    day_match = _DAY_RE.search(text)
    period_match = _PERIOD_RE.search(text)
    rel = day_match.group("rel") if day_match else None
    period = period_match.group(0) if period_match else (rel if rel in _PERIOD_DEFAULT_HOUR else None)
    tail = text[day_match.end():] if day_match else text
    hm = _hour(tail, period, posted_at.hour)
    when: datetime | None = None
    if day_match is not None:
        day = _day(day_match, base)
        if day is not None:
            when = day.replace(hour=hm[0], minute=hm[1]) if hm else day
    elif hm is not None and _CLOCK_RE.search(text):
        when = base.replace(hour=hm[0], minute=hm[1])
        if when < _local(posted_at):
            when += timedelta(days=1)
    place = _PLACE_RE.search(text)
    time_text = text[day_match.start(): day_match.end() + 8] if day_match else ""
    return Announcement(when, place.group("place") if place else None, time_text)
