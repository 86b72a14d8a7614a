"""Search benchmark: indexing docs/s and p50/p95 latency of typical analyst queries.

    PYTHONPATH=. python bench/search_bench.py --posts 1000000            # embedded store (target p95 < 100 ms)
    PYTHONPATH=. python bench/search_bench.py --posts 20000 --osmem 20000  # quick run, plus osmem

Posts are generated (fictional platforms, templated Chinese sentences), deterministic by --seed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from yujing.records import Post, ScoredPost, Scores, Signal, Source
from yujing.search.open import open_store
from yujing.search.store import SearchQuery, Store

PLATFORMS = ["鑫盛贷", "汇金宝", "安信通", "融通宝", "恒丰财富", "聚利网", "金满仓", "宏达金服"]
TEMPLATES = [
    "{p}无法提现了，大家快去报警", "听说{p}老板跑路了，不知真假", "明天上午在区政府门口集合，{p}的投资人都来",
    "官方辟谣：{p}运营正常", "{p}提现一直显示处理中，已经三天了", "投诉{p}：本金逾期不兑付，客服电话打不通",
    "{p}今天正常兑付，大家不要慌", "{p}是不是要暴雷了", "{p}的投资人下午去信访局维权", "今天天气不错，去公园散步",
]
SOURCES = [Source.WEIBO, Source.FORUM, Source.WECHAT, Source.NEWS, Source.COMPLAINT]
T0 = datetime(2026, 1, 1, tzinfo=UTC)

QUERIES = {
    "word": SearchQuery(text="提现"),
    "phrase": SearchQuery(text='"无法提现"'),
    "boolean": SearchQuery(text="跑路 NOT 辟谣"),
    "platform+signal": SearchQuery(platforms=("汇金宝",), signal=Signal.PANIC, min_score=0.7),
    "text+time": SearchQuery(text="维权 OR 集合", since=T0 + timedelta(days=100), until=T0 + timedelta(days=130)),
    "facets": SearchQuery(text="兑付", facets=True, size=10),
    "histogram": SearchQuery(platforms=("鑫盛贷",), histogram="1d", size=0),
    "by score": SearchQuery(signal=Signal.GATHERING, sort="score"),
    "analyst screen": SearchQuery(text="提现 OR 跑路", platforms=("汇金宝",), signal=Signal.PANIC, min_score=0.3,
                                  since=T0 + timedelta(days=30), until=T0 + timedelta(days=200), facets=True,
                                  histogram="1d"),
    "text by score": SearchQuery(text="兑付", signal=Signal.PANIC, sort="score"),
}
# search_after: the page after DEEP pages of these (the cursor is found by paging, then timed)
DEEP = 50
PAGED = {
    "page 51 (text)": SearchQuery(text="提现"),
    "page 51 (platform)": SearchQuery(platforms=("安信通",), sort="oldest"),
    "page 51 (by score)": SearchQuery(signal=Signal.PANIC, sort="score"),
}


def generate(n: int, seed: int) -> Iterator[ScoredPost]:
    rng = random.Random(seed)
    step = 365 * 86400 / max(n, 1)
    for i in range(n):
        t = rng.randrange(len(TEMPLATES))
        p = rng.choice(PLATFORMS)
        text = TEMPLATES[t].format(p=p) + f" #{rng.randrange(1000)}"
        panic = rng.random() if t in (0, 4, 5, 7) else rng.random() * 0.3
        gathering = rng.random() if t in (2, 8) else rng.random() * 0.2
        rumour = rng.random() if t in (1, 3) else rng.random() * 0.2
        labels = tuple(s for s, v in ((Signal.RUMOUR, rumour), (Signal.PANIC, panic), (Signal.GATHERING, gathering))
                       if v >= 0.5)
        post = Post(id=f"b{i:08d}", text=text, ts=T0 + timedelta(seconds=i * step), source=rng.choice(SOURCES),
                    author=f"u_{rng.randrange(50000):06x}")
        yield ScoredPost(post, Scores(rumour, panic, gathering), labels, (p,) if t != 9 else (), "bench")


def index(store: Store, n: int, seed: int, batch: int) -> float:
    start = time.perf_counter()
    buf: list[ScoredPost] = []
    for sp in generate(n, seed):
        buf.append(sp)
        if len(buf) == batch:
            store.index_posts(buf)
            buf = []
    if buf:
        store.index_posts(buf)
    refresh = getattr(store, "refresh", None)
    if refresh is not None:
        refresh()
    return n / (time.perf_counter() - start)


def deep_cursor(store: Store, query: SearchQuery) -> SearchQuery:
    for _ in range(DEEP):
        hits = store.search(query).hits
        query = replace(query, search_after=hits[-1].sort)
    return query


def latencies(store: Store, rounds: int) -> dict[str, tuple[float, float]]:
    out = {}
    queries = {**QUERIES, **{name: deep_cursor(store, q) for name, q in PAGED.items()}}
    for name, q in queries.items():
        store.search(q)  # warm
        times = []
        for _ in range(rounds):
            t = time.perf_counter()
            store.search(q)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        out[name] = (statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))])
    return out


def report(label: str, n: int, rate: float, lat: dict[str, tuple[float, float]]) -> None:
    indexing = "reused, not indexed" if rate != rate else f"indexing {rate:,.0f} docs/s"  # nan: --db reused
    print(f"\n{label}: {n} posts, {indexing}")
    print(f"  {'query':20} {'p50 ms':>8} {'p95 ms':>8}")
    for name, (p50, p95) in lat.items():
        print(f"  {name:20} {p50:8.1f} {p95:8.1f}")
    worst = max(p95 for _, p95 in lat.values())
    print(f"  worst p95 {worst:.1f} ms ({'meets' if worst < 100 else 'MISSES'} the 100 ms target)")


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=1_000_000, help="posts on the embedded store")
    ap.add_argument("--osmem", type=int, default=0, help="posts on osmem-server (0: skip)")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--db", type=Path, help="keep the embedded store here; reuse it (no indexing) if it exists")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.db"
        reuse = path.exists()
        store = open_store(f"sqlite:///{path}")
        rate = float("nan") if reuse else index(store, args.posts, args.seed, args.batch)
        t = time.perf_counter()
        store.search(SearchQuery(facets=True, size=1))  # the embedded store loads its columns here
        print(f"first search (loads the in-memory columns): {(time.perf_counter() - t) * 1000:.0f} ms")
        report("embedded (SQLite FTS5 + jieba)", store.count_posts(), rate, latencies(store, args.rounds))
        store.close()
    if args.osmem:
        from osmem_server import OsmemServer

        server = OsmemServer.start()
        try:
            store = open_store(f"opensearch://{server.url.split('://', 1)[1]}?refresh=false")
            rate = index(store, args.osmem, args.seed, min(args.batch, 2000))
            report("osmem-server (opensearch adapter)", args.osmem, rate, latencies(store, args.rounds))
            store.close()
        finally:
            server.close()


if __name__ == "__main__":
    main()
