from __future__ import annotations

from pathlib import Path

import pytest

from tests.search.search_corpus import SUITE, alerts, posts
from yujing.search.sqlite_store import SqliteStore
from yujing.search.store import SearchQuery


@pytest.fixture(params=["sql", "columns"])
def store(tmp_path: Path, request: pytest.FixtureRequest) -> SqliteStore:
    """Both read paths: SQL (small stores) and in-memory columns (from COLUMNS_FROM posts)."""
    s = SqliteStore(tmp_path / "store.db", columns_from=0 if request.param == "columns" else 10**9)
    s.index_posts(posts())
    s.index_alerts(alerts())
    return s


@pytest.mark.parametrize(("name", "query", "expected"), SUITE, ids=[s[0] for s in SUITE])
def test_query_suite(store: SqliteStore, name: str, query: SearchQuery, expected: list[str]) -> None:
    result = store.search(query)
    assert [h.post.id for h in result.hits] == expected
    assert result.total == len(expected)


def test_replay_is_idempotent(store: SqliteStore) -> None:
    store.index_posts(posts())
    store.index_alerts(alerts())
    assert store.count_posts() == len(posts())
    assert store.search(SearchQuery(text="提现")).total == 5


def test_reindex_replaces_text_in_the_index(store: SqliteStore) -> None:
    import dataclasses

    first = posts()[0]
    changed = dataclasses.replace(first, post=dataclasses.replace(first.post, text="完全不同的内容"))
    store.index_posts([changed])
    assert "p01" not in [h.post.id for h in store.search(SearchQuery(text="报警")).hits]
    assert [h.post.id for h in store.search(SearchQuery(text="完全不同")).hits] == ["p01"]


def test_hits_round_trip_the_posts(store: SqliteStore) -> None:
    by_id = {p.id: p for p in posts()}
    for hit in store.search(SearchQuery(size=50)).hits:
        assert hit.post == by_id[hit.post.id]


def test_survives_reopen(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "s.db").index_posts(posts())
    again = SqliteStore(tmp_path / "s.db")
    assert again.count_posts() == len(posts())
    assert again.search(SearchQuery(text="跑路")).total == 2
    again.close()


def test_wal_mode(store: SqliteStore, tmp_path: Path) -> None:
    assert (tmp_path / "store.db-wal").exists()
