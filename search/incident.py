"""The incident view: a warning with the posts it was based on. Works on any ``SearchBackend``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from yujing.errors import InputError
from yujing.records import Alert, ScoredPost
from yujing.search.docs import supporting_post_ids
from yujing.search.filters import AlertQuery, interval_ms
from yujing.search.store import SearchQuery, Store


class SearchBackend(Store, Protocol):
    """A store with the analysts' extras (both SqliteStore and ServerStore implement it)."""

    def get_posts(self, ids: Sequence[str]) -> list[ScoredPost]: ...

    def get_alert(self, key: str) -> Alert | None: ...

    def search_alerts(self, query: AlertQuery) -> list[Alert]: ...


@dataclass(frozen=True, slots=True)
class Incident:
    alert: Alert
    posts: tuple[ScoredPost, ...]
    basis: str  # "explanation": the ids the warning lists; "window": posts found in its window

    def to_dict(self) -> dict[str, Any]:
        return {"alert": self.alert.to_dict(), "basis": self.basis,
                "posts": [sp.to_dict() for sp in self.posts]}


def _window(alert: Alert) -> timedelta:
    rule = alert.explanation.get("rule")
    value = rule.get("window") if isinstance(rule, dict) else alert.explanation.get("window")
    if isinstance(value, str):
        try:
            return timedelta(milliseconds=interval_ms(value))
        except InputError:
            pass
    return timedelta(hours=1)


def window_query(alert: Alert, size: int = 200) -> SearchQuery:
    """Posts about the platform with the signal in the window that ended at the warning."""
    return SearchQuery(platforms=(alert.platform,), signal=alert.signal, min_score=0.5,
                       since=alert.ts - _window(alert), until=alert.ts + timedelta(milliseconds=1), size=size)


def incident(store: SearchBackend, key: str) -> Incident | None:
    alert = store.get_alert(key)
    if alert is None:
        return None
    ids = supporting_post_ids(alert)
    if ids:
        return Incident(alert, tuple(store.get_posts(ids)), "explanation")
    return Incident(alert, tuple(h.post for h in store.search(window_query(alert)).hits), "window")
