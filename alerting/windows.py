"""Event-time windows per platform × signal, with an EWMA baseline so spikes count, not volume.

Small objects with ``add`` / ``figures`` / ``state`` / ``load``: no I/O, no clock. ``now`` is the
event-time watermark the caller passes in.

Counted posts and the platform's post times are kept sorted by event time (a late post is inserted
in place), so a window ``(now - w, now]`` is two binary searches instead of a scan of the horizon;
:func:`figures_for` is the plain reference that the sorted path is tested against.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, timedelta
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


def _figures(inside: Sequence[Entry], total: int, window: timedelta, expected_per_hour: float) -> Figures:
    best: dict[int, float] = {}
    for e in inside:
        p = best.get(e.cluster)
        if p is None or e.p > p:
            best[e.cluster] = e.p
    return Figures(
        window=window,
        posts=len(inside),
        weighted=math.fsum(best.values()),
        authors=len({e.author for e in inside}),
        stories=len(best),
        total=total,
        expected=expected_per_hour * window / _HOUR,
    )


def figures_for(entries: Sequence[Entry], totals: Iterable[datetime], window: timedelta, now: datetime,
                expected_per_hour: float) -> Figures:
    """Pure: the figures of one window ending at ``now`` (plain scan; the reference for :class:`SignalWindow`)."""
    return _figures(_in(entries, now - window, now), sum(1 for t in totals if now - window < t <= now), window,
                    expected_per_hour)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def _us(ts: datetime) -> int:
    """Exact integer microseconds since the epoch (integers compare much faster than aware datetimes)."""
    return (ts - _EPOCH) // _MICRO


class Times:
    """Event times kept sorted: ``add`` (in place if late), ``evict``, and counts in ``(start, end]``."""

    def __init__(self, times: Iterable[datetime] = ()) -> None:
        self._dt: list[datetime] = sorted(times)
        self._us: list[int] = [_us(t) for t in self._dt]

    def add(self, ts: datetime) -> int:
        """Insert ``ts`` after any equal times; returns its index."""
        us = _us(ts)
        if not self._us or us >= self._us[-1]:
            self._us.append(us)
            self._dt.append(ts)
            return len(self._us) - 1
        i = bisect_right(self._us, us)
        self._us.insert(i, us)
        self._dt.insert(i, ts)
        return i

    def evict(self, before: datetime) -> int:
        """Drop every time ``<= before``; returns how many."""
        us = _us(before)
        k = bisect_right(self._us, us) if self._us and self._us[0] <= us else 0
        if k:
            del self._us[:k]
            del self._dt[:k]
        return k

    def span(self, start: datetime, end: datetime) -> tuple[int, int]:
        """Index range of the times in ``(start, end]``."""
        return self.span_us(_us(start), _us(end))

    def span_us(self, start: int, end: int) -> tuple[int, int]:
        """:meth:`span` with the bounds in epoch microseconds."""
        return bisect_right(self._us, start), bisect_right(self._us, end)

    def count_us(self, start: int, end: int) -> int:
        lo, hi = self.span_us(start, end)
        return max(0, hi - lo)

    def after_us(self, us: int) -> int:
        """Index of the first time later than ``us`` (epoch microseconds)."""
        return bisect_right(self._us, us)

    def last_us(self) -> int | None:
        return self._us[-1] if self._us else None

    def __iter__(self) -> Iterator[datetime]:
        return iter(self._dt)

    def __len__(self) -> int:
        return len(self._us)


class Totals:
    """Every counted post on one platform: the times (the share's denominator, :attr:`times`) and the post ids, so
    a redelivered copy is known (:meth:`has`) whether or not it carried a signal, until the horizon evicts it."""

    def __init__(self, posts: Iterable[tuple[datetime, str]] = ()) -> None:
        ordered = sorted(posts, key=lambda p: p[0])  # stable, as Times.add puts a time after its equals
        self.times = Times(t for t, _ in ordered)
        self._ids = [i for _, i in ordered]
        self._held: Counter[str] = Counter(i for i in self._ids if i)

    def has(self, post_id: str) -> bool:
        return post_id in self._held

    def add(self, ts: datetime, post_id: str) -> None:
        self._ids.insert(self.times.add(ts), post_id)
        if post_id:
            self._held[post_id] += 1

    def evict(self, before: datetime) -> int:
        k = self.times.evict(before)
        for post_id in self._ids[:k]:
            if post_id:
                self._held[post_id] -= 1
                if not self._held[post_id]:
                    del self._held[post_id]
        del self._ids[:k]
        return k

    def state(self) -> dict[str, list[str]]:
        return {"times": [t.isoformat() for t in self.times], "ids": list(self._ids)}

    @classmethod
    def load(cls, state: Mapping[str, Any] | Sequence[str]) -> Totals:
        """From :meth:`state`, or from a snapshot before 2026-12-02 (times only: those posts' ids are unknown)."""
        if isinstance(state, Mapping):
            return cls(zip((datetime.fromisoformat(t) for t in state["times"]), state["ids"], strict=True))
        return cls((datetime.fromisoformat(t), "") for t in state)

    def __len__(self) -> int:
        return len(self._ids)


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


class _Sliding:
    """Running aggregates of the entries later than ``start`` (one window): distinct authors and each
    story's probabilities, updated as entries come in, leave the window or are evicted — no rescans."""

    def __init__(self, start: int, entries: Sequence[Entry], lo: int) -> None:
        self.start, self.lo = start, lo  # entries[lo:] are inside
        self.authors: Counter[str] = Counter()
        self.stories: dict[int, list[float]] = {}  # cluster -> its probabilities, sorted (max = last)
        for e in entries[lo:]:
            self.include(e)

    def include(self, e: Entry) -> None:
        self.authors[e.author] += 1
        ps = self.stories.get(e.cluster)
        if ps is None:
            self.stories[e.cluster] = [e.p]
        else:
            insort(ps, e.p)

    def exclude(self, e: Entry) -> None:
        left = self.authors[e.author] - 1
        if left:
            self.authors[e.author] = left
        else:
            del self.authors[e.author]
        ps = self.stories[e.cluster]
        del ps[bisect_left(ps, e.p)]
        if not ps:
            del self.stories[e.cluster]

    def figures(self, n: int, total: int, window: timedelta, expected_per_hour: float) -> Figures:
        return Figures(window=window, posts=n - self.lo, weighted=math.fsum(ps[-1] for ps in self.stories.values()),
                       authors=len(self.authors), stories=len(self.stories), total=total,
                       expected=expected_per_hour * window / _HOUR)


class SignalWindow:
    """Counted posts of one platform × signal within the longest window (sorted by time), plus the baseline."""

    def __init__(self, baseline: Baseline) -> None:
        self.entries: list[Entry] = []
        self._times = Times()
        self.ewma = Ewma(baseline)
        self._clusters: Counter[int] = Counter()  # cluster -> entries kept
        self._ids: Counter[str] = Counter()  # post id -> entries kept (a redelivered copy is not counted again)
        self._sliding: dict[timedelta, _Sliding] = {}  # per window, built on the first figures()

    @property
    def seen_clusters(self) -> set[int]:
        """Clusters of the kept entries: a repost of one of them adds nothing to the baseline."""
        return set(self._clusters)

    def has(self, post_id: str) -> bool:
        """Whether a post with this id is counted here (within the longest window)."""
        return post_id in self._ids

    def add(self, entry: Entry) -> None:
        i = self._times.add(entry.ts)
        self.entries.insert(i, entry)
        self.ewma.add(entry.ts, entry.p if entry.cluster not in self._clusters else 0.0)
        self._clusters[entry.cluster] += 1
        self._ids[entry.post_id] += 1
        if self._sliding:
            us = _us(entry.ts)
            for sl in self._sliding.values():
                if us > sl.start:
                    sl.include(entry)
                else:  # a late post before this window: it shifts the window's first index
                    sl.lo += 1

    def evict(self, before: datetime) -> None:
        k = self._times.evict(before)
        if k:
            for e in self.entries[:k]:
                left = self._clusters[e.cluster] - 1
                if left:
                    self._clusters[e.cluster] = left
                else:
                    del self._clusters[e.cluster]
                self._ids[e.post_id] -= 1
                if not self._ids[e.post_id]:
                    del self._ids[e.post_id]
            for sl in self._sliding.values():
                for e in self.entries[sl.lo:k]:  # evicted while inside a window (not in normal use)
                    sl.exclude(e)
                sl.lo = max(0, sl.lo - k)
            del self.entries[:k]

    def inside(self, start: datetime, end: datetime) -> list[Entry]:
        """The entries with ``start < ts <= end``, in time order."""
        lo, hi = self._times.span(start, end)
        return self.entries[lo:hi]

    def figures(self, windows: Sequence[timedelta], totals: Times, now: datetime) -> dict[timedelta, Figures]:
        """The figures of each window ending at ``now``.

        Usual case (``now`` is the watermark: no entry is later, and it never goes back): each window's
        running aggregates slide forward, dropping the entries that left it. Otherwise the window's
        entries are sliced out and counted afresh."""
        rate = self.ewma.expected(now)
        end = _us(now)
        last = self._times.last_us()
        out = {}
        for w in windows:
            start = end - w // _MICRO
            total = totals.count_us(start, end)
            if last is not None and last > end:
                lo, hi = self._times.span_us(start, end)
                out[w] = _figures(self.entries[lo:hi], total, w, rate)
                continue
            sl = self._sliding.get(w)
            if sl is None or start < sl.start:
                sl = self._sliding[w] = _Sliding(start, self.entries, self._times.after_us(start))
            elif start > sl.start:
                lo = self._times.after_us(start)
                for e in self.entries[sl.lo:lo]:
                    sl.exclude(e)
                sl.start, sl.lo = start, lo
            out[w] = sl.figures(len(self.entries), total, w, rate)
        return out

    def state(self) -> dict[str, Any]:
        rows = [[e.ts.isoformat(), *astuple(e)[1:]] for e in self.entries]
        return {"entries": rows, "ewma": self.ewma.state(), "seen": sorted(self._clusters)}

    def load(self, state: Mapping[str, Any]) -> None:
        entries = sorted((Entry(datetime.fromisoformat(r[0]), *r[1:]) for r in state["entries"]), key=lambda e: e.ts)
        self.entries = entries
        self._times = Times(e.ts for e in entries)
        self.ewma.load(state["ewma"])
        self._clusters = Counter(e.cluster for e in entries)
        self._ids = Counter(e.post_id for e in entries)
        self._sliding = {}
