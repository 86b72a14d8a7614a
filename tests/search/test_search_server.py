"""The same query suite as the embedded store, on a real OpenSearch-compatible server, through both
adapters (opensearch-py, and the official elasticsearch client)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.search.search_corpus import SUITE, alerts, posts
from yujing.search.open import open_store
from yujing.search.server_store import ServerStore
from yujing.search.store import SearchQuery

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store(server_url: str) -> Iterator[ServerStore]:
    s = open_store(server_url)
    assert isinstance(s, ServerStore)
    s.index_posts(posts())
    s.index_alerts(alerts())
    s.refresh()
    yield s
    s.close()


@pytest.mark.parametrize(("name", "query", "expected"), SUITE, ids=[s[0] for s in SUITE])
def test_query_suite(store: ServerStore, name: str, query: SearchQuery, expected: list[str]) -> None:
    result = store.search(query)
    assert [h.post.id for h in result.hits] == expected
    assert result.total == len(expected)


def test_replay_is_idempotent(store: ServerStore) -> None:
    store.index_posts(posts())
    store.index_alerts(alerts())
    store.refresh()
    assert store.count_posts() == len(posts())


def test_hits_round_trip_the_posts(store: ServerStore) -> None:
    by_id = {p.id: p for p in posts()}
    for hit in store.search(SearchQuery(size=50)).hits:
        assert hit.post == by_id[hit.post.id]
