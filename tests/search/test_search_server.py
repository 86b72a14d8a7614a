"""The same query suite as the embedded store, on a real OpenSearch-compatible server, through both
adapters (opensearch-py, and the official elasticsearch client)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import pytest
from osmem_server import OsmemServer

from tests.search.search_corpus import SUITE, alerts, posts
from tests.search.search_servers import cloned
from yujing.dashboards.fields import SIGNALS_DS_UID
from yujing.dashboards.generate import GENERATED_DIR
from yujing.dashboards.validate import iter_panels
from yujing.records import SIGNALS
from yujing.registry import Platform, Registry
from yujing.search.mapping import POSTS_ALIAS, SIGNAL_FIELDS, SIGNALS_ALIAS
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


def test_grafana_reads_counts_but_no_post_text(osmem_server: OsmemServer) -> None:
    """Grafana's post data source is the signals index: every post panel of the situation board counts the same
    there as on the posts index, and no document in it holds a text, an author or a link."""
    registry = Registry((Platform("鑫盛贷", ("鑫盛",), "p2p", "城东区", "troubled"),
                         Platform("汇金宝", (), "p2p", "城西区", "operating")))
    board = json.loads((GENERATED_DIR / "situation.json").read_text(encoding="utf-8"))
    queries = [t["query"] for p in iter_panels(board) for t in p.get("targets", ())
               if (t.get("datasource") or p.get("datasource") or {}).get("uid") == SIGNALS_DS_UID]
    assert len(queries) >= 4
    with cloned(osmem_server, "opensearch") as url:
        s = open_store(url, registry)
        assert isinstance(s, ServerStore)
        try:
            s.index_posts(posts())
            s.refresh()
            hits = s.transport.call("POST", f"/{SIGNALS_ALIAS}/_search", {"size": 100})["hits"]["hits"]
            assert len(hits) == len(posts())
            kept = {k for h in hits for k in h["_source"]}
            assert kept <= set(SIGNAL_FIELDS) | {"scores"} and not {"text", "text_seg", "author", "url", "extra"} & kept
            counted = []
            for template, signal, district in itertools.product(queries, SIGNALS, ("城东区", "*")):
                q = template.replace("${signal}", signal.value).replace("$signal", signal.value)
                q = q.replace("$platform", "*").replace("$district", district)
                body = {"query": {"query_string": {"query": q}}}
                n = [s.transport.call("POST", f"/{alias}/_count", body)["count"]
                     for alias in (POSTS_ALIAS, SIGNALS_ALIAS)]
                assert n[0] == n[1], q
                counted.append(n[0])
            assert max(counted) > 0 and min(counted) < max(counted)  # the queries select, and select alike
        finally:
            s.close()
