"""Running the pipeline's stages on Kafka: one thread per stage, and ``--until-idle`` that
understands consumer groups.

Each stage gets its own ``StageRunner`` (so its own consumer) and its own thread. A Kafka consumer
must be polled within ``max_poll_interval_ms`` (also the rebalance timeout), and a member that is
joining waits for the join to finish (``KafkaConsumer._finish_join``); in one shared thread a
join or a slow batch of one stage would starve the others' polls, get them thrown out of their
groups, and the rejoins would starve the next ones (the cause of the e2e test's minute-long
stalls). One thread per consumer is how Kafka clients are meant to be driven.

``drain`` (``--until-idle``) stops at **quiescence**: every stage has partitions, has just had a
round that found nothing, and has nothing uncommitted (lag 0), all of it after the last round in
which any stage processed something. At quiescence nothing earlier can still arrive, so the
alerter's reorder buffer is flushed (in the alerter's own thread); the run ends when a quiescent
round flushes nothing more.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from yujing.errors import BusError
from yujing.ingestion.bus import DEAD_LETTERS, Bus
from yujing.ingestion.kafka_bus import KafkaConsumer, Partitions
from yujing.pipeline import Stage, StageRunner, raw_topic

if TYPE_CHECKING:
    from yujing.app import Decoded

log = logging.getLogger(__name__)
AssignmentCallback = Callable[[str, Partitions], None]


class ThreadedRunner:
    """``StageRunner``'s interface (open, drain, run_forever, close) with one thread per stage."""

    def __init__(self, bus: Bus, stages: Sequence[Stage], *, poll_timeout_s: float = 0.2,
                 join_timeout_s: float = 120.0, on_assignment: AssignmentCallback | None = None) -> None:
        self.on_assignment = on_assignment  # (group, partitions) whenever a stage's partitions change
        self._owned: list[Partitions | None] = [None] * len(stages)
        self.runners = [StageRunner(bus, [stage], poll_timeout_s=poll_timeout_s) for stage in stages]
        self.join_timeout_s = join_timeout_s
        self._lock = threading.Lock()
        self._activity = 0.0  # monotonic time of the last round that processed something
        self._idle_since: list[float | None] = [None] * len(stages)
        self._clean_since: list[float | None] = [None] * len(stages)
        self._assigned = [False] * len(stages)
        self.all_assigned_at: float | None = None  # monotonic time every stage first had partitions
        self._errors: list[BaseException] = []
        self.processed = 0

    def open(self) -> None:
        for runner in self.runners:
            runner.open()

    def _consumer(self, i: int) -> KafkaConsumer | None:
        consumer = self.runners[i]._consumers[0]
        return consumer if isinstance(consumer, KafkaConsumer) else None

    # -- batch runs -----------------------------------------------------------------------------

    def drain(self) -> int:
        """Run every stage until the whole pipeline is quiescent and flushed; returns records done."""
        deadline = time.monotonic() + self.join_timeout_s

        def finished() -> bool:
            with self._lock:
                if self._errors:
                    return True
                done = all(c is not None and c > self._activity for c in self._clean_since)
                unassigned = [r.stages[0].group for i, r in enumerate(self.runners) if not self._assigned[i]]
            if not done and unassigned and time.monotonic() > deadline:
                raise BusError(
                    f"no partitions assigned to {', '.join(unassigned)} within {self.join_timeout_s:.0f}s; "
                    "is another member holding the group, or is YUJING_KAFKA_MAX_POLL_INTERVAL_MS too long "
                    "for the first join?", retryable=True)
            return done

        self._in_threads(self._drain_one, threading.Event(), finished, every_s=0.1)
        return self.processed

    def _drain_one(self, i: int, stop: threading.Event) -> None:
        runner = self.runners[i]
        consumer = self._consumer(i)
        while not stop.is_set():
            started = time.monotonic()
            n = runner.step()
            self._report(i)
            if n:
                self._processed(i, n)
                continue
            if runner.held:  # paused after a retryable failure: not idle, retried after the pause
                with self._lock:
                    self._idle_since[i] = None
                stop.wait(0.05)
                continue
            assigned = consumer is None or bool(consumer.assignment())
            if assigned and not self._assigned[i]:
                with self._lock:
                    self._assigned[i] = True
                    if all(self._assigned):
                        self.all_assigned_at = time.monotonic()
            idle = assigned and (consumer is None or consumer.lag() == 0)
            with self._lock:
                self._idle_since[i] = started if idle else None
                quiescent = idle and all(s is not None and s > self._activity for s in self._idle_since)
            if quiescent:
                released = runner.flush()  # everything upstream is done: nothing earlier can arrive
                if released:
                    self._processed(i, released)
                    continue
                with self._lock:
                    self._clean_since[i] = started

    def _processed(self, i: int, n: int) -> None:
        with self._lock:
            self._activity = time.monotonic()
            self._idle_since[i] = None
            self._clean_since[i] = None
            self.processed += n

    # -- the long-running service ---------------------------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        self._in_threads(self._forever_one, stop)

    def _in_threads(self, target: Callable[[int, threading.Event], None], stop: threading.Event,
                    finished: Callable[[], bool] = lambda: False, every_s: float = 0.5) -> None:
        """Run ``target(i, stop)`` for every stage in a thread of its own until ``stop`` is set or
        ``finished()`` says so (checked every ``every_s``); then stop and join them all, and re-raise
        the first error a stage failed with."""
        threads = [threading.Thread(target=self._guard, args=(target, i, stop), name=f"yujing-stage-{i}")
                   for i in range(len(self.runners))]
        for thread in threads:
            thread.start()
        try:
            while not stop.wait(every_s):
                if finished():
                    break
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        if self._errors:
            raise self._errors[0]

    def _forever_one(self, i: int, stop: threading.Event) -> None:
        runner = self.runners[i]
        while not stop.is_set():
            n = runner.step()
            self._report(i)
            if n == 0 and runner.flush(idle_only=True) == 0:
                stop.wait(0.2)

    def _report(self, i: int) -> None:
        consumer = self._consumer(i)
        if consumer is None or self.on_assignment is None:
            return
        owned = consumer.assignment()
        if owned != self._owned[i]:
            self._owned[i] = owned
            self.on_assignment(self.runners[i].stages[0].group, owned)

    def _guard(self, target: Callable[[int, threading.Event], None], i: int, stop: threading.Event) -> None:
        try:
            target(i, stop)
        except BaseException as exc:  # handed to the main thread, which re-raises it
            log.error("stage %s failed: %s", self.runners[i].stages[0].group, exc)
            with self._lock:
                self._errors.append(exc)
            stop.set()

    def close(self) -> None:
        for runner in self.runners:
            runner.close()


def ingest_summary(bus: Bus, url: str, decoded: Decoded) -> dict[str, Any]:
    """``yujing ingest --json``: what went where (topic names as on the bus, prefixed on Kafka)."""
    settings = getattr(bus, "settings", None)
    name = settings.topic if settings is not None else (lambda logical: logical)
    topics: dict[str, int] = {}
    for post in decoded.posts:
        topic = name(raw_topic(post))
        topics[topic] = topics.get(topic, 0) + 1
    return {
        "bus": url,
        "posts": len(decoded.posts),
        "topics": topics,
        "dead_lettered": len(decoded.dead),
        "dead_letter_topic": name(DEAD_LETTERS),
        "dead_letters": [{"origin": d.origin, "reason": d.reason} for d in decoded.dead],
    }
