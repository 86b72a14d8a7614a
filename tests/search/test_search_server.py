"""The same query suite as the embedded store, on a real OpenSearch-compatible server, through both
adapters (opensearch-py, and the official elasticsearch client)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from osmem_server import OsmemServer

from tests.search.search_corpus import SUITE, alerts, posts
from tests.search.search_servers import FLAVOURS, cloned
from yujing.dashboards.fields import SIGNALS_DS_UID
from yujing.dashboards.generate import GENERATED_DIR
from yujing.dashboards.validate import iter_panels
from yujing.errors import StoreError
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


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_backfill_fills_the_signals_index_of_a_deployment_that_predates_it(
    osmem_server: OsmemServer, capsys: pytest.CaptureFixture[str], flavour: str
) -> None:
    """A cluster whose posts were indexed before the signals index existed (simulated by deleting the signals
    indices): `yujing grafana backfill` copies every post, paged, into the right month's signals index, with the
    post's id and without its text; a re-run and a resumed run (--since) add no duplicate."""
    import dataclasses
    from datetime import timedelta

    from yujing.cli import main

    later = posts()[-1]
    december = dataclasses.replace(later, post=dataclasses.replace(later.post, id="p13",
                                                                   ts=later.post.ts + timedelta(days=12)))
    corpus = [*posts(), december]
    with cloned(osmem_server, flavour) as url:
        s = open_store(url)
        assert isinstance(s, ServerStore)
        try:
            s.index_posts(corpus)
            s.refresh()
            indices = s.transport.call("GET", f"/{SIGNALS_ALIAS}/_alias")
            assert sorted(indices) == ["yujing-signals-2026.11", "yujing-signals-2026.12"]
            for name in indices:
                s.transport.call("DELETE", f"/{name}")
            with pytest.raises(StoreError, match="index_not_found"):
                s.transport.call("GET", f"/{SIGNALS_ALIAS}/_count")

            def signals() -> dict[str, dict[str, object]]:
                s.refresh()
                found = s.transport.call("POST", f"/{SIGNALS_ALIAS}/_search", {"size": 100})["hits"]["hits"]
                return {h["_id"]: {"index": h["_index"], **h["_source"]} for h in found}

            assert main(["grafana", "backfill", "--store", url, "--page", "5", "--json"]) == 0
            out, err = capsys.readouterr()
            assert json.loads(out)["written"] == len(corpus)
            assert f"backfill: 13 of 13 posts (100 %), up to {december.post.ts.isoformat()}" in err
            copied = signals()
            assert sorted(copied) == sorted(p.id for p in corpus)
            assert copied["p13"]["index"] == "yujing-signals-2026.12"
            assert copied["p01"]["index"] == "yujing-signals-2026.11"
            kept = {k for doc in copied.values() for k in doc} - {"index"}
            assert kept <= set(SIGNAL_FIELDS) | {"scores"} and not {"text", "text_seg", "author", "url", "extra"} & kept
            assert copied["p08"]["platforms"] == ["鑫盛贷", "汇金宝"] and copied["p08"]["scores"] == {
                "rumour": 0.5, "panic": 0.85, "gathering": 0.2}

            assert main(["grafana", "backfill", "--store", url, "--since", "2026-11-21T00:00+08:00"]) == 0
            out, _ = capsys.readouterr()
            assert out.startswith("2 posts copied into yujing-signals")  # p12 and p13
            assert signals() == copied
        finally:
            s.close()


def test_backfill_refuses_the_embedded_store_and_bad_options(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from yujing.cli import main

    assert main(["grafana", "backfill", "--store", f"sqlite:///{tmp_path}/store.db"]) == 2
    assert "the embedded store has no signals index" in capsys.readouterr().err
    assert main(["grafana", "backfill", "--store", "opensearch://127.0.0.1:1", "--since", "2026-11-21"]) == 2
    assert "has no UTC offset" in capsys.readouterr().err
    assert main(["grafana", "backfill", "--store", "opensearch://127.0.0.1:1", "--page", "0"]) == 2
    assert "--page must be 1 or more" in capsys.readouterr().err
