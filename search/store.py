"""The store contract shared by the embedded store (SQLite FTS5) and Elasticsearch/OpenSearch.

Document fields (the index mapping and the dashboards use these names):

posts:  id, ts, text, source, author (pseudonym), url, platforms[], districts[], kinds[],
        scores.rumour, scores.panic, scores.gathering, labels[], model
alerts: key, ts, platform, district, kind, signal, level, status, agencies[], posts, rule,
        explanation (object)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from yujing.records import Alert, ScoredPost, Signal


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What an analyst asks. Pure data; each store translates it."""

    text: str = ""
    platforms: tuple[str, ...] = ()
    signal: Signal | None = None
    min_score: float = 0.5
    sources: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    size: int = 20
    search_after: tuple[Any, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    districts: tuple[str, ...] = ()
    sort: str = "newest"  # newest | oldest | score (by ``signal``'s score)
    facets: bool = False  # counts by platform, signal (labels) and source
    histogram: str = ""  # time-histogram interval: "1h", "1d", "15m"; empty for none


@dataclass(frozen=True, slots=True)
class Hit:
    post: ScoredPost
    highlight: str = ""
    sort: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchResult:
    total: int
    hits: tuple[Hit, ...]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    histogram: tuple[tuple[datetime, int], ...] = ()


class Store(Protocol):
    def index_posts(self, posts: Sequence[ScoredPost]) -> None:
        """Write posts; idempotent by post id (a re-delivered post replaces itself)."""
        ...

    def index_alerts(self, alerts: Sequence[Alert]) -> None:
        """Write warnings; idempotent by alert key."""
        ...

    def search(self, query: SearchQuery) -> SearchResult: ...

    def count_posts(self) -> int: ...

    def close(self) -> None: ...
