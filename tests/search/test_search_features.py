"""Facets, histogram, highlights, deep pagination, warnings and the incident view: the same
answers from the embedded store and from the server through both adapters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.search.search_corpus import T0, alerts, posts
from tests.search.search_servers import cloned
from yujing.errors import InputError
from yujing.records import Level, Signal
from yujing.search.filters import AlertQuery
from yujing.search.incident import SearchBackend, incident
from yujing.search.open import open_store
from yujing.search.server_store import ServerStore
from yujing.search.sqlite_store import SqliteStore
from yujing.search.store import SearchQuery


@pytest.fixture(scope="module", params=["sqlite", "sqlite-columns", "opensearch", "elasticsearch"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchBackend]:
    with ExitStack() as stack:
        if request.param.startswith("sqlite"):
            s: SearchBackend = SqliteStore(tmp_path_factory.mktemp("store") / "store.db",
                                           columns_from=0 if request.param == "sqlite-columns" else 10**9)
        else:
            request.applymarker(pytest.mark.integration)
            url = stack.enter_context(cloned(request.getfixturevalue("osmem_server"), request.param))
            s = open_store(url)  # type: ignore[assignment]
        s.index_posts(posts())
        s.index_alerts(alerts())
        if isinstance(s, ServerStore):
            s.refresh()
        yield s
        s.close()


def test_facets(store: SearchBackend) -> None:
    facets = store.search(SearchQuery(text="提现 OR 兑付", facets=True, size=0)).facets
    assert facets["platform"] == {"汇金宝": 4, "鑫盛贷": 3, "安信通": 1}
    assert facets["signal"] == {"panic": 5, "rumour": 1}
    assert facets["source"] == {"weibo": 4, "complaint": 1, "forum": 1, "news": 1}


def test_histogram(store: SearchBackend) -> None:
    result = store.search(SearchQuery(platforms=("鑫盛贷",), histogram="1h", size=0))
    assert result.histogram == (
        (datetime(2026, 11, 20, 8, tzinfo=UTC), 4),
        (datetime(2026, 11, 20, 9, tzinfo=UTC), 1),
        (datetime(2026, 11, 21, 9, tzinfo=UTC), 1),
    )
    assert result.hits == () and result.total == 6


def test_highlight(store: SearchBackend) -> None:
    hits = store.search(SearchQuery(text='"无法提现" OR huijinbao')).hits
    assert [h.highlight for h in hits] == [
        "<em>Huijinbao</em> 提现 failed again，汇金宝 APP 打不开",
        "鑫盛贷和汇金宝都<em>无法提现</em>，是不是要暴雷",
        "鑫盛贷<em>无法提现</em>了，大家快去报警！",
    ]


@pytest.mark.parametrize("sort", ["newest", "oldest", "score"])
def test_search_after_pages_through_everything_once(store: SearchBackend, sort: str) -> None:
    signal = Signal.PANIC if sort == "score" else None
    full = store.search(SearchQuery(size=100, sort=sort, signal=signal, min_score=0.0))
    seen: list[str] = []
    after = None
    while True:
        page = store.search(SearchQuery(size=5, sort=sort, signal=signal, min_score=0.0, search_after=after))
        if not page.hits:
            break
        assert page.total == full.total
        seen.extend(h.post.id for h in page.hits)
        after = page.hits[-1].sort
    assert seen == [h.post.id for h in full.hits]
    assert len(seen) == len(posts())


def test_sort_values_are_the_same_everywhere(store: SearchBackend) -> None:
    hit = store.search(SearchQuery(signal=Signal.PANIC, sort="score", size=1)).hits[0]
    assert hit.sort == (0.9, int(T0.timestamp() * 1000), "p01")


def test_bad_queries_raise_input_errors(store: SearchBackend) -> None:
    with pytest.raises(InputError):
        store.search(SearchQuery(text="提现 OR NOT 辟谣"))
    with pytest.raises(InputError):
        store.search(SearchQuery(sort="score"))
    with pytest.raises(InputError):
        store.search(SearchQuery(histogram="weekly"))


def test_alert_search(store: SearchBackend) -> None:
    assert [a.key for a in store.search_alerts(AlertQuery())] == ["a2", "a1", "a3"]
    assert [a.key for a in store.search_alerts(AlertQuery(min_level=Level.ORANGE))] == ["a2", "a1"]
    assert [a.key for a in store.search_alerts(AlertQuery(platforms=("汇金宝",), signal=Signal.PANIC))] == ["a3"]
    assert [a.key for a in store.search_alerts(AlertQuery(districts=("城东区",)))] == ["a1"]
    assert [a.key for a in store.search_alerts(AlertQuery(agencies=("police",)))] == ["a2"]
    assert [a.key for a in store.search_alerts(AlertQuery(text="信访局 维权"))] == ["a2"]
    assert [a.key for a in store.search_alerts(AlertQuery(since=T0, until=T0.replace(hour=9)))] == ["a3"]
    assert store.get_alert("a1") == alerts()[0]
    assert store.get_alert("nope") is None


def test_time_bounds_are_instants_in_any_offset(store: SearchBackend) -> None:
    """``until=now`` must mean the same instant whether written in UTC, +08:00 or wall-clock now."""
    cst = timezone(timedelta(hours=8))
    since, until = T0, T0.replace(hour=9)
    assert [a.key for a in store.search_alerts(AlertQuery(since=since.astimezone(cst),
                                                          until=until.astimezone(cst)))] == ["a3"]
    utc = store.search(SearchQuery(since=since, until=until, size=100))
    local = store.search(SearchQuery(since=since.astimezone(cst), until=until.astimezone(cst), size=100))
    assert utc.total == local.total > 0 and [h.post.id for h in utc.hits] == [h.post.id for h in local.hits]
    now = datetime.now(UTC)  # wall-clock now is after every event here: nothing is cut off
    assert len(store.search_alerts(AlertQuery(until=now))) == len(alerts())
    assert store.search(SearchQuery(until=now, size=0)).total == len(posts())


def test_naive_or_inverted_time_bounds_are_refused_for_posts_and_warnings(store: SearchBackend) -> None:
    """A naive bound would be read in the host's zone (8 h off on a UTC host for a +08:00 duty room)."""
    naive = T0.replace(tzinfo=None)
    for bounds in ({"since": naive}, {"until": naive}):
        with pytest.raises(InputError, match="no UTC offset"):
            store.search(SearchQuery(**bounds))
        with pytest.raises(InputError, match="no UTC offset"):
            store.search_alerts(AlertQuery(**bounds))
    later = T0 + timedelta(hours=1)
    with pytest.raises(InputError, match=r"since .* is after until"):
        store.search(SearchQuery(since=later, until=T0))
    with pytest.raises(InputError, match=r"since .* is after until"):
        store.search_alerts(AlertQuery(since=later, until=T0))


def test_incident_view(store: SearchBackend) -> None:
    view = incident(store, "a1")
    assert view is not None and view.basis == "explanation"
    assert [p.id for p in view.posts] == ["p01", "p02", "p08"]
    assert incident(store, "missing") is None


def test_incident_view_without_listed_posts_uses_the_window(tmp_path: Path) -> None:
    import dataclasses

    s = SqliteStore(tmp_path / "w.db")
    s.index_posts(posts())
    s.index_alerts([dataclasses.replace(alerts()[0], explanation={"window": "2h"})])
    view = incident(s, "a1")
    assert view is not None and view.basis == "window"
    assert [p.id for p in view.posts] == ["p08", "p02", "p01"]


def test_supporting_ids_from_the_alerting_explanation() -> None:
    import dataclasses

    from yujing.search.docs import supporting_post_ids

    alert = dataclasses.replace(alerts()[0], explanation={
        "rule": {"window": "30m"},
        "top_posts": [{"post_id": "p2", "post_ids": ["p2", "p1"]}, {"post_id": "p8", "post_ids": ["p8"]}]})
    assert supporting_post_ids(alert) == ["p2", "p1", "p8"]
