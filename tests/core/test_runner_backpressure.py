"""StageRunner under failing downstream writes: retryable errors pause the stage and retry the held
batch without committing; nothing is lost and nothing is counted twice. Non-retryable errors stop."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from yujing import metrics
from yujing.app import Wiring, decode_file, ingest, load_scorer
from yujing.errors import BackpressureError, BusError, StoreError
from yujing.ingestion.bus import WARNINGS, OutRecord
from yujing.ingestion.sqlite_bus import SqliteBus
from yujing.pipeline import StageRunner
from yujing.records import Alert, ScoredPost
from yujing.registry import load_registry
from yujing.search.sqlite_store import SqliteStore
from yujing.settings import Settings

DEMO = Path(__file__).resolve().parents[2] / "yujing" / "demo"


class FlakyStore(SqliteStore):
    """The real embedded store, refusing its first ``failures`` bulk writes the way a busy server does."""

    def __init__(self, path: Path, failures: int, error: StoreError) -> None:
        super().__init__(path)
        self.failures = failures
        self.error = error
        self.refused = 0

    def index_posts(self, posts: Sequence[ScoredPost]) -> None:
        if self.refused < self.failures:
            self.refused += 1
            raise self.error
        super().index_posts(posts)


class FlakyBus(SqliteBus):
    """The real embedded log, failing the alerter's first ``failures`` writes of warnings."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures

    def produce(self, topic: str, records: Sequence[OutRecord]) -> None:
        if topic == WARNINGS and self.failures > 0:
            self.failures -= 1
            raise BusError("broker briefly unavailable", retryable=True)
        super().produce(topic, records)


def _run(tmp: Path, bus: SqliteBus, store: SqliteStore) -> tuple[list[Alert], StageRunner]:
    settings = Settings()
    registry = load_registry(DEMO / "registry.yaml")
    ingest(bus, decode_file(str(DEMO / "stream.jsonl"), settings), sort_by_time=True)
    fired: list[Alert] = []
    wiring = Wiring(settings, registry, bus, store, load_scorer("lexicon"), fired.extend)
    runner = StageRunner(bus, wiring.stages("all"), poll_timeout_s=0.0)
    runner.open()
    runner.drain()
    runner.close()
    return fired, runner


def _baseline(tmp: Path) -> tuple[list[Alert], int]:
    store = SqliteStore(tmp / "base-store.db")
    alerts, _ = _run(tmp, SqliteBus(tmp / "base-bus.db"), store)
    total = store.count_posts()
    store.close()
    return alerts, total


def _keys(alerts: Sequence[Alert]) -> list[tuple[str, str, str, str]]:
    return [(a.platform, a.signal.value, a.level.value, a.ts.isoformat()) for a in alerts]


def test_backpressure_pauses_and_retries_without_loss(tmp_path: Path) -> None:
    expected_alerts, expected_posts = _baseline(tmp_path)
    before = metrics.REGISTRY.get_sample_value("yujing_store_backpressure_total") or 0.0
    store = FlakyStore(tmp_path / "store.db", failures=2, error=BackpressureError("429 Too Many Requests", 0.05))
    alerts, runner = _run(tmp_path, SqliteBus(tmp_path / "bus.db"), store)
    assert store.refused == 2
    assert runner.held == 0
    assert store.count_posts() == expected_posts
    assert _keys(alerts) == _keys(expected_alerts)
    after = metrics.REGISTRY.get_sample_value("yujing_store_backpressure_total") or 0.0
    assert after - before == 2


def test_failed_warning_write_is_not_counted_twice(tmp_path: Path) -> None:
    expected_alerts, _ = _baseline(tmp_path)
    alerts, _ = _run(tmp_path, FlakyBus(tmp_path / "bus.db", failures=2), SqliteStore(tmp_path / "store.db"))
    assert _keys(alerts) == _keys(expected_alerts)


def test_non_retryable_store_error_stops_the_runner(tmp_path: Path) -> None:
    store = FlakyStore(tmp_path / "store.db", failures=1, error=StoreError("mapping conflict", retryable=False))
    with pytest.raises(StoreError, match="mapping conflict"):
        _run(tmp_path, SqliteBus(tmp_path / "bus.db"), store)


def test_notifier_delivers_a_key_once_even_within_one_batch(tmp_path: Path) -> None:
    from yujing.ingestion.bus import Message
    from yujing.pipeline import NotifyStage
    from yujing.records import to_json

    alerts, _ = _baseline(tmp_path)
    bus = SqliteBus(tmp_path / "bus.db")
    delivered: list[Alert] = []
    stage = NotifyStage(bus, delivered.extend)
    batch = [Message(WARNINGS, 0, n, None, to_json(a)) for n, a in enumerate([alerts[0], alerts[0], alerts[1]])]
    stage.handle(batch)
    stage.handle(batch[:1])  # redelivered later
    assert [a.key for a in delivered] == [alerts[0].key, alerts[1].key]
