"""The event-time reorder buffer in front of the alerter (pure: no bus, no clock)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from yujing.ingestion.reorder import Held, ReorderBuffer

T0 = datetime(2016, 9, 1, 8, 0, tzinfo=UTC)


def held(minute: int, post: str = "p", platform: str = "A") -> Held:
    return Held(T0 + timedelta(minutes=minute), (post, platform), platform.encode(), f"{post}@{minute}".encode())


def order(records: list[Held]) -> list[tuple[datetime, tuple[str, ...]]]:
    return [r.sort_key for r in records]


def test_releases_only_records_older_than_the_watermark() -> None:
    buf = ReorderBuffer(slack=timedelta(minutes=10))
    assert buf.push([held(0, "a"), held(5, "b")]) == []
    assert buf.watermark == T0 - timedelta(minutes=5)
    assert [r.value for r in buf.push([held(12, "c")])] == [b"a@0"]  # 0 < 12 - 10; 5 is not
    assert len(buf) == 2


def test_any_interleaving_within_the_slack_is_released_identically() -> None:
    stream = [held(m, f"p{m:03d}", platform) for m in range(0, 300, 3) for platform in ("A", "B")]
    expected = order(sorted(stream))
    for seed in range(20):
        rng = random.Random(seed)
        shuffled = sorted(stream, key=lambda r: r.ts + timedelta(minutes=rng.uniform(0, 9)))  # < 10 min late
        buf = ReorderBuffer(slack=timedelta(minutes=10))
        out = [r for chunk in range(0, len(shuffled), 7) for r in buf.push(shuffled[chunk:chunk + 7])]
        out += buf.flush()
        assert order(out) == expected and buf.late == 0


def test_a_record_later_than_the_slack_is_released_at_once_and_counted() -> None:
    buf = ReorderBuffer(slack=timedelta(minutes=1))
    buf.push([held(0, "a"), held(10, "b")])
    late = buf.push([held(-5, "old")])
    assert [r.value for r in late] == [b"old@-5"] and buf.late == 1  # never dropped


def test_equal_event_times_wait_for_a_newer_record_then_go_in_tiebreak_order() -> None:
    buf = ReorderBuffer()  # slack 0: the embedded, in-order bus
    assert buf.push([held(1, "p2", "B"), held(1, "p2", "A"), held(1, "p1", "C")]) == []
    out = buf.push([held(2, "p3")])
    assert [r.tiebreak for r in out] == [("p1", "C"), ("p2", "A"), ("p2", "B")]
    assert [r.value for r in buf.flush()] == [b"p3@2"]


def test_state_round_trip_resumes_with_the_same_buffer() -> None:
    first = ReorderBuffer(slack=timedelta(minutes=10))
    first.push([held(0, "a"), held(4, "b"), held(12, "c")])
    second = ReorderBuffer(slack=timedelta(minutes=10))
    second.load(first.state())
    assert second.state() == first.state()
    rest = [held(30, "d")]
    assert order(second.push(rest) + second.flush()) == order(first.push(rest) + first.flush())


def test_negative_slack_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        ReorderBuffer(slack=timedelta(seconds=-1))


def test_a_redelivered_record_is_counted_once() -> None:
    buf = ReorderBuffer(slack=timedelta(minutes=10))
    first = buf.push([held(0, "a"), held(1, "b")])
    again = buf.push([held(0, "a"), held(12, "c"), held(1, "b")])  # a scorer's batch, redelivered
    assert [r.value for r in first + again + buf.flush()] == [b"a@0", b"b@1", b"c@12"]
    assert buf.duplicates == 2 and buf.late == 0
    restored = ReorderBuffer(slack=timedelta(minutes=10))
    restored.load(buf.state())
    assert restored.push([held(12, "c")]) == [] and restored.duplicates == 3


def test_released_keys_are_forgotten_after_one_more_slack_and_the_memory_stays_bounded() -> None:
    buf = ReorderBuffer(slack=timedelta(minutes=10))
    for minute in range(0, 600, 2):
        buf.push([held(minute, f"p{minute}")])
        # held (newer than the watermark) and released within one more slack: at most 2 * slack / step keys
        assert len(buf._seen) == len(buf._expiry) <= 11
    assert buf.duplicates == 0
    assert buf.push([held(596, "p596")]) == [] and buf.duplicates == 1  # still remembered
    late = buf.push([held(500, "p500")])  # forgotten: a copy this old is late, released at once
    assert [r.value for r in late] == [b"p500@500"] and buf.late == 1 and buf.duplicates == 1


def test_what_the_caller_decoded_rides_along_but_is_not_part_of_the_state() -> None:
    parsed = {"id": "a"}
    record = Held(T0, ("a",), None, b"{}", decoded=parsed)
    assert record == Held(T0, ("a",), None, b"{}")  # not compared, so order and duplicates are unchanged
    buf = ReorderBuffer(slack=timedelta(minutes=10))
    buf.push([record])
    restored = ReorderBuffer(slack=timedelta(minutes=10))
    restored.load(buf.state())
    (mine,), (theirs,) = buf.flush(), restored.flush()
    assert mine.decoded is parsed and theirs.decoded is None and theirs.value == b"{}"
