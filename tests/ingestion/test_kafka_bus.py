"""The Kafka bus against a real Kafka-protocol broker (tansu, started once per session)."""

from __future__ import annotations

import gc
import json
import logging
import threading
import time
from collections.abc import Iterator

import pytest
from kafka.structs import TopicPartition

from tests.kafka_fixtures import Broker, fresh_settings, start_broker, stop_broker
from yujing.errors import BusError
from yujing.ingestion.bus import DEAD_LETTERS, RAW_POSTS, SCORED_POSTS, TOPICS, Message, OutRecord
from yujing.ingestion.kafka_bus import KafkaBus, KafkaConsumer
from yujing.ingestion.kafka_settings import KafkaSettings
from yujing.privacy import pseudonymise
from yujing.records import DeadLetter, ScoredPost

KEY = b"test-pseudonym-key"

pytestmark = pytest.mark.integration


@pytest.fixture
def bus(kafka_broker: Broker, kafka_settings: KafkaSettings) -> Iterator[KafkaBus]:
    bus = KafkaBus.from_url(kafka_broker.url, kafka_settings)
    yield bus
    bus.close()


def records(n: int, keys: int = 5) -> list[OutRecord]:
    return [OutRecord(value=f"v{i}".encode(), key=f"k{i % keys}".encode()) for i in range(n)]


def drain(consumer: KafkaConsumer, n: int, timeout_s: float = 20.0) -> list[Message]:
    got: list[Message] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        got += consumer.poll(max_records=100, timeout_s=0.3)
    return got


def wait_assigned(consumer: KafkaConsumer, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not consumer.assignment() and time.monotonic() < deadline:
        assert consumer.poll(timeout_s=0.2) == []


def test_creates_prefixed_topics_with_partitions(bus: KafkaBus) -> None:
    for topic in TOPICS:
        assert bus.partitions(topic) == 4


def test_produce_consume_commit_round_trip(bus: KafkaBus) -> None:
    bus.produce(RAW_POSTS, records(20))
    consumer = bus.consumer([RAW_POSTS], "round-trip")
    try:
        got = drain(consumer, 20)
        assert sorted(m.value for m in got) == sorted(r.value for r in records(20))
        assert {m.topic for m in got} == {RAW_POSTS}
        by_key: dict[bytes | None, set[int]] = {}
        for m in got:
            by_key.setdefault(m.key, set()).add(m.partition)
        assert all(len(parts) == 1 for parts in by_key.values()), "one key, one partition"
        assert consumer.lag() == 20
        consumer.commit(got)
        assert consumer.lag() == 0
        assert sum(consumer.committed(RAW_POSTS, p) or 0 for p in range(4)) == 20
    finally:
        consumer.close()


def test_uncommitted_records_are_redelivered_after_close(bus: KafkaBus) -> None:
    bus.produce(RAW_POSTS, records(30))
    first = bus.consumer([RAW_POSTS], "redelivery")
    got = drain(first, 30)
    done = got[:12]
    first.commit(done)
    first.close()
    committed: dict[int, int] = {}
    for m in done:
        committed[m.partition] = max(committed.get(m.partition, 0), m.offset + 1)
    expected = sorted(m.value for m in got if m.offset >= committed.get(m.partition, 0))
    second = bus.consumer([RAW_POSTS], "redelivery")
    try:
        again = drain(second, len(expected))
        assert sorted(m.value for m in again) == expected
        assert second.poll(timeout_s=0.5) == []
    finally:
        second.close()


def test_two_members_of_a_group_split_the_partitions(bus: KafkaBus) -> None:
    a = bus.consumer([RAW_POSTS], "split")
    b = bus.consumer([RAW_POSTS], "split")
    try:
        _join_both(a, b)
        assert set(a.assignment()).isdisjoint(b.assignment())
        assert len(a.assignment()) + len(b.assignment()) == 4 and a.assignment() and b.assignment()
        bus.produce(RAW_POSTS, records(40, keys=40))
        got_a, got_b = _drain_both(a, b, 40)
        assert {m.partition for m in got_a} <= {p for _, p in a.assignment()}
        assert {m.partition for m in got_b} <= {p for _, p in b.assignment()}
        assert sorted(m.value for m in got_a + got_b) == sorted(r.value for r in records(40, keys=40))
    finally:
        a.close()
        b.close()


def _join_both(a: KafkaConsumer, b: KafkaConsumer, timeout_s: float = 30.0) -> None:
    """Poll both members (each from its own thread, as workers would) until the group is stable."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        threads = [threading.Thread(target=c.poll, kwargs={"timeout_s": 0.3}) for c in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if len(a.assignment()) + len(b.assignment()) == 4 and a.assignment() and b.assignment():
            return
    raise AssertionError(f"group did not settle: {a.assignment()} / {b.assignment()}")


def _drain_both(a: KafkaConsumer, b: KafkaConsumer, n: int) -> tuple[list[Message], list[Message]]:
    got_a: list[Message] = []
    got_b: list[Message] = []
    deadline = time.monotonic() + 20
    while len(got_a) + len(got_b) < n and time.monotonic() < deadline:
        got_a += a.poll(timeout_s=0.2)
        got_b += b.poll(timeout_s=0.2)
    return got_a, got_b


def test_poison_records_reach_the_dead_letter_topic_with_reason_and_source_offset(bus: KafkaBus) -> None:
    """The scorer stage over the real broker: a record that is not a post is dead-lettered, with
    the reason and the topic, partition and offset it came from; the good one is scored."""
    from yujing.app import load_scorer
    from yujing.ingestion.kafka_runner import ThreadedRunner
    from yujing.models.attribution import PlatformMatcher
    from yujing.pipeline import ScoreStage
    from yujing.registry import load_registry
    from yujing.settings import DEMO_DIR

    good = {"id": "ok-1", "text": "聚财猫今天提现正常", "ts": "2016-09-01T08:00:00+08:00", "source": "weibo"}
    # a crawler that writes to the raw topic itself, with the raw author in the post and in its link
    crawled = {"id": "ok-2", "text": "聚财猫还能提现吗", "ts": "2016-09-01T08:01:00+08:00", "source": "weibo",
               "author": "1234567890", "url": "https://weibo.example/1234567890/AbCd"}
    [poison_offset] = bus._produce(RAW_POSTS, [OutRecord(b"\xff not json", b"bad-1")])
    bus.produce(RAW_POSTS, [OutRecord(json.dumps(good).encode(), b"ok-1"),
                            OutRecord(json.dumps(crawled).encode(), b"ok-2")])
    stage = ScoreStage(bus, load_scorer("lexicon"), PlatformMatcher(load_registry(DEMO_DIR / "registry.yaml")), KEY)
    runner = ThreadedRunner(bus, [stage], join_timeout_s=30)
    runner.open()
    try:
        assert runner.drain() == 3
    finally:
        runner.close()
    raw = bus.consumer([RAW_POSTS], "dlq-where")
    dead = bus.consumer([DEAD_LETTERS], "dlq-reader")
    scored = bus.consumer([SCORED_POSTS], "scored-reader")
    try:
        [poison] = [m for m in drain(raw, 3) if m.key == b"bad-1"]
        [stored] = drain(dead, 1)
        letter = DeadLetter.from_dict(json.loads(stored.value))
        posts = {sp.id: sp.post for sp in (ScoredPost.from_dict(json.loads(m.value)) for m in drain(scored, 2))}
    finally:
        raw.close()
        dead.close()
        scored.close()
    assert posts["ok-2"].author == pseudonymise("1234567890", KEY)
    assert "1234567890" not in json.dumps(posts["ok-2"].to_dict())
    assert poison.offset == poison_offset
    assert letter.origin == f"{RAW_POSTS}/{poison.partition}@{poison.offset}"
    assert letter.reason.startswith(f"undecodable {RAW_POSTS} record: UnicodeDecodeError")
    assert letter.stage == "score" and "not json" in letter.raw


def test_keep_alive_survives_work_slower_than_the_poll_interval(bus: KafkaBus, kafka_settings: KafkaSettings) -> None:
    bus.produce(RAW_POSTS, records(8))
    consumer = bus.consumer([RAW_POSTS], "slow")
    try:
        got = drain(consumer, 8)
        before = consumer.assignment()
        slow_s = 2.5 * kafka_settings.max_poll_interval_ms / 1000

        def slow_work() -> int:
            time.sleep(slow_s)
            return len(got)

        result = consumer.keep_alive(slow_work)
        assert result == 8
        assert consumer.assignment() == before, "still a member after slow work"
        consumer.commit(got)
        assert consumer.lag() == 0
    finally:
        consumer.close()


def test_missing_topics_are_an_error_when_creation_is_off(kafka_broker: Broker) -> None:
    settings = fresh_settings(create_topics=False)
    with pytest.raises(BusError, match="YUJING_KAFKA_CREATE_TOPICS=true") as info:
        KafkaBus.from_url(kafka_broker.url, settings)
    assert not info.value.retryable and f"{settings.topic_prefix}raw.posts" in str(info.value)


def test_unreachable_broker_is_retryable() -> None:
    settings = fresh_settings(bootstrap_timeout_ms=500)
    with pytest.raises(BusError, match="no broker answered") as info:
        KafkaBus.from_url("kafka://127.0.0.1:1", settings)
    assert info.value.retryable


@pytest.fixture(scope="module")
def auth_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    broker = start_broker(tmp_path_factory.mktemp("kafka-auth"), authentication=True)
    yield broker
    stop_broker(broker)


# kafka-python 3.0.12 leaves the sockets of an aborted SASL handshake for the garbage collector;
# collect them here so the ResourceWarning is attributed to this test and not a later one.
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_failed_authentication_never_shows_the_password(
    auth_broker: Broker, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("YUJING_KAFKA_SASL_PASSWORD", "s3cret-hunter2")
    url = f"{auth_broker.url}?security_protocol=SASL_PLAINTEXT&sasl_mechanism=SCRAM-SHA-256&sasl_username=yj"
    with pytest.raises(BusError, match="SASL user/password") as info:
        KafkaBus.from_url(url, fresh_settings(bootstrap_timeout_ms=1500))
    assert "s3cret-hunter2" not in str(info.value)
    assert "s3cret-hunter2" not in caplog.text
    assert "sasl_plain_password': '**********'" in caplog.text  # the client did log its configuration
    del info
    gc.collect()


def test_checkpoint_restores_state_and_position_together(bus: KafkaBus) -> None:
    bus.produce(RAW_POSTS, records(12))
    first = bus.consumer([RAW_POSTS], "ckpt")
    try:
        assert first.checkpoint() is None
        got = sorted(drain(first, 12), key=lambda m: (m.partition, m.offset))
        first.commit(got[:6], b"state-after-6")
        first.commit(got[6:], b"state-after-12")
    finally:
        first.close()
    second = bus.consumer([RAW_POSTS], "ckpt")
    try:
        assert second.checkpoint() == b"state-after-12"
        assert drain(second, 1, timeout_s=3.0) == []  # nothing re-read: the state holds it all
    finally:
        second.close()
    other = bus.consumer([RAW_POSTS], "other-group")
    try:
        assert other.checkpoint() is None
    finally:
        other.close()


def test_a_reassignment_after_a_restore_does_not_rewind_to_the_restored_offsets(bus: KafkaBus) -> None:
    """A stage that restored its checkpoint (as the runner does after a failed batch) and went on counting:
    a rebalance later must resume where the state now is, not where the restore was, or every record since
    would be counted a second time."""
    bus.produce(RAW_POSTS, records(10, keys=1))  # one partition, offsets 0..9
    first = bus.consumer([RAW_POSTS], "ckpt-rebalance")
    try:
        got = drain(first, 10)
        first.commit(got[:4], b"after-4")
        assert first.checkpoint() == b"after-4"  # the runner's restore after a failed batch
        first.commit(got[4:], b"after-10")
        first._assigned(first.assignment())  # what a rebalance that keeps the partitions here does
        assert drain(first, 1, timeout_s=3.0) == []
    finally:
        first.close()


def test_a_state_larger_than_a_kafka_record_is_checkpointed_compressed(bus: KafkaBus) -> None:
    """An alerter's state in a platform collapse passes the 1 MiB record limit as JSON; compressed it fits."""
    bus.produce(RAW_POSTS, records(2, keys=1))
    state = json.dumps({"entries": [[f"2016-09-0{i % 9 + 1}T08:{i % 60:02d}:00+08:00", 0.9, f"u_{i:020x}", f"p{i}",
                                      "鑫盛贷提现不到账，大家赶紧去门口集合"] for i in range(25_000)]},
                       ensure_ascii=False).encode()
    assert len(state) > 2 * bus.settings.max_request_bytes
    first = bus.consumer([RAW_POSTS], "ckpt-large")
    try:
        first.commit(drain(first, 2), state)
    finally:
        first.close()
    second = bus.consumer([RAW_POSTS], "ckpt-large")
    try:
        assert second.checkpoint() == state
    finally:
        second.close()


def test_crash_between_checkpoint_and_commit_resumes_at_the_checkpoint(bus: KafkaBus) -> None:
    """State saved but offsets not committed (killed in between): resume after what the state holds."""
    bus.produce(RAW_POSTS, records(10, keys=1))  # one partition, offsets 0..9
    first = bus.consumer([RAW_POSTS], "ckpt-crash")
    try:
        got = drain(first, 10)
        first.commit(got[:4], b"after-4")
        first._save({TopicPartition(bus.settings.topic(RAW_POSTS), got[0].partition): got[6].offset + 1}, b"after-7")
    finally:
        first.close()  # offsets committed only up to the 4th record
    second = bus.consumer([RAW_POSTS], "ckpt-crash")
    try:
        assert second.checkpoint() == b"after-7"
        assert [m.value for m in drain(second, 3)] == [b"v7", b"v8", b"v9"]
    finally:
        second.close()
