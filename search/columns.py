"""In-memory columns of the embedded store's posts: counts, facets, histograms and top-k pages over
large match sets in numpy instead of a per-row SQL join.

``SqliteStore`` keeps one ``Columns`` per open store, refreshed from the rows written since the last
refresh (``posts.wseq``) and the rids that moved away (``posts_gone``). Rows are kept in rid order,
which is time order (rid = ``ts_ms << TIE_BITS | n``). Pure numpy: no I/O here; ids for exact
``(…, id)`` tie-breaks are asked of the caller (``ids_of``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from yujing.search.mapping import FACET_SIZE

TIE_BITS = 20
SEP = "\x1f"
LABEL_BITS = {"rumour": 1, "panic": 2, "gathering": 4}
SCORES = ("rumour", "panic", "gathering")

Ints = npt.NDArray[np.int64]

# a changed row as read from posts: rid, source, labels, plats, dists, rumour, panic, gathering
Row = tuple[int, str, int, str, str, float, float, float]


class _Codes:
    """Small dictionaries: a string value <-> an int code (sources, platform sets, district sets)."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._code: dict[str, int] = {}

    def code(self, value: str) -> int:
        c = self._code.get(value)
        if c is None:
            c = self._code[value] = len(self.values)
            self.values.append(value)
        return c

    def codes_of(self, values: Sequence[str]) -> npt.NDArray[np.int32]:
        """The codes of ``values`` (new values get new codes)."""
        known = self._code
        return np.array([known[v] if v in known else self.code(v) for v in values], dtype=np.int32)

    def table(self, wanted: Sequence[str], joined: bool) -> npt.NDArray[np.bool_]:
        """code -> whether its value is one of ``wanted`` (``joined``: a SEP-joined set sharing one)."""
        want = set(wanted)
        return np.array([bool(want & set(v.split(SEP))) if joined else v in want for v in self.values] or [False],
                        dtype=bool)


@dataclass(frozen=True, slots=True)
class Filters:
    """The non-text part of a search, as the columns apply it."""

    lo_rid: int | None = None
    hi_rid: int | None = None
    platforms: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    signal: str | None = None
    min_score: float = 0.5
    sources: tuple[str, ...] = ()


class Columns:
    def __init__(self) -> None:
        self.seq = 0  # the last write sequence merged in
        self.rid: Ints = np.empty(0, np.int64)
        self.cols: dict[str, npt.NDArray[Any]] = {
            "source": np.empty(0, np.int32), "labels": np.empty(0, np.int64), "plats": np.empty(0, np.int32),
            "dists": np.empty(0, np.int32), **{s: np.empty(0, np.float64) for s in SCORES}}
        self.codes = {"source": _Codes(), "plats": _Codes(), "dists": _Codes()}

    def __len__(self) -> int:
        return len(self.rid)

    def apply(self, rows: Sequence[Row], gone: Sequence[int], ordered: bool = False) -> None:
        """Merge rows written since the last refresh and drop rids that no longer exist
        (``ordered``: ``rows`` come in rid order already)."""
        if not rows and not gone:
            return
        if not ordered:
            rows = sorted(rows, key=lambda r: r[0])
        rid, source, labels, plats, dists, rumour, panic, gathering = (
            zip(*rows, strict=True) if rows else ((),) * 8)
        new_rid = np.array(rid, dtype=np.int64)
        new: dict[str, npt.NDArray[Any]] = {
            "source": self.codes["source"].codes_of(source), "labels": np.array(labels, dtype=np.int64),
            "plats": self.codes["plats"].codes_of(plats), "dists": self.codes["dists"].codes_of(dists),
            "rumour": np.array(rumour, dtype=np.float64), "panic": np.array(panic, dtype=np.float64),
            "gathering": np.array(gathering, dtype=np.float64)}
        if not len(self.rid) and not gone:  # the first load
            self.rid, self.cols = new_rid, new
            return
        drop = np.concatenate([np.array(gone, dtype=np.int64), new_rid])
        keep = ~np.isin(self.rid, drop)
        kept_rid = self.rid[keep]
        at = np.searchsorted(kept_rid, new_rid)
        self.rid = np.insert(kept_rid, at, new_rid)
        for name, col in self.cols.items():
            self.cols[name] = np.insert(col[keep], at, new[name].astype(col.dtype))

    # ---- matching ------------------------------------------------------------------------------

    def positions(self, f: Filters, rids: Ints | None = None, exclude: Ints | None = None) -> Ints:
        """Row positions (ascending, i.e. time order) matching ``f`` and, when given, among ``rids``
        (a text query's matches) and not among ``exclude`` (a negative text query's)."""
        n = len(self.rid)
        lo = 0 if f.lo_rid is None else int(np.searchsorted(self.rid, f.lo_rid, "left"))
        hi = n if f.hi_rid is None else int(np.searchsorted(self.rid, f.hi_rid, "left"))
        if rids is not None:
            r = rids if len(rids) < 2 or bool((rids[1:] > rids[:-1]).all()) else np.unique(rids)
            if f.lo_rid is not None:
                r = r[r >= f.lo_rid]
            if f.hi_rid is not None:
                r = r[r < f.hi_rid]
            pos: Ints = np.searchsorted(self.rid[lo:hi], r) + lo
            inside = pos < hi
            pos, r = pos[inside], r[inside]
            pos = pos[self.rid[pos] == r]
            if exclude is not None and len(exclude):
                pos = pos[~np.isin(self.rid[pos], exclude)]
            for name, values in (("plats", f.platforms), ("dists", f.districts), ("source", f.sources)):
                if values:
                    pos = pos[self.codes[name].table(values, name != "source")[self.cols[name][pos]]]
            if f.signal is not None:
                pos = pos[self.cols[f.signal][pos] >= f.min_score]
            return pos
        # no text: one boolean mask over the time slice (views, no gathers)
        mask: npt.NDArray[np.bool_] | None = None

        def both(m: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
            return m if mask is None else mask & m

        if exclude is not None and len(exclude):
            mask = both(~np.isin(self.rid[lo:hi], exclude))
        for name, values in (("plats", f.platforms), ("dists", f.districts), ("source", f.sources)):
            if values:
                mask = both(self.codes[name].table(values, name != "source")[self.cols[name][lo:hi]])
        if f.signal is not None:
            mask = both(self.cols[f.signal][lo:hi] >= f.min_score)
        if mask is None:
            return np.arange(lo, hi, dtype=np.int64)
        out: Ints = np.flatnonzero(mask).astype(np.int64) + lo
        return out

    # ---- aggregations --------------------------------------------------------------------------

    def facets(self, pos: Ints) -> dict[str, dict[str, int]]:
        def counts(name: str) -> dict[str, int]:
            out: dict[str, int] = {}
            for code, n in enumerate(np.bincount(self.cols[name][pos], minlength=len(self.codes[name].values))):
                for value in self.codes[name].values[code].split(SEP) if name != "source" else [
                        self.codes[name].values[code]]:
                    if value and n:
                        out[value] = out.get(value, 0) + int(n)
            return out

        labels = self.cols["labels"][pos]
        signal = {name: int(np.count_nonzero(labels & bit)) for name, bit in LABEL_BITS.items()}
        return {"platform": ordered_counts(counts("plats")),
                "signal": ordered_counts({k: v for k, v in signal.items() if v}),
                "source": ordered_counts(counts("source"))}

    def histogram(self, pos: Ints, step_ms: int) -> list[tuple[int, int]]:
        ts = self.rid[pos] >> TIE_BITS
        buckets, n = np.unique(ts - ts % step_ms, return_counts=True)
        return [(int(b), int(c)) for b, c in zip(buckets, n, strict=True)]

    # ---- pages ---------------------------------------------------------------------------------

    def page(self, pos: Ints, size: int, score: str | None, desc: bool, after: Sequence[Any] | None,
             ids_of: Callable[[Sequence[int]], dict[int, str]]) -> list[tuple[int, int, str]]:
        """The next ``size`` (rid, ts, id) in order (score desc when ``score``), ts, id; after ``after``."""
        rid = self.rid[pos]
        keys: list[npt.NDArray[Any]] = [rid >> TIE_BITS]
        if score is not None:
            keys.insert(0, self.cols[score][pos])
        tied: list[int] = []
        if after is not None:
            *a_keys, a_id = after
            past = np.zeros(len(rid), dtype=bool)
            equal = np.ones(len(rid), dtype=bool)
            for k, a in zip(keys, a_keys, strict=True):
                past |= equal & ((k < a) if desc else (k > a))
                equal &= k == a
            ids = ids_of([int(r) for r in rid[equal]])
            tied = [r for r, i in ids.items() if (i < a_id if desc else i > a_id)]
            rid, keys = rid[past], [k[past] for k in keys]
        if len(rid) > size:
            if score is None:  # rows are in time order already
                edge = keys[0][-size] if desc else keys[0][size - 1]
                take = (keys[0] >= edge) if desc else (keys[0] <= edge)
            else:
                edge = np.partition(keys[0], len(rid) - size)[len(rid) - size]
                take = keys[0] >= edge  # every row that can be in the top, ties included
                if np.count_nonzero(take) > 2 * size:  # many tied scores: cut by (score, ts) too
                    sub = np.flatnonzero(take)
                    nth = sub[np.lexsort((keys[1][sub], keys[0][sub]))[-size]]  # ascending by score, ts
                    s_edge, t_edge = keys[0][nth], keys[1][nth]
                    take = (keys[0] > s_edge) | ((keys[0] == s_edge) & (keys[1] >= t_edge))
            rid, keys = rid[take], [k[take] for k in keys]
        ids = ids_of([*(int(r) for r in rid), *tied])
        rows = [(int(r), *(k[i].item() for k in keys), ids[int(r)]) for i, r in enumerate(rid)]
        if tied:
            rows += [(r, *self._keys_of(r, score), ids[r]) for r in tied]
        rows.sort(key=lambda row: row[1:], reverse=desc)
        return [(row[0], int(row[-2]), str(row[-1])) for row in rows[:size]]

    def _keys_of(self, rid: int, score: str | None) -> tuple[Any, ...]:
        at = int(np.searchsorted(self.rid, rid))
        ts = rid >> TIE_BITS
        return (self.cols[score][at].item(), ts) if score is not None else (ts,)


def ordered_counts(counts: dict[str, int]) -> dict[str, int]:
    """Facet buckets in their reported order: most posts first, ties by key, the first ``FACET_SIZE`` (the same
    on every backend)."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_SIZE])
