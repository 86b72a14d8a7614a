"""What the HTTP API and the CLI share: search parameters, cursors, role filters, export rows, auditing."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from yujing.clock import SystemClock
from yujing.errors import InputError
from yujing.records import Alert, Level, ScoredPost
from yujing.search.access import AccessStore, Principal
from yujing.search.filters import AlertQuery, check, parse_time, signal_of
from yujing.search.incident import Incident, SearchBackend, incident
from yujing.search.store import SearchQuery, SearchResult

EXPORT_PAGE = 500


@dataclass(frozen=True, slots=True)
class SearchParams:
    """A search as the API and CLI accept it (strings; validated by ``to_query``)."""

    q: str = ""
    platform: list[str] = field(default_factory=list)
    signal: str = ""
    min_score: float = 0.5
    source: list[str] = field(default_factory=list)
    district: list[str] = field(default_factory=list)
    level: str = ""  # warnings only
    since: str = ""
    until: str = ""
    sort: str = "newest"
    size: int = 20
    facets: bool = False
    histogram: str = ""
    cursor: str = ""

    def to_query(self) -> SearchQuery:
        return SearchQuery(
            text=self.q, platforms=tuple(self.platform), signal=signal_of(self.signal) if self.signal else None,
            min_score=self.min_score, sources=tuple(self.source), districts=tuple(self.district),
            since=parse_time(self.since) if self.since else None,
            until=parse_time(self.until) if self.until else None,
            sort=self.sort, size=self.size, facets=self.facets, histogram=self.histogram,
            search_after=decode_cursor(self.cursor) if self.cursor else None)

    def to_dict(self) -> dict[str, Any]:
        """The parameters as audited: empty ones left out, but a 0 kept (min_score=0 asks for every post)."""
        return {k: v for k, v in asdict(self).items() if v is not False and v != "" and v != []}


def encode_cursor(sort: tuple[Any, ...]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(sort), ensure_ascii=False).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, ...]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        raise InputError("bad_cursor", f"cursor {cursor[:20]!r} is not one this API returned; "
                                       "pass next_cursor from the previous page unchanged") from None
    if not isinstance(values, list):
        raise InputError("bad_cursor", "cursor is not a list of sort values; pass next_cursor unchanged")
    return tuple(values)


def next_cursor(result: SearchResult, size: int) -> str:
    return encode_cursor(result.hits[-1].sort) if size and len(result.hits) == size and result.hits else ""


def run_search(store: SearchBackend, access: AccessStore, who: Principal, params: SearchParams,
               action: str = "search", now: datetime | None = None, saved: int | None = None) -> SearchResult:
    audited = params.to_dict() if saved is None else {**params.to_dict(), "saved": saved}
    try:
        result = store.search(params.to_query())
    except InputError:  # a refused query is on record too (results -1), then the caller shows the error
        access.audit(who, action, audited, -1, now or SystemClock().now())
        raise
    access.audit(who, action, audited, result.total, now or SystemClock().now())
    return result


def visible_alert(who: Principal, alert: Alert) -> bool:
    return who.role != "duty" or who.agency in {a.value for a in alert.agencies}


def alert_query(who: Principal, params: SearchParams) -> AlertQuery:
    try:
        level = Level(params.level) if params.level else None
    except ValueError:
        raise InputError("bad_level", f"level {params.level!r}; use one of "
                                      f"{', '.join(lv.value for lv in Level)}") from None
    return AlertQuery(text=params.q, platforms=tuple(params.platform),
                      signal=signal_of(params.signal) if params.signal else None, min_level=level,
                      districts=tuple(params.district), agencies=(who.scope,) if who.scope else (),
                      since=parse_time(params.since) if params.since else None,
                      until=parse_time(params.until) if params.until else None, size=params.size or 50)


def run_alert_search(store: SearchBackend, access: AccessStore, who: Principal, params: SearchParams,
                     now: datetime | None = None, saved: int | None = None) -> list[Alert]:
    """Warnings matching ``params``; a duty officer's are always cut to its agency (from the token,
    never from the parameters, so a saved search cannot widen it)."""
    alerts = [a for a in store.search_alerts(alert_query(who, params)) if visible_alert(who, a)]
    audited = params.to_dict() if saved is None else {**params.to_dict(), "saved": saved}
    access.audit(who, "search-alerts", audited, len(alerts), now or SystemClock().now())
    return alerts


def run_incident(store: SearchBackend, access: AccessStore, who: Principal, key: str,
                 now: datetime | None = None) -> Incident | None:
    found = incident(store, key)
    if found is not None and not visible_alert(who, found.alert):
        found = None  # a duty officer is not told that another agency's warning exists
    access.audit(who, "incident", {"key": key}, 0 if found is None else len(found.posts), now or SystemClock().now())
    return found


# ---- export ------------------------------------------------------------------------------------
CSV_FIELDS = ("id", "ts", "source", "author", "platforms", "labels", "rumour", "panic", "gathering", "url", "text")


def export_row(sp: ScoredPost) -> dict[str, Any]:
    """A flat row; ``author`` is the stored pseudonym (raw authors are never stored)."""
    return {"id": sp.id, "ts": sp.ts.isoformat(), "source": sp.post.source.value, "author": sp.post.author,
            "platforms": "|".join(sp.platforms), "labels": "|".join(s.value for s in sp.labels),
            "rumour": sp.scores.rumour, "panic": sp.scores.panic, "gathering": sp.scores.gathering,
            "url": sp.post.url, "text": sp.post.text}


def iter_all(store: SearchBackend, params: SearchParams) -> Iterator[ScoredPost]:
    """Every hit, page by page with search_after (facets/histogram off)."""
    query = replace(params, size=EXPORT_PAGE, facets=False, histogram="", cursor="").to_query()
    while True:
        result = store.search(query)
        for hit in result.hits:
            yield hit.post
        if len(result.hits) < query.size:
            return
        query = replace(query, search_after=result.hits[-1].sort)


def export_lines(store: SearchBackend, access: AccessStore, who: Principal, params: SearchParams, fmt: str,
                 now: datetime | None = None) -> Iterator[str]:
    """CSV or JSON Lines, streamed. Audited twice: ``export-<fmt>-start`` before the first row (results -1), so
    an export the client breaks off is on record too, and ``export-<fmt>`` with the rows sent when it ends,
    completed or not. The query is checked before anything is sent."""
    if fmt not in ("csv", "jsonl"):
        raise InputError("bad_format", f"export format {fmt!r}; use csv or jsonl")
    check(params.to_query())  # here, not in the generator: a bad query must fail before a 200 goes out
    started = now or SystemClock().now()
    audited = {k: v for k, v in params.to_dict().items() if k not in ("size", "cursor")}  # an export takes all
    access.audit(who, f"export-{fmt}-start", audited, -1, started)
    return _export(store, access, who, params, fmt, audited, started)


def _export(store: SearchBackend, access: AccessStore, who: Principal, params: SearchParams, fmt: str,
            audited: dict[str, Any], started: datetime) -> Iterator[str]:
    count = 0
    try:
        if fmt == "csv":
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
            writer.writeheader()
            yield buf.getvalue()
        for sp in iter_all(store, params):
            count += 1  # counted as it is handed out: a client that stops reading got it
            if fmt == "csv":
                buf = io.StringIO()
                csv.DictWriter(buf, fieldnames=CSV_FIELDS).writerow(export_row(sp))
                yield buf.getvalue()
            else:
                yield json.dumps(export_row(sp), ensure_ascii=False) + "\n"
    finally:
        access.audit(who, f"export-{fmt}", audited, count, started)
