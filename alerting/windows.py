"""Event-time windows per platform × signal, with an EWMA baseline so spikes count, not volume.

Small objects with ``add`` / ``figures`` / ``state`` / ``load``: no I/O, no clock. ``now`` is the
event-time watermark the caller passes in.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass
from datetime import datetime, timedelta
from typing import Any

from yujing.alerting.rules import Baseline, Figures

EXCERPT_CHARS = 60
_HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Entry:
    """One counted post. ``author`` is a pseudonym used only for distinct counts, never shown."""

    ts: datetime
    p: float
    author: str
    post_id: str
    excerpt: str
    cluster: int
    when: str = ""  # announced gathering time (ISO) if any
    where: str = ""  # announced gathering place if any


def _in(entries: Iterable[Entry], start: datetime, end: datetime) -> list[Entry]:
    return [e for e in entries if start < e.ts <= end]


def figures_for(entries: Sequence[Entry], totals: Sequence[datetime], window: timedelta, now: datetime,
                expected_per_hour: float) -> Figures:
    """Pure: the figures of one window ending at ``now``."""
    inside = _in(entries, now - window, now)
    best: dict[int, float] = {}
    for e in inside:
        best[e.cluster] = max(best.get(e.cluster, 0.0), e.p)
    return Figures(
        window=window,
        posts=len(inside),
        weighted=sum(best.values()),
        authors=len({e.author for e in inside}),
        stories=len(best),
        total=sum(1 for t in totals if now - window < t <= now),
        expected=expected_per_hour * window / _HOUR,
    )


def top_stories(entries: Sequence[Entry], window: timedelta, now: datetime, limit: int = 5) -> list[dict[str, Any]]:
    """The strongest supporting stories: post id + excerpt, spreaders and posts; never the author."""
    groups: dict[int, list[Entry]] = {}
    for e in _in(entries, now - window, now):
        groups.setdefault(e.cluster, []).append(e)
    ranked = sorted(groups.values(), key=lambda g: (-len({e.author for e in g}), -max(e.p for e in g)))
    out = []
    for group in ranked[:limit]:
        rep = max(group, key=lambda e: e.p)
        out.append({"post_id": rep.post_id, "excerpt": rep.excerpt, "p": round(rep.p, 3),
                    "spreaders": len({e.author for e in group}), "posts": len(group),
                    "post_ids": [e.post_id for e in group[:10]]})
    return out


def announced(entries: Sequence[Entry], window: timedelta, now: datetime) -> dict[str, Any] | None:
    """The most often announced gathering time and place in the window, with its support."""
    found = Counter((e.when, e.where) for e in _in(entries, now - window, now) if e.when or e.where)
    if not found:
        return None
    (when, where), support = found.most_common(1)[0]
    return {"time": when or None, "place": where or None, "posts": support}


class Ewma:
    """Hourly buckets folded into an exponentially weighted mean (per hour)."""

    def __init__(self, baseline: Baseline) -> None:
        self.alpha = 1.0 - 0.5 ** (_HOUR / baseline.half_life)
        self.mean = baseline.prior_per_hour
        self.bucket: datetime | None = None
        self.current = 0.0

    def _roll(self, ts: datetime) -> None:
        start = ts.replace(minute=0, second=0, microsecond=0)
        if self.bucket is None:
            self.bucket = start
            return
        hours = int((start - self.bucket) / _HOUR)
        if hours <= 0:
            return
        self.mean = self.mean * (1 - self.alpha) + self.alpha * self.current
        self.mean *= (1 - self.alpha) ** (hours - 1)
        self.current = 0.0
        self.bucket = start

    def add(self, ts: datetime, value: float) -> None:
        self._roll(ts)
        if self.bucket is not None and ts >= self.bucket:
            self.current += value

    def expected(self, now: datetime) -> float:
        """Expected weight per hour, as known before the current hour (floored at a tiny rate)."""
        self._roll(now)
        return max(self.mean, 1e-3)

    def state(self) -> list[Any]:
        return [self.mean, self.bucket.isoformat() if self.bucket else None, self.current]

    def load(self, state: Sequence[Any]) -> None:
        self.mean, bucket, self.current = float(state[0]), state[1], float(state[2])
        self.bucket = datetime.fromisoformat(bucket) if bucket else None


class SignalWindow:
    """Counted posts of one platform × signal within the longest window, plus the baseline."""

    def __init__(self, baseline: Baseline) -> None:
        self.entries: deque[Entry] = deque()
        self.ewma = Ewma(baseline)
        self.seen_clusters: set[int] = set()

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)
        self.ewma.add(entry.ts, entry.p if entry.cluster not in self.seen_clusters else 0.0)
        self.seen_clusters.add(entry.cluster)

    def evict(self, before: datetime) -> None:
        evicted = False
        while self.entries and self.entries[0].ts <= before:
            self.entries.popleft()
            evicted = True
        if evicted:
            self.seen_clusters = {e.cluster for e in self.entries}

    def figures(self, windows: Sequence[timedelta], totals: Sequence[datetime], now: datetime) -> dict[
            timedelta, Figures]:
        rate = self.ewma.expected(now)
        return {w: figures_for(self.entries, totals, w, now, rate) for w in windows}

    def state(self) -> dict[str, Any]:
        rows = [[e.ts.isoformat(), *astuple(e)[1:]] for e in self.entries]
        return {"entries": rows, "ewma": self.ewma.state(), "seen": sorted(self.seen_clusters)}

    def load(self, state: Mapping[str, Any]) -> None:
        self.entries = deque(Entry(datetime.fromisoformat(r[0]), *r[1:]) for r in state["entries"])
        self.ewma.load(state["ewma"])
        self.seen_clusters = set(state["seen"])

