"""The pipeline over the real broker, through the CLI: the same index and warnings as the embedded path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.kafka_fixtures import Broker, fresh_settings, settings_env
from yujing.search.sqlite_store import SqliteStore

pytestmark = pytest.mark.integration

# The whole demo stream is ingested before `run` starts, so the scorer turns a 4-partition backlog
# into scored posts one batch at a time: within a batch (100 posts, about half a day of event time
# here) a platform's posts reach the alerter in any order, and on a loaded machine the consumer can
# drain one partition days of event time ahead of another (a 2-day slack once saw 28 late posts in a
# full-suite run). For an exact replay the reorder buffer's slack covers the backlog's whole span
# (the demo: 6.7 days; `--until-idle` flushes it at the end). A live stream needs far less:
# ingestion order follows event time. A longer poll interval than the unit tests' keeps a loaded
# 2-core machine from dropping members out of their groups.
E2E_SETTINGS = {"max_poll_interval_ms": 6000, "session_timeout_ms": 10000, "event_time_slack_s": 8 * 86400}

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "yujing" / "demo"
CLI = [sys.executable, "-m", "yujing.cli"]


def _cli(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *argv], env=env, check=True, capture_output=True, text=True, timeout=300)


def _warnings(out: str) -> list[dict[str, Any]]:
    """The JSON warnings on stdout (the print channel's messages for people are interleaved)."""
    decoder = json.JSONDecoder()
    found = [decoder.raw_decode(line)[0] for line in out.splitlines() if line.startswith('{"key"')]
    return sorted(found, key=lambda w: json.dumps(w, sort_keys=True))


def _difference(expected: list[dict[str, Any]], got: list[dict[str, Any]], stderr: str) -> str:
    """Where the Kafka run's warnings first differ, field by field, and what that run said on stderr."""
    lines = [f"embedded {len(expected)} warnings, kafka {len(got)}"]
    for want, have in zip(expected, got, strict=False):
        if want != have:
            for name in sorted(set(want) | set(have)):
                if want.get(name) != have.get(name):
                    lines.append(f"{want.get('key')} / {have.get('key')}: {name}: {want.get(name)!r:.300} != "
                                 f"{have.get(name)!r:.300}")
            break
    return "\n".join([*lines, "stderr of the Kafka run:", stderr[-2000:]])


def _count(path: Path) -> int:
    store = SqliteStore(path)
    try:
        return store.count_posts()
    finally:
        store.close()


def test_kafka_path_gives_the_embedded_index_and_warnings(
    kafka_broker: Broker, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), **settings_env(fresh_settings(**E2E_SETTINGS))}
    common = ["--model", "lexicon", "--registry", str(DEMO / "registry.yaml"), "--json"]
    embedded_bus, embedded_store = f"sqlite:///{tmp_path / 'bus.db'}", tmp_path / "embedded.db"
    _cli(env, "ingest", str(DEMO / "stream.jsonl"), "--bus", embedded_bus)
    embedded = _cli(
        env, "run", "--bus", embedded_bus, "--store", f"sqlite:///{embedded_store}", "--until-idle", *common
    )

    kafka_store = tmp_path / "kafka.db"
    _cli(env, "ingest", str(DEMO / "stream.jsonl"), "--bus", kafka_broker.url)
    over_kafka = _cli(
        env, "run", "--bus", kafka_broker.url, "--store", f"sqlite:///{kafka_store}", "--until-idle", *common
    )

    assert _count(kafka_store) == _count(embedded_store) > 1000
    assert _warnings(embedded.stdout) != []
    kafka_warnings, embedded_warnings = _warnings(over_kafka.stdout), _warnings(embedded.stdout)
    assert kafka_warnings == embedded_warnings, _difference(embedded_warnings, kafka_warnings, over_kafka.stderr)


def test_ingest_json_summary_over_kafka(kafka_broker: Broker, tmp_path: Path) -> None:
    settings = fresh_settings()
    env = {**os.environ, "PYTHONPATH": str(REPO), **settings_env(settings)}
    lines = [
        {"id": "a", "text": "聚财猫提现正常", "ts": "2016-09-01T08:00:00+08:00", "source": "weibo"},
        {"id": "b", "text": "投诉：盈家宝逾期不还", "ts": "2016-09-01T08:01:00+08:00", "source": "complaint"},
        {"id": "c", "text": "没有时区的时间", "ts": "2016-09-01T08:02:00", "source": "forum"},
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n", encoding="utf-8")
    out = _cli(env, "ingest", str(path), "--bus", kafka_broker.url, "--json")
    summary = json.loads(out.stdout)
    prefix = settings.topic_prefix
    assert summary["posts"] == 2 and summary["dead_lettered"] == 1
    assert summary["topics"] == {f"{prefix}raw.posts": 1, f"{prefix}raw.complaints": 1}
    assert summary["dead_letter_topic"] == f"{prefix}deadletters"
    assert summary["dead_letters"][0]["origin"] == f"{path}:3"
    assert "ingested 2 posts" in out.stderr
    # the listing reads the whole topic at once, without a consumer group (a group's first poll came back empty)
    listed = _cli(env, "deadletters", "--bus", kafka_broker.url, "--json")
    assert [json.loads(line)["origin"] for line in listed.stdout.splitlines()] == [f"{path}:3"]
