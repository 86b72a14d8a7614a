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


def test_columns_follow_writes_moves_and_other_connections(tmp_path: Path) -> None:
    """The in-memory columns merge what was written after they were loaded, by this store or by
    another process's connection, and forget a post whose time changed (its rid moved)."""
    import dataclasses
    from datetime import timedelta

    path = tmp_path / "store.db"
    reader = SqliteStore(path, columns_from=0)
    writer = SqliteStore(path)
    writer.index_posts(posts()[:6])
    assert reader.search(SearchQuery(text="提现", facets=True)).total == 2
    writer.index_posts(posts()[6:])
    result = reader.search(SearchQuery(text="提现", facets=True, size=50))
    assert [h.post.id for h in result.hits] == ["p12", "p11", "p08", "p05", "p01"]
    first = posts()[0]
    later = dataclasses.replace(first, post=dataclasses.replace(first.post, ts=first.ts + timedelta(days=3)))
    writer.index_posts([later])
    assert writer.count_posts() == len(posts())
    result = reader.search(SearchQuery(text="提现", facets=True, size=50))
    assert [h.post.id for h in result.hits] == ["p01", "p12", "p11", "p08", "p05"]
    assert result.total == 5 and sum(result.facets["source"].values()) == 5
    assert reader.search(SearchQuery(size=0, histogram="1d")).histogram[-1] == (
        later.ts.replace(hour=0, minute=0), 1)
    reader.close()
    writer.close()


def test_a_version_1_store_is_migrated(tmp_path: Path) -> None:
    """Stores written before the rid/time layout (one wide posts table) are rewritten on open."""
    import json
    import sqlite3

    from yujing.search import docs

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE posts(rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, ts INTEGER NOT NULL, "
               "source TEXT NOT NULL, rumour REAL NOT NULL, panic REAL NOT NULL, gathering REAL NOT NULL, "
               "text_seg TEXT NOT NULL, doc TEXT NOT NULL)")
    for sp in posts():
        d = docs.post_doc(sp)
        db.execute("INSERT INTO posts(id, ts, source, rumour, panic, gathering, text_seg, doc) "
                   "VALUES (?,?,?,?,?,?,?,?)", (d["id"], docs.ts_ms(sp.ts), d["source"], 0, 0, 0, d["text_seg"],
                                              json.dumps({k: v for k, v in d.items() if k != "text_seg"})))
    db.commit()
    db.close()
    store = SqliteStore(path)
    for _name, query, expected in SUITE:
        assert [h.post.id for h in store.search(query).hits] == expected
    assert store.count_posts() == len(posts())
    store.close()
