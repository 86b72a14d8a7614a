"""The embedded store's two read paths (SQL for small stores, in-memory columns from COLUMNS_FROM
posts) give the same answers, including pages through many posts that share one millisecond (rid
order and (ts, id) order differ there) and scores that tie."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from yujing.records import Post, ScoredPost, Scores, Signal, Source
from yujing.search.sqlite_store import SqliteStore
from yujing.search.store import SearchQuery, SearchResult

T0 = datetime(2026, 3, 1, tzinfo=UTC)
PLATFORMS = ("鑫盛贷", "汇金宝", "安信通")
TEXTS = ("{p}无法提现了", "听说{p}老板跑路了", "{p}的投资人明天集合维权", "{p}正常兑付，不要慌", "今天去公园散步")


def corpus(n: int = 900) -> list[ScoredPost]:
    rng = random.Random(3)
    out = []
    for i in range(n):
        p = rng.choice(PLATFORMS)
        platforms = () if i % 11 == 0 else (p,) if i % 5 else (p, PLATFORMS[(PLATFORMS.index(p) + 1) % 3])
        scores = Scores(*(round(rng.random(), 1) for _ in range(3)))  # one decimal: many ties
        labels = tuple(s for s, v in zip(Signal, (scores.rumour, scores.panic, scores.gathering), strict=True)
                       if v >= 0.5)
        post = Post(id=f"x{(i * 7919) % n:04d}", text=rng.choice(TEXTS).format(p=p),
                    ts=T0 + timedelta(seconds=i // 9),  # nine posts in each millisecond
                    source=rng.choice(list(Source)), author=f"u{i}",
                    extra={"districts": ["城东区"] if p == "鑫盛贷" else []})
        out.append(ScoredPost(post, scores, labels, platforms, "test"))
    rng.shuffle(out)  # inserted out of time order
    return out


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SqliteStore, SqliteStore]]:
    path = tmp_path_factory.mktemp("columns") / "store.db"
    sql = SqliteStore(path, columns_from=10**9)
    data = corpus()
    for start in range(0, len(data), 100):
        sql.index_posts(data[start:start + 100])
    cols = SqliteStore(path, columns_from=0)
    yield sql, cols
    sql.close()
    cols.close()


QUERIES = [
    SearchQuery(),
    SearchQuery(sort="oldest"),
    SearchQuery(text="提现"),
    SearchQuery(text="跑路 OR 集合", sort="oldest"),
    SearchQuery(text="NOT 散步", platforms=("汇金宝",)),
    SearchQuery(platforms=("鑫盛贷", "安信通")),
    SearchQuery(districts=("城东区",), signal=Signal.PANIC, min_score=0.3),
    SearchQuery(signal=Signal.GATHERING, sort="score"),
    SearchQuery(text="兑付", signal=Signal.RUMOUR, min_score=0.0, sort="score"),
    SearchQuery(sources=(Source.WEIBO.value, Source.FORUM.value), since=T0 + timedelta(seconds=20),
                until=T0 + timedelta(seconds=70)),
]


def pages(store: SqliteStore, query: SearchQuery) -> Iterator[SearchResult]:
    query = replace(query, size=13)
    while True:
        result = store.search(query)
        yield result
        if len(result.hits) < query.size:
            return
        query = replace(query, search_after=result.hits[-1].sort)


@pytest.mark.parametrize("query", QUERIES, ids=[str(i) for i in range(len(QUERIES))])
def test_both_paths_page_identically(stores: tuple[SqliteStore, SqliteStore], query: SearchQuery) -> None:
    sql, cols = stores
    a = [(h.post.id, h.sort) for r in pages(sql, query) for h in r.hits]
    b = [(h.post.id, h.sort) for r in pages(cols, query) for h in r.hits]
    assert a == b and len(a) == sql.search(query).total == cols.search(query).total > 0
    assert len({i for i, _ in a}) == len(a)  # no page repeats or skips a post
    keys = [s for _, s in a]
    assert keys == sorted(keys, reverse=query.sort != "oldest")  # (…, ts, id) order, ties by id
    full = replace(query, facets=True, histogram="10s", size=0)
    ra, rb = sql.search(full), cols.search(full)
    assert (ra.total, ra.facets, ra.histogram) == (rb.total, rb.facets, rb.histogram)


@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_the_full_order_is_ts_then_id_even_within_one_millisecond(stores: tuple[SqliteStore, SqliteStore],
                                                                 sort: str) -> None:
    expected = [sp.id for sp in sorted(corpus(), key=lambda sp: (sp.ts, sp.id), reverse=sort == "newest")]
    for store in stores:
        # every post: no filter (SQL on both stores) and a filter every post passes (columns on one)
        for query in (SearchQuery(sort=sort), SearchQuery(sort=sort, signal=Signal.RUMOUR, min_score=0.0)):
            assert [h.post.id for r in pages(store, query) for h in r.hits] == expected


def test_facets_keep_the_same_top_buckets_as_the_server_stores() -> None:
    from yujing.search.columns import ordered_counts
    from yujing.search.mapping import FACET_SIZE

    counts = {f"平台{i:03d}": 100 - i // 2 for i in range(80)}
    top = ordered_counts(counts)
    assert len(top) == FACET_SIZE == 50
    assert list(top)[:3] == ["平台000", "平台001", "平台002"] and "平台079" not in top


def test_the_monthly_index_is_the_utc_month_whatever_the_offset() -> None:
    from datetime import timezone

    from yujing.search.mapping import index_for

    west = datetime(2026, 11, 30, 23, 30, tzinfo=timezone(timedelta(hours=-8)))
    assert index_for("yujing-posts", west) == index_for("yujing-posts", west.astimezone(UTC))
    assert index_for("yujing-posts", west) == "yujing-posts-2026.12"
