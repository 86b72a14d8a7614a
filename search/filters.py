"""Parts of a search both stores share: validation, sort keys, histogram intervals. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from yujing.errors import InputError
from yujing.records import Level, Signal
from yujing.search.query import Node, parse
from yujing.search.store import SearchQuery

SORTS = ("newest", "oldest", "score")
MAX_SIZE = 10_000
_INTERVAL = re.compile(r"^(\d+)([smhd])$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def interval_ms(interval: str) -> int:
    """``"15m"`` -> 900000. Fixed intervals only (aligned to the epoch, like ``fixed_interval``)."""
    m = _INTERVAL.match(interval.strip())
    if m is None or int(m.group(1)) == 0:
        raise InputError("bad_interval", f"{interval!r}; use a number and s/m/h/d, e.g. 1h or 15m")
    return int(m.group(1)) * _UNIT_MS[m.group(2)]


def check(query: SearchQuery) -> Node | None:
    """Validate a query and return its parsed text (None when empty)."""
    if query.sort not in SORTS:
        raise InputError("bad_sort", f"{query.sort!r}; use one of {', '.join(SORTS)}")
    if query.sort == "score" and query.signal is None:
        raise InputError("bad_sort", "sort=score needs a signal (rumour, panic or gathering)")
    if not 0 <= query.size <= MAX_SIZE:
        raise InputError("bad_size", f"{query.size}; use 0..{MAX_SIZE} and search_after for deeper pages")
    if not 0.0 <= query.min_score <= 1.0:
        raise InputError("bad_min_score", f"{query.min_score}; use a number in [0, 1]")
    check_window(query.since, query.until)
    if query.histogram:
        interval_ms(query.histogram)
    if query.search_after is not None and len(query.search_after) != len(sort_fields(query)):
        raise InputError("bad_search_after", f"expected {len(sort_fields(query))} values (the last hit's sort)")
    return parse(query.text) if query.text.strip() else None


def check_window(since: datetime | None, until: datetime | None) -> None:
    """Time bounds are instants: each needs a UTC offset (a naive one would be read in the host's
    zone, silently hours off), and ``since`` may not be after ``until``. Both stores compare epoch
    milliseconds, so bounds in any offset select the same events."""
    for ts in (since, until):
        if ts is not None and ts.tzinfo is None:
            raise InputError("bad_time", f"{ts.isoformat()} has no UTC offset; add one, e.g. +08:00")
    if since is not None and until is not None and since > until:
        raise InputError("bad_time", f"since {since.isoformat()} is after until {until.isoformat()}")


def check_alerts(query: AlertQuery) -> None:
    """Validate a warning query (the same time rules as a post search)."""
    check_window(query.since, query.until)
    if query.size < 0:
        raise InputError("bad_size", f"{query.size}; use 0 or more")


def sort_fields(query: SearchQuery) -> list[tuple[str, bool]]:
    """(field, descending) pairs; ``id`` breaks ties so pages never skip or repeat."""
    desc = query.sort != "oldest"
    fields = [("ts", desc), ("id", desc)]
    if query.sort == "score":
        assert query.signal is not None
        fields.insert(0, (f"scores.{query.signal.value}", True))
    return fields


def sort_values(query: SearchQuery, doc_ts_ms: int, doc_id: str, scores: dict[str, float]) -> tuple[Any, ...]:
    values: list[Any] = [doc_ts_ms, doc_id]
    if query.sort == "score":
        assert query.signal is not None
        values.insert(0, scores[query.signal.value])
    return tuple(values)


def signal_of(value: str) -> Signal:
    try:
        return Signal(value)
    except ValueError:
        raise InputError("bad_signal", f"{value!r}; use rumour, panic or gathering") from None


def parse_time(value: str) -> datetime:
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise InputError("bad_time", f"{value!r}; use ISO 8601 with an offset, e.g. 2026-11-28T08:00+08:00") from None
    if ts.tzinfo is None:
        raise InputError("bad_time", f"{value!r} has no UTC offset; add one, e.g. +08:00")
    return ts


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """A search over warnings: filters plus an optional text query over their explanations."""

    text: str = ""
    platforms: tuple[str, ...] = ()
    signal: Signal | None = None
    min_level: Level | None = None
    districts: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    status: str = ""
    since: datetime | None = None
    until: datetime | None = None
    size: int = 50
