"""Event-time reordering in front of the alerter: a buffer released by a watermark.

The alerter's windows need each post in event-time order (its clock is the newest post it has
seen, and a post older than the horizon is dropped as late). The embedded bus delivers a
time-ordered intake in order. On Kafka, scored posts of one platform can arrive out of order:
several scorers write into the same partition at their own pace. The buffer restores the order:

- ``push`` holds records and returns, in (event time, tiebreak) order, those older than the
  **watermark** = newest event time seen − ``slack`` (the bounded out-of-orderness allowed);
- a record older than something already released is **late**: it is released at once (never
  dropped) and counted, and the order guarantee does not hold for it;
- a record seen before (same event time and tiebreak: a scorer's batch redelivered after a crash or
  a rebalance, at-least-once) is dropped and counted as a **duplicate**, while it is held or was
  released within the last ``slack`` before the watermark, so the windows count each post once;
- ``flush`` releases everything (end of a batch run, or an idle in-order source);
- ``state``/``load`` make the held records part of the stage's checkpoint, so a restart or a
  rebalance resumes with the same buffer and gives the same warnings.

Records with equal event time are released together, ordered by ``tiebreak`` (post id, then
platform), so any interleaving of the same records within the slack is released identically.
Pure: no I/O, no clock; event time comes from the records.
"""

from __future__ import annotations

import base64
import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

SortKey = tuple[datetime, tuple[str, ...]]


@dataclass(frozen=True, slots=True, order=True)
class Held:
    """One buffered record: its event time, its tiebreak, and the bytes to hand on.

    ``decoded`` may carry what the caller already parsed from ``value``, so it is not parsed twice; it is not
    part of the state (a record restored from a checkpoint has none, and the caller parses ``value`` again)."""

    ts: datetime
    tiebreak: tuple[str, ...]
    key: bytes | None = field(default=None, compare=False)
    value: bytes = field(default=b"", compare=False)
    decoded: object = field(default=None, compare=False, repr=False)

    @property
    def sort_key(self) -> SortKey:
        return (self.ts, self.tiebreak)

    def to_json(self) -> list[Any]:
        key = None if self.key is None else base64.b64encode(self.key).decode("ascii")
        return [self.ts.isoformat(), list(self.tiebreak), key, base64.b64encode(self.value).decode("ascii")]

    @classmethod
    def from_json(cls, raw: list[Any]) -> Held:
        ts, tiebreak, key, value = raw
        return cls(datetime.fromisoformat(ts), tuple(str(t) for t in tiebreak),
                   None if key is None else base64.b64decode(key), base64.b64decode(value))


@dataclass
class ReorderBuffer:
    """Holds records until the watermark (newest event time − ``slack``) passes them."""

    slack: timedelta = timedelta(0)
    newest: datetime | None = None  # the newest event time pushed
    frontier: SortKey | None = None  # the last record released
    late: int = 0  # records that arrived after a newer one had been released
    duplicates: int = 0  # records dropped because the same one was held or recently released
    _heap: list[Held] = field(default_factory=list)
    _seen: dict[SortKey, None] = field(default_factory=dict)  # held and recently released, in arrival order
    _expiry: list[SortKey] = field(default_factory=list, compare=False)  # _seen's keys as a min-heap, oldest first

    def __post_init__(self) -> None:
        if self.slack < timedelta(0):
            raise ValueError("slack (the allowed out-of-orderness) cannot be negative")

    def __len__(self) -> int:
        return len(self._heap)

    @property
    def watermark(self) -> datetime | None:
        """Records strictly older than this are released; None before the first record."""
        return None if self.newest is None else self.newest - self.slack

    def push(self, records: Iterable[Held]) -> list[Held]:
        """Buffer ``records``; return those now due (late ones first, as they came), in order."""
        out: list[Held] = []
        for record in records:
            if record.sort_key in self._seen:
                self.duplicates += 1
                continue
            self._seen[record.sort_key] = None
            heapq.heappush(self._expiry, record.sort_key)
            if self.newest is None or record.ts > self.newest:
                self.newest = record.ts
            if self.frontier is not None and record.sort_key < self.frontier:
                self.late += 1
                out.append(record)
            else:
                heapq.heappush(self._heap, record)
        mark = self.watermark
        while self._heap and mark is not None and self._heap[0].ts < mark:
            out.append(self._release())
        self._forget()
        return out

    def _forget(self) -> None:
        """Keep the keys of released records for one more ``slack`` (then a copy would be late anyway).

        Only keys older than the horizon are touched, oldest first, so a push costs O(log n) per key forgotten
        however many are held. A held record is never older than the watermark (push releases those), so no
        held key is forgotten."""
        mark = self.watermark
        if mark is None:
            return
        horizon = mark - self.slack
        while self._expiry and self._expiry[0][0] < horizon:
            del self._seen[heapq.heappop(self._expiry)]

    def flush(self) -> list[Held]:
        """Release everything held, in order (nothing earlier can still arrive, or we stop waiting)."""
        return [self._release() for _ in range(len(self._heap))]

    def _release(self) -> Held:
        record = heapq.heappop(self._heap)
        self.frontier = record.sort_key
        return record

    def state(self) -> dict[str, Any]:
        return {
            "slack_s": self.slack.total_seconds(),
            "newest": self.newest.isoformat() if self.newest else None,
            "frontier": None if self.frontier is None else [self.frontier[0].isoformat(), list(self.frontier[1])],
            "late": self.late,
            "duplicates": self.duplicates,
            "held": [h.to_json() for h in sorted(self._heap)],
            "seen": [[k[0].isoformat(), list(k[1])] for k in self._seen],
        }

    def load(self, state: Mapping[str, Any]) -> None:
        """Resume from ``state()``; the configured ``slack`` stays (it may have been changed)."""
        self.newest = datetime.fromisoformat(state["newest"]) if state["newest"] else None
        frontier = state["frontier"]
        self.frontier = None if frontier is None else (
            datetime.fromisoformat(frontier[0]), tuple(str(t) for t in frontier[1]))
        self.late = int(state["late"])
        self.duplicates = int(state.get("duplicates", 0))
        self._heap = [Held.from_json(h) for h in state["held"]]
        heapq.heapify(self._heap)
        self._seen = {(datetime.fromisoformat(ts), tuple(str(t) for t in tb)): None
                      for ts, tb in state.get("seen", [])}
        self._seen.update((h.sort_key, None) for h in self._heap)  # a state written before "seen" existed
        self._expiry = list(self._seen)
        heapq.heapify(self._expiry)


def slack_of(bus: object) -> timedelta:
    """The out-of-orderness a bus allows for: the embedded log is in order (0); Kafka says how much
    (``YUJING_KAFKA_EVENT_TIME_SLACK_S``)."""
    slack = getattr(bus, "event_time_slack", timedelta(0))
    return slack if isinstance(slack, timedelta) else timedelta(0)
