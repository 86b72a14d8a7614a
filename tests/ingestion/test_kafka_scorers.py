"""Scorers as real processes (`yujing run --role scorer`) on the real broker: two of them split the
raw partitions, and a scorer killed with SIGKILL mid-stream loses and duplicates nothing in the index."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kafka
import pytest

from tests.kafka_fixtures import Broker, fresh_settings, settings_env
from yujing.app import Decoded, decode_file, ingest
from yujing.ingestion.bus import RAW_COMPLAINTS, RAW_POSTS
from yujing.ingestion.kafka_bus import KafkaBus
from yujing.ingestion.kafka_settings import KafkaSettings, client_kwargs
from yujing.search.sqlite_store import SqliteStore
from yujing.settings import DEMO_DIR, Settings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "yujing.cli"]
GROUP = "yujing-scorer"
# A killed member leaves the group after session_timeout_ms; short, so the survivor takes over fast.
SETTINGS = {"max_poll_interval_ms": 3000, "session_timeout_ms": 4000, "heartbeat_interval_ms": 300}


@pytest.fixture
def settings() -> KafkaSettings:
    return fresh_settings(**SETTINGS)


@pytest.fixture
def env(settings: KafkaSettings) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), **settings_env(settings)}


@pytest.fixture
def admin(kafka_broker: Broker, settings: KafkaSettings) -> Iterator[Any]:
    client = kafka.KafkaAdminClient(**client_kwargs((kafka_broker.bootstrap,), settings))
    yield client
    client.close()


def start_scorer(env: dict[str, str], url: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([*CLI, "run", "--role", "scorer", "--bus", url, "--model", "lexicon"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)


def owned(log: Path) -> set[tuple[str, int]] | None:
    """The partitions a scorer process last said it owns (``yujing run`` reports each change)."""
    lines = [line for line in log.read_text(errors="replace").splitlines() if f"{GROUP} owns" in line]
    if not lines or lines[-1].endswith("no partitions"):
        return None
    names = lines[-1].split(" owns ", 1)[1].split(", ")
    return {(name.rsplit("/", 1)[0], int(name.rsplit("/", 1)[1])) for name in names}


def two_members(logs: list[Path], total: int) -> list[set[tuple[str, int]]] | None:
    members = [owned(log) for log in logs]
    split = [m for m in members if m]
    return split if len(split) == 2 and len(split[0] | split[1]) == total else None


def wait_for(what: str, check: Any, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def committed_all(admin: Any, bus: KafkaBus, settings: KafkaSettings, total: int) -> bool:
    group = settings.topic(GROUP)  # group ids carry the topic prefix
    offsets = admin.list_group_offsets({group: None}).get(group, {})
    raw = {settings.topic(RAW_POSTS), settings.topic(RAW_COMPLAINTS)}
    return sum(o.offset for tp, o in offsets.items() if tp.topic in raw) >= total


def test_two_scorers_split_partitions_and_a_killed_one_loses_nothing(
    kafka_broker: Broker, settings: KafkaSettings, env: dict[str, str], admin: Any, tmp_path: Path
) -> None:
    decoded = decode_file(str(DEMO_DIR / "stream.jsonl"), Settings())
    bus = KafkaBus.from_url(kafka_broker.url, settings)
    a = start_scorer(env, kafka_broker.url, tmp_path / "a.log")
    time.sleep(1.0)  # let the first one join alone, so the second one's arrival is a real rebalance
    b = start_scorer(env, kafka_broker.url, tmp_path / "b.log")
    try:
        logs = [tmp_path / "a.log", tmp_path / "b.log"]
        split = wait_for("both scorers to hold partitions", lambda: two_members(logs, 2 * settings.partitions))
        assert split[0].isdisjoint(split[1]) and len(split[0] | split[1]) == 2 * settings.partitions
        chunk = 100
        for i, start in enumerate(range(0, len(decoded.posts), chunk)):
            ingest(bus, Decoded(decoded.posts[start:start + chunk]))
            if i == 4:  # mid-stream: the scorers are busy with the first chunks
                a.send_signal(signal.SIGKILL)
            time.sleep(0.2)
        a.wait(timeout=10)
        killed_owned = owned(logs[0])
        wait_for("the surviving scorer to commit every raw record",
                 lambda: committed_all(admin, bus, settings, len(decoded.posts)), timeout_s=90)
        assert b.poll() is None, "the surviving scorer is still running"
        assert owned(logs[1]) == split[0] | split[1], "the survivor took over the killed scorer's partitions"
        assert killed_owned, "the scorer was killed while it held partitions"
    finally:
        for proc in (a, b):
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=20)
        bus.close()
    store = tmp_path / "index.db"
    subprocess.run([*CLI, "run", "--role", "indexer", "--bus", kafka_broker.url, "--store", f"sqlite:///{store}",
                    "--until-idle"], env=env, check=True, capture_output=True, timeout=120)
    index = SqliteStore(store)
    try:
        ids = [p.id for p in decoded.posts]
        assert index.count_posts() == len(ids)  # nothing lost, nothing twice (upserts by post id)
        assert sorted(sp.id for sp in index.get_posts(ids)) == sorted(ids)
    finally:
        index.close()
