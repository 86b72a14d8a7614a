"""The pipeline: stages over a Bus, identical on the embedded log and on Kafka.

    raw.posts / raw.complaints ──score──▶ scored.posts ──index──▶ store
                                               └──────alert──▶ warnings ──index──▶ store
                                                                    └──notify──▶ outbox → channels

Each stage consumes a batch, writes downstream, then commits (at-least-once; downstream writes are
idempotent by post id and notification key). Scored posts are keyed by platform, one record per
platform named, so the alerter that owns a platform's partition sees all of that platform's posts
and only counts the platform it owns. Everything runs on event time: the alerter's clock is the
newest post it has seen, so a recorded stream replays with the same warnings.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from yujing import metrics
from yujing.alerting.explain import is_page
from yujing.errors import AdapterError, BackpressureError, InputError
from yujing.ingestion.bus import (
    DEAD_LETTERS,
    RAW_COMPLAINTS,
    RAW_POSTS,
    SCORED_POSTS,
    WARNINGS,
    Bus,
    Consumer,
    Message,
    OutRecord,
)
from yujing.ingestion.decode import DEFAULT_MAX_TEXT_CHARS, DecodeOptions, raw_record_post
from yujing.ingestion.reorder import Held, ReorderBuffer
from yujing.models.attribution import PlatformMatcher
from yujing.models.scorer import Scorer, labels_for
from yujing.privacy import redact_line
from yujing.records import Alert, DeadLetter, Post, ScoredPost, Source, to_json
from yujing.search.store import Store

if TYPE_CHECKING:
    from yujing.alerting.service import Alerting

ROLES = ("scorer", "indexer", "alerter", "all")
log = logging.getLogger(__name__)
T = TypeVar("T")


def raw_topic(post: Post) -> str:
    return RAW_COMPLAINTS if post.source is Source.COMPLAINT else RAW_POSTS


def produce_posts(bus: Bus, posts: Sequence[Post]) -> None:
    """Append decoded posts to their raw topic, keyed by post id, keeping their order across topics."""
    for topic, run in itertools.groupby(posts, key=raw_topic):
        bus.produce(topic, [OutRecord(to_json(p), p.id.encode(), ts_ms(p.ts)) for p in run])


def produce_dead_letters(bus: Bus, letters: Sequence[DeadLetter]) -> None:
    if letters:
        bus.produce(DEAD_LETTERS, [OutRecord(to_json(d), d.origin.encode()) for d in letters])
    for letter in letters:
        metrics.dead_letter(letter.stage, letter.reason.split(":", 1)[0])


class Stage(Protocol):
    group: str
    topics: tuple[str, ...]

    def handle(self, batch: Sequence[Message]) -> bytes | None:
        """Process a batch and write downstream; return a checkpoint to commit with it, or None."""
        ...

    def restore(self, checkpoint: bytes | None) -> None: ...


def ts_ms(ts: datetime) -> int:
    """A record timestamp (epoch ms) for an event time: Kafka consumers merge partitions by it."""
    return int(ts.timestamp() * 1000)


def _scored_records(sp: ScoredPost) -> list[OutRecord]:
    value = to_json(sp)
    if not sp.platforms:
        return [OutRecord(value, None, ts_ms(sp.ts))]
    return [OutRecord(value, platform.encode(), ts_ms(sp.ts)) for platform in sp.platforms]


class ScoreStage:
    """raw posts → scored posts (scores, labels, platforms); undecodable records → dead letters."""

    group = "yujing-scorer"
    topics: tuple[str, ...] = (RAW_POSTS, RAW_COMPLAINTS)

    def __init__(self, bus: Bus, scorer: Scorer, matcher: PlatformMatcher, key: bytes,
                 max_text_chars: int = DEFAULT_MAX_TEXT_CHARS) -> None:
        self._bus = bus
        self._scorer = scorer
        self._matcher = matcher
        self._model = f"{scorer.name}@{scorer.version}"
        self._key = key  # the pseudonym key, for records a producer wrote to a raw topic unpseudonymised
        # a raw topic is an entry point like `yujing ingest`: its records are checked the same way
        self._opts = DecodeOptions(key=key, max_text_chars=max_text_chars)

    def score_posts(self, posts: Sequence[Post]) -> list[ScoredPost]:
        with metrics.time_scoring(self._model):
            scores = self._scorer.score([p.text for p in posts])
        return [
            ScoredPost(p, s, labels_for(s, self._scorer.thresholds), self._matcher.platforms(p.text), self._model)
            for p, s in zip(posts, scores, strict=True)
        ]

    def handle(self, batch: Sequence[Message]) -> bytes | None:
        posts, dead = decode_messages(batch, self._raw_post, stage="score")
        dead = [dataclasses.replace(d, raw=redact_line(d.raw, self._key)) for d in dead]
        records = [r for sp in self.score_posts(posts) for r in _scored_records(sp)]
        if records:
            self._bus.produce(SCORED_POSTS, records)
        produce_dead_letters(self._bus, dead)
        metrics.stage_records("score", len(posts))
        return None

    def _raw_post(self, obj: dict[str, Any]) -> Post:
        """``yujing ingest`` and the intake endpoint decode and pseudonymise before they produce; a crawler that
        writes to a raw topic itself may not, so every raw record is checked here before anything stores it."""
        return raw_record_post(obj, self._opts)

    def restore(self, checkpoint: bytes | None) -> None:
        """Stateless."""


class IndexStage:
    """scored posts and warnings → the store (idempotent upserts)."""

    group = "yujing-indexer"
    topics: tuple[str, ...] = (SCORED_POSTS, WARNINGS)

    def __init__(self, bus: Bus, store: Store) -> None:
        self._bus = bus
        self._store = store

    def handle(self, batch: Sequence[Message]) -> bytes | None:
        posts, dead = decode_messages([m for m in batch if m.topic == SCORED_POSTS], ScoredPost.from_dict, "index")
        alerts, dead2 = decode_messages([m for m in batch if m.topic == WARNINGS], Alert.from_dict, "index")
        # A replay's pages of a next contact are deliveries, not warnings: the live service keeps them in its
        # outbox, so the index holds the same warnings whether the stream was live or replayed.
        alerts = [a for a in alerts if not is_page(a.explanation)]
        unique = list({sp.id: sp for sp in posts}.values())
        if unique:
            self._store.index_posts(unique)
        if alerts:
            self._store.index_alerts(alerts)
        produce_dead_letters(self._bus, dead + dead2)
        metrics.stage_records("index", len(unique) + len(alerts))
        return None

    def restore(self, checkpoint: bytes | None) -> None:
        """Stateless."""


class AlertStage:
    """scored posts → warnings, per platform × signal windows in event time.

    Scored posts pass through an event-time reorder buffer (``ingestion/reorder.py``) first: on
    Kafka several scorers interleave a platform's posts, and the buffer releases them in event-time
    order once the watermark passes them. Its held records are part of the checkpoint.
    """

    group = "yujing-alerter"
    topics: tuple[str, ...] = (SCORED_POSTS,)

    def __init__(self, bus: Bus, alerting: Alerting, reorder: ReorderBuffer | None = None) -> None:
        self._bus = bus
        self._alerting = alerting
        self._reorder = reorder if reorder is not None else ReorderBuffer()
        self.flush_when_idle = self._reorder.slack == timedelta(0)  # an in-order source: idle means caught up
        self._late_reported = 0
        self._initial = self._state()  # what restore(None) goes back to

    def handle(self, batch: Sequence[Message]) -> bytes | None:
        pairs, dead = decode_pairs(batch, ScoredPost.from_dict, "alert")
        due = self._reorder.push(Held(sp.ts, (sp.id, m.key.decode() if m.key else ""), m.key, m.value, sp)
                                 for m, sp in pairs)
        self._emit(due)
        produce_dead_letters(self._bus, dead)
        metrics.stage_records("alert", len(pairs))
        return self._state()

    def flush(self) -> tuple[int, bytes | None]:
        """Release every held post (the end of a batch run); returns (released, checkpoint)."""
        due = self._reorder.flush()
        if not due:
            return 0, None
        self._emit(due)
        return len(due), self._state()

    def _emit(self, due: Sequence[Held]) -> None:
        if self._reorder.late > self._late_reported:
            log.warning("%d scored post(s) so far reached the alerter later than the reorder slack (%s); they were "
                        "counted out of event-time order: raise YUJING_KAFKA_EVENT_TIME_SLACK_S if this persists",
                        self._reorder.late, self._reorder.slack)
            self._late_reported = self._reorder.late
        alerts: list[Alert] = []
        dropped, copies = self._alerting.dropped_late, self._alerting.duplicates
        for held in due:
            sp = held.decoded if isinstance(held.decoded, ScoredPost) else ScoredPost.from_dict(json.loads(held.value))
            owned = dataclasses.replace(sp, platforms=(held.key.decode(),)) if held.key else sp
            alerts.extend(self._alerting.observe(owned))
        if due:
            alerts.extend(self._alerting.advance(max(h.ts for h in due)))
        if self._alerting.dropped_late > dropped:
            log.warning("%d scored post(s) were older than the rules' horizon (%s) behind the newest post and were not "
                        "counted (%d so far): feed a stream in event-time order, e.g. `yujing replay` sorts a file",
                        self._alerting.dropped_late - dropped, self._alerting.rules.horizon,
                        self._alerting.dropped_late)
        if self._alerting.duplicates > copies:
            log.info("%d redelivered post(s) were already counted and were not counted again",
                     self._alerting.duplicates - copies)
        self._publish(alerts)

    def _publish(self, alerts: Sequence[Alert]) -> None:
        if alerts:
            self._bus.produce(WARNINGS, [OutRecord(to_json(a), a.platform.encode()) for a in alerts])
        for alert in alerts:
            metrics.alert_raised(alert.signal.value, alert.level.value)

    def close_out(self) -> tuple[int, bytes | None]:
        """The end of a replay: event time moves one ``group_wait`` past the newest post (as
        :func:`~yujing.alerting.service.collect` does), so warnings decided in the stream's last minutes go out
        instead of waiting for a post that never comes. Returns (notifications, checkpoint)."""
        self.flush()
        watermark = self._alerting.watermark
        if watermark is None:
            return 0, None
        alerts = self._alerting.advance(watermark + self._alerting.routing.notify.group_wait)
        self._publish(alerts)
        return len(alerts), self._state()

    def _state(self) -> bytes:
        state = {"alerting": json.loads(self._alerting.snapshot()), "reorder": self._reorder.state()}
        return json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode()

    def restore(self, checkpoint: bytes | None) -> None:
        state = json.loads(self._initial if checkpoint is None else checkpoint)
        if "alerting" not in state:  # a checkpoint from before the reorder buffer: the alerting state alone
            state = {"alerting": state, "reorder": ReorderBuffer().state()}
        self._alerting.restore(json.dumps(state["alerting"], ensure_ascii=False).encode())
        self._reorder.load(state["reorder"])


class NotifyStage:
    """warnings → the sink (outbox and channels; stdout in a replay), each notification key once."""

    group = "yujing-notifier"
    topics: tuple[str, ...] = (WARNINGS,)

    def __init__(self, bus: Bus, sink: Callable[[Sequence[Alert]], None]) -> None:
        self._bus = bus
        self._sink = sink
        self._seen: set[str] = set()

    def handle(self, batch: Sequence[Message]) -> bytes | None:
        alerts, dead = decode_messages(batch, Alert.from_dict, "deliver")
        fresh = []
        for alert in alerts:  # one by one: a redelivered batch may hold the same key twice
            if alert.key not in self._seen:
                self._seen.add(alert.key)
                fresh.append(alert)
        if fresh:
            self._sink(fresh)
        produce_dead_letters(self._bus, dead)
        return None

    def restore(self, checkpoint: bytes | None) -> None:
        """The sink is idempotent by key; nothing to restore."""


def decode_pairs(
    batch: Iterable[Message], parse: Callable[[dict[str, Any]], T], stage: str
) -> tuple[list[tuple[Message, T]], list[DeadLetter]]:
    """Parse bus records; a record that fails becomes a dead letter naming its topic/offset."""
    ok: list[tuple[Message, T]] = []
    dead: list[DeadLetter] = []
    for m in batch:
        if m.value is None:  # a tombstone or a producer's bug: nothing to parse, but never a crash loop
            dead.append(DeadLetter(m.origin, f"undecodable {m.topic} record: no value (null)", "", stage))
            continue
        try:
            ok.append((m, parse(json.loads(m.value))))
        except (ValueError, KeyError, TypeError, InputError) as exc:
            reason = f"undecodable {m.topic} record: {type(exc).__name__}: {exc}"
            dead.append(DeadLetter(m.origin, reason, m.value.decode("utf-8", "backslashreplace"), stage))
    return ok, dead


def decode_messages(
    batch: Iterable[Message], parse: Callable[[dict[str, Any]], T], stage: str
) -> tuple[list[T], list[DeadLetter]]:
    pairs, dead = decode_pairs(batch, parse, stage)
    return [record for _, record in pairs], dead


@dataclass
class StageRunner:
    """Runs stages round-robin in one thread: poll → handle → commit (with checkpoint).

    Backpressure: when a stage's downstream write fails with a retryable adapter error (the store
    answers 429, the search server or the broker is briefly down), the batch is not committed. The
    stage's state is restored from its last committed checkpoint, the batch is held, and the stage
    pauses (``pause_for``: the server's Retry-After, else exponential backoff) before the same batch is
    tried again. Other stages keep running; nothing is dropped and nothing is counted twice.
    Non-retryable errors propagate.
    """

    bus: Bus
    stages: Sequence[Stage]
    max_records: int = 256
    poll_timeout_s: float = 0.05
    on_batch: Callable[[Stage, int], None] | None = None
    lag_every_s: float = 5.0
    clock: Callable[[], float] = time.monotonic
    _consumers: list[Consumer] = field(default_factory=list)
    _lag_reported: dict[str, float] = field(default_factory=dict)
    _held: dict[int, list[Message]] = field(default_factory=dict)
    _paused_until: dict[int, float] = field(default_factory=dict)
    _failures: dict[int, int] = field(default_factory=dict)

    def open(self) -> None:
        for stage in self.stages:
            consumer = self.bus.consumer(stage.topics, stage.group)
            stage.restore(consumer.checkpoint())
            self._consumers.append(consumer)

    def step(self) -> int:
        """One round over all stages; returns how many records were processed."""
        done = 0
        for i, (stage, consumer) in enumerate(zip(self.stages, self._consumers, strict=True)):
            if self.clock() < self._paused_until.get(i, 0.0):
                continue
            batch = self._held.pop(i, None) or consumer.poll(self.max_records, self.poll_timeout_s)
            if not batch:
                continue
            try:
                checkpoint = stage.handle(batch)
            except AdapterError as exc:
                if not exc.retryable:
                    raise
                self._hold(i, stage, consumer, batch, exc)
                continue
            self._failures.pop(i, None)
            consumer.commit(batch, checkpoint)
            done += len(batch)
            self._report_lag(stage, consumer)
            if self.on_batch is not None:
                self.on_batch(stage, len(batch))
        return done

    def _hold(self, i: int, stage: Stage, consumer: Consumer, batch: list[Message], exc: AdapterError) -> None:
        from yujing.search.intake import pause_for

        failures = self._failures.get(i, 0) + 1
        self._failures[i] = failures
        pause = pause_for(exc, failures)
        self._held[i] = batch
        self._paused_until[i] = self.clock() + pause
        stage.restore(consumer.checkpoint())  # undo what the failed batch did to the stage's state
        if isinstance(exc, BackpressureError):
            metrics.store_backpressure()
        log.warning("%s paused %.1fs after failure %d (%d records held, not committed): %s",
                    stage.group, pause, failures, len(batch), exc)

    @property
    def held(self) -> int:
        """Records held back by paused stages (not committed; retried after the pause)."""
        return sum(len(b) for b in self._held.values())

    def _report_lag(self, stage: Stage, consumer: Consumer) -> None:
        now = time.monotonic()
        if now - self._lag_reported.get(stage.group, 0.0) >= self.lag_every_s:
            self._lag_reported[stage.group] = now
            metrics.set_consumer_lag(stage.group, ",".join(stage.topics), consumer.lag())

    def drain(self) -> int:
        """Run until every stage finds nothing new and holds nothing back (a replay's end)."""
        total = 0
        while True:
            while (n := self.step()) > 0 or self._held:
                total += n
                if n == 0:  # only paused stages are left: wait for the first pause to end
                    time.sleep(max(0.0, min(self._paused_until.values(), default=0.0) - self.clock()))
            if self.flush() == 0:
                return total

    def flush(self, *, idle_only: bool = False) -> int:
        """Release what stages hold back for event-time order (their ``flush``) and commit their
        new state; ``idle_only``: only stages whose source is in order (``flush_when_idle``)."""
        released = 0
        for stage, consumer in zip(self.stages, self._consumers, strict=True):
            flush = getattr(stage, "flush", None)
            if flush is None or (idle_only and not getattr(stage, "flush_when_idle", False)):
                continue
            n, checkpoint = flush()
            if checkpoint is not None:
                consumer.commit([], checkpoint)
            released += n
        return released

    def close_out(self) -> int:
        """The end of a replay (after :meth:`drain`): stages with a ``close_out`` let their pending event-time
        work finish (the alerter's last notification groups); then what they emitted is processed."""
        emitted = 0
        for stage, consumer in zip(self.stages, self._consumers, strict=True):
            close_out = getattr(stage, "close_out", None)
            if close_out is None:
                continue
            n, checkpoint = close_out()
            if checkpoint is not None:
                consumer.commit([], checkpoint)
            emitted += n
        self.drain()
        return emitted

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.step() == 0 and self.flush(idle_only=True) == 0:
                stop.wait(0.2)

    def close(self) -> None:
        for consumer in self._consumers:
            consumer.close()
        self._consumers.clear()


def event_time_of(alerts: Sequence[Alert]) -> datetime | None:
    return max((a.ts for a in alerts), default=None)
