"""The Kafka bus: the ``Bus`` contract of ``ingestion/bus.py`` over kafka-python.

- Topics are the logical names of ``bus.py`` behind a prefix (``raw.posts`` -> ``yujing.raw.posts``);
  they are created with ``partitions`` partitions at start-up, or must exist when
  ``create_topics`` is off. Consumed ``Message.topic`` is the logical name again.
- Producing is idempotent with ``acks=all``; ``produce`` returns once every record is acknowledged.
- Consumers commit by hand (after the downstream write), start a new group at the earliest offset,
  and read at most ``max_poll_records`` per poll so a batch fits in ``max_poll_interval_ms``; work
  slower than that runs through ``keep_alive`` (partitions paused, the group kept alive).
- Every kafka-python error leaves here as ``BusError(retryable=...)`` (see ``kafka_errors``).

Stage checkpoints (the alerter's windows) are tied to the offsets they cover, not to the commit:

1. ``commit(messages, checkpoint)`` first appends ``{offsets, state}`` to the one-partition topic
   ``checkpoints`` (key = group; compaction keeps the newest per group) and waits for the ack;
   ``offsets`` is the next offset per partition that the state has seen (the commit's offsets
   merged over the previous checkpoint's);
2. it then commits those offsets to the group as usual.

``checkpoint()`` returns the state of the group's newest record and remembers its offsets; when
the group assigns those partitions, the consumer seeks to them. So restored state and read position
always match, whatever happened between 1 and 2: a crash after 1 resumes after the records the
state already holds (their downstream writes were done before the checkpoint), a crash before 1
resumes at the previous checkpoint and reprocesses from its state. The offsets live in the record
(not in the commit metadata) because brokers may drop commit metadata (tansu 0.6 does) and limit
its size. State is per group, as on the embedded bus: run a stateful stage (the alerter) as one
member per group; a restart or a rebalance to a new member restores the same group state.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar

import kafka
import kafka.errors as ke
from kafka.net.compat import KafkaNetClient
from kafka.structs import OffsetAndMetadata, TopicPartition

from yujing.errors import BusError
from yujing.ingestion.bus import TOPICS, Message, OutRecord
from yujing.ingestion.kafka_errors import Context, translate
from yujing.ingestion.kafka_settings import (
    KafkaSettings,
    client_kwargs,
    consumer_kwargs,
    load_settings,
    parse_bus_url,
    producer_kwargs,
)

log = logging.getLogger(__name__)
CHECKPOINTS = "checkpoints"  # logical topic of stage states, one partition, keyed by group
T = TypeVar("T")
TOPIC_EXISTS = 36  # Kafka error code TOPIC_ALREADY_EXISTS
Partitions = list[tuple[str, int]]  # (logical topic, partition)
PartitionsCallback = Callable[[Partitions], None]
_REBALANCED = (ke.CommitFailedError, ke.RebalanceInProgressError, ke.IllegalGenerationError, ke.UnknownMemberIdError)


class KafkaBus:
    """A ``Bus`` on one Kafka cluster. Build it with ``KafkaBus.from_url("kafka://host:port")``."""

    def __init__(self, servers: tuple[str, ...], settings: KafkaSettings) -> None:
        self.servers = servers
        self.settings = settings
        self._producer: kafka.KafkaProducer | None = None
        self._known: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, settings: KafkaSettings | None = None) -> KafkaBus:
        """Connect to ``kafka://host:port[,host:port][?setting=value&...]`` and make sure the topics exist.

        ``settings`` defaults to the environment (``YUJING_KAFKA_*``); the URL's query overrides it.
        """
        servers, query = parse_bus_url(url)
        bus = cls(servers, load_settings(query, base=settings))
        bus.probe()
        bus.ensure_topics(TOPICS)
        return bus

    def probe(self) -> None:
        """Fail fast and clearly when no bootstrap server accepts a TCP connection.

        Checked with our own sockets, closed here: kafka-python 3.0.12 leaves the socket of a
        refused connection open, so an unreachable broker must be detected before its clients start.
        """
        timeout = self.settings.bootstrap_timeout_ms / 1000
        failures = []
        for server in self.servers:
            host, _, port = server.rpartition(":")
            try:
                with socket.create_connection((host, int(port)), timeout=timeout):
                    return
            except OSError as exc:
                failures.append(f"{server}: {exc.strerror or exc}")
        unreachable = ke.KafkaTimeoutError("bootstrap failed, " + "; ".join(failures))
        raise translate(unreachable, self.context("connect"))

    @property
    def event_time_slack(self) -> timedelta:
        """How far out of event-time order scored posts may reach the alerter (its reorder buffer)."""
        return timedelta(seconds=self.settings.event_time_slack_s)

    @property
    def url(self) -> str:
        return "kafka://" + ",".join(self.servers)

    def context(self, action: str) -> Context:
        return Context(action, self.servers, self.settings.security_protocol)

    @contextmanager
    def translated(self, action: str) -> Iterator[None]:
        """Turn kafka-python errors raised inside the block into ``BusError``."""
        with translating(self.context(action)):
            yield

    # -- topics ---------------------------------------------------------------------------------

    def ensure_topics(self, logical: Iterable[str]) -> None:
        """Create the missing topics (or fail clearly when ``create_topics`` is off)."""
        wanted = {self.settings.topic(name) for name in logical} - self._known
        if not wanted:
            return
        with self.translated("create topics " + ", ".join(sorted(wanted))):
            admin = self._admin()
            try:
                self._create_missing(admin, wanted - set(admin.list_topics()))
            finally:
                admin.close()
        self._known |= wanted

    def _admin(self) -> kafka.KafkaAdminClient:
        """An admin client; when it cannot bootstrap, its half-built network client is closed here
        (kafka-python 3.0.12 raises from the constructor and leaves that socket open)."""
        made: list[Any] = []

        def client(**configs: Any) -> Any:
            made.append(KafkaNetClient(**configs))
            return made[-1]

        try:
            return kafka.KafkaAdminClient(**client_kwargs(self.servers, self.settings), kafka_client=client)
        except BaseException:
            for half_built in made:
                half_built.close()  # what KafkaAdminClient.close does with its network client
                half_built._net.stop()
            raise

    def _create_missing(self, admin: kafka.KafkaAdminClient, missing: set[str]) -> None:
        if missing and not self.settings.create_topics:
            raise BusError(
                f"Kafka topics {', '.join(sorted(missing))} do not exist on {self.url}; create them "
                f"({self.settings.partitions} partitions) or set YUJING_KAFKA_CREATE_TOPICS=true",
                retryable=False,
            )
        if not missing:
            return
        spec = {"num_partitions": self.settings.partitions, "replication_factor": self.settings.replication_factor}
        result = admin.create_topics({name: dict(spec) for name in sorted(missing)}, raise_errors=False)
        for topic in result.get("topics", []):
            if topic["error_code"] not in (0, TOPIC_EXISTS):
                raise BusError(
                    f"cannot create Kafka topic {topic['name']} on {self.url}: {topic['error_message']}",
                    retryable=False,
                )
        log.info("created Kafka topics %s on %s", ", ".join(sorted(missing)), self.url)

    def partitions(self, topic: str) -> int:
        """How many partitions the logical ``topic`` has."""
        self.ensure_topics([topic])
        with self.translated(f"describe {self.settings.topic(topic)}"):
            found = self._producer_().partitions_for(self.settings.topic(topic))
        return len(found or ())

    # -- producing ------------------------------------------------------------------------------

    def _producer_(self) -> kafka.KafkaProducer:
        with self._lock:
            if self._producer is None:
                with self.translated("connect a producer"):
                    self._producer = kafka.KafkaProducer(**producer_kwargs(self.servers, self.settings))
            return self._producer

    def produce(self, topic: str, records: Sequence[OutRecord]) -> None:
        """Append ``records`` to ``topic``; returns once all are acknowledged by the in-sync replicas."""
        self._produce(topic, records)

    def save_checkpoint(self, group: str, state: bytes) -> int:
        """Append ``group``'s checkpoint record; returns its offset once acknowledged."""
        self._ensure_checkpoint_topic()
        return self._produce(CHECKPOINTS, [OutRecord(value=state, key=group.encode())])[0]

    def load_checkpoint(self, group: str) -> bytes | None:
        """The newest state record ``group`` saved on the checkpoint topic, or None."""
        self._ensure_checkpoint_topic()
        physical = self.settings.topic(CHECKPOINTS)
        key = group.encode()
        newest: bytes | None = None
        for _, record in self._read_from_start(physical, [0], f"read checkpoints of {group!r} from {physical}"):
            if record.key == key:
                newest = bytes(record.value)
        return newest

    def read_all(self, topic: str) -> list[Message]:
        """Every record of ``topic`` up to its end when called, read without a group (nothing joins, nothing is
        committed, no group is left behind on the broker), in (partition, offset) order."""
        self.ensure_topics([topic])
        physical = self.settings.topic(topic)
        out = [Message(topic, tp.partition, r.offset, r.key, r.value)
               for tp, r in self._read_from_start(physical, None, f"read {physical}")]
        return sorted(out, key=lambda m: (m.partition, m.offset))

    def _read_from_start(self, physical: str, partitions: Sequence[int] | None,
                         action: str) -> list[tuple[TopicPartition, Any]]:
        """(partition, record) of every record of ``physical`` (its ``partitions``, or all) from the beginning up
        to the end offsets at the start of the read, with a consumer outside any group."""
        out: list[tuple[TopicPartition, Any]] = []
        with self.translated(action):
            reader = kafka.KafkaConsumer(**consumer_kwargs(self.servers, self.settings, None))
            try:
                numbers = partitions if partitions is not None else sorted(reader.partitions_for_topic(physical) or ())
                parts = [TopicPartition(physical, p) for p in numbers]
                reader.assign(parts)
                reader.seek_to_beginning(*parts)
                ends = reader.end_offsets(parts)
                deadline = time.monotonic() + self.settings.request_timeout_ms / 1000
                while any(reader.position(tp) < ends[tp] for tp in parts):
                    if time.monotonic() > deadline:
                        raise BusError(f"timed out reading {physical} on {self.url}", retryable=True)
                    for tp, records in reader.poll(timeout_ms=200).items():
                        out += [(tp, r) for r in records if r.offset < ends[tp]]
            finally:
                reader.close(autocommit=False)
        return out

    def _ensure_checkpoint_topic(self) -> None:
        physical = self.settings.topic(CHECKPOINTS)
        if physical in self._known:
            return
        with self.translated(f"create topic {physical}"):
            admin = self._admin()
            try:
                if physical not in set(admin.list_topics()):
                    spec = {
                        "num_partitions": 1,
                        "replication_factor": self.settings.replication_factor,
                        "configs": {"cleanup.policy": "compact",
                                    "max.message.bytes": str(self.settings.max_request_bytes)},
                    }
                    if not self.settings.create_topics:
                        raise BusError(
                            f"Kafka topic {physical} does not exist on {self.url}; create it (1 partition, "
                            "cleanup.policy=compact) or set YUJING_KAFKA_CREATE_TOPICS=true",
                            retryable=False,
                        )
                    admin.create_topics({physical: spec}, raise_errors=False)
            finally:
                admin.close()
        self._known.add(physical)

    def _produce(self, topic: str, records: Sequence[OutRecord]) -> list[int]:
        if not records:
            return []
        if topic != CHECKPOINTS:
            self.ensure_topics([topic])
        physical = self.settings.topic(topic)
        producer = self._producer_()
        timeout = self.settings.delivery_timeout_ms / 1000
        with self.translated(f"produce to {physical}"):
            futures = [producer.send(physical, value=r.value, key=r.key, timestamp_ms=r.ts_ms) for r in records]
            producer.flush(timeout=timeout)
            return [int(future.get(timeout=timeout).offset) for future in futures]

    # -- consuming ------------------------------------------------------------------------------

    def consumer(
        self,
        topics: Sequence[str],
        group: str,
        *,
        on_assign: PartitionsCallback | None = None,
        on_revoke: PartitionsCallback | None = None,
    ) -> KafkaConsumer:
        """A member of consumer group ``group`` reading ``topics``; ``on_assign``/``on_revoke`` run
        inside ``poll`` when the group hands partitions to this member or takes them away."""
        self.ensure_topics(topics)
        physical = [self.settings.topic(t) for t in topics]
        with self.translated(f"join consumer group {group!r} on {', '.join(physical)}"):
            # Group ids carry the topic prefix too: deployments sharing a cluster never share a group.
            client = kafka.KafkaConsumer(**consumer_kwargs(self.servers, self.settings, self.settings.topic(group)))
            listener = _Listener(self.settings, on_assign, on_revoke)
            client.subscribe(physical, listener=listener)
        ctx = self.context(f"consume {', '.join(physical)} as {group!r}")
        consumer = KafkaConsumer(client, self.settings, ctx, bus=self, group=group, topics=tuple(topics))
        listener.seek_hook = consumer._assigned
        return consumer

    def close(self) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            with self.translated("flush and close the producer"):
                producer.close(timeout=self.settings.delivery_timeout_ms / 1000)


class KafkaConsumer:
    """The ``Consumer`` contract over one kafka-python consumer (one thread uses it)."""

    def __init__(
        self,
        client: kafka.KafkaConsumer,
        settings: KafkaSettings,
        ctx: Context,
        *,
        bus: KafkaBus | None = None,
        group: str = "",
        topics: tuple[str, ...] = (),
    ) -> None:
        self._bus = bus
        self._covered: dict[tuple[str, int], int] = {}  # offsets the saved (= in-memory) state has seen
        self._group = group
        self._topics = topics
        self._client = client
        self._settings = settings
        self._ctx = ctx
        # Fetched, not yet handed out, per partition: ``poll`` merges partitions in timestamp order.
        self._queues: dict[tuple[str, int], deque[Message]] = {}
        self._rewind_pending: set[tuple[str, int]] = set()  # (re)assigned, to seek in this thread

    def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Message]:
        """Up to ``min(max_records, max_poll_records)`` messages, merged across partitions in record
        timestamp (event time) order.

        A record is handed out only when every assigned partition either has a fetched record or
        has been read to its end, and it is the oldest of those heads (Kafka Streams does the same),
        so a backlog of several partitions comes out in time order instead of one partition's
        batch after another's. A partition that stays unknown longer than ``poll`` waits is not
        waited for again in this call (its records come later, and downstream reorders them).
        """
        limit = max(1, min(max_records, self._settings.max_poll_records))
        deadline = time.monotonic() + timeout_s
        out: list[Message] = []
        with translating(self._ctx):
            self._finish_join()
            while True:
                wait = max(0.0, deadline - time.monotonic())
                fetched = self._fetch(int(wait * 1000) if not out and not self._buffered() else 0, limit)
                self._emit(out, limit)
                if len(out) >= limit or time.monotonic() >= deadline:
                    break
                if not fetched and (out or not self._buffered()):
                    break
            if not out and self._buffered() and time.monotonic() >= deadline:
                self._emit(out, limit, force=True)  # waited a whole poll for a lagging partition
        return out

    def _buffered(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def _fetch(self, timeout_ms: int, limit: int) -> int:
        batches = self._client.poll(timeout_ms=timeout_ms, max_records=limit)
        n = 0
        for records in batches.values():
            for record in records:
                m = self._message(record)
                self._queues.setdefault((m.topic, m.partition), deque()).append(m)
                n += 1
        if self._rewind_pending:  # (re)assigned during this poll: drop what it fetched, seek back
            self._rewind()
            return 0
        return n

    def _emit(self, out: list[Message], limit: int, *, force: bool = False) -> None:
        """Move the oldest heads into ``out`` while no assigned partition could still hold older ones."""
        while len(out) < limit:
            heads: list[tuple[int, str, int, deque[Message]]] = []
            blocked = False
            for tp in self._client.assignment():
                key = (self._settings.logical(tp.topic), tp.partition)
                queue = self._queues.get(key)
                if queue:
                    heads.append((queue[0].ts_ms or 0, key[0], key[1], queue))
                elif not force and not self._at_end(tp):
                    blocked = True
            if not heads or (blocked and not force):
                return
            out.append(min(heads, key=lambda h: h[:3])[3].popleft())

    def _at_end(self, tp: TopicPartition) -> bool:
        high = self._client.highwater(tp)
        if high is None:
            return False
        return bool(self._client.position(tp) >= high)

    def _finish_join(self) -> None:
        """While the member (re)joins its group, wait for the join to finish (at most the rebalance
        timeout, ``max_poll_interval_ms``, plus a request timeout) before polling for records.

        kafka-python 3.0.12 drops a JoinGroup that completes while no ``poll`` is waiting on it (the
        next poll sees the finished task and sends a fresh JoinGroup). With short polls, and several
        consumers sharing one thread (``--role all``), most joins completed unobserved: each retry
        cost a full rebalance timeout and the group could take minutes to settle. Waiting here
        observes the join; it returns as soon as the group has answered.
        """
        if not self.joining():
            return
        coordinator = self._client._coordinator
        wait_ms = self._settings.max_poll_interval_ms + self._settings.request_timeout_ms
        if not coordinator.poll(timeout_ms=wait_ms):
            log.warning("%s: the group join did not finish within %d ms; retrying", self._ctx.action, wait_ms)

    def joining(self) -> bool:
        """Whether this member is (re)joining its group (no settled assignment yet)."""
        coordinator = getattr(self._client, "_coordinator", None)
        return coordinator is not None and bool(coordinator.need_rejoin())

    def join(self) -> None:
        """Finish joining the group now (several consumers can join at once from threads)."""
        with translating(self._ctx):
            self._finish_join()

    def _message(self, record: Any) -> Message:
        return Message(
            topic=self._settings.logical(record.topic),
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            ts_ms=record.timestamp if record.timestamp is not None and record.timestamp >= 0 else None,
        )

    def commit(self, messages: Sequence[Message], checkpoint: bytes | None = None) -> None:
        """Commit past the last of ``messages`` in each partition this member still owns.

        Partitions taken away by a rebalance are skipped: their new owner reads them again from the
        last commit (at-least-once), and downstream writes are idempotent.
        """
        offsets = _next_offsets(messages, self._settings)
        owned = self._client.assignment()
        if checkpoint is not None:
            self._save(offsets, checkpoint)
        mine = {tp: OffsetAndMetadata(off, "", -1) for tp, off in offsets.items() if tp in owned}
        if len(mine) < len(offsets):
            log.info("not committing %d partition(s) revoked by a rebalance", len(offsets) - len(mine))
        if not mine:
            return
        try:
            with translating(self._ctx):
                self._client.commit(mine)
        except BusError as exc:
            if not isinstance(exc.__cause__, _REBALANCED):
                raise
            # The group moved on (this member was too slow, or another joined): the partitions'
            # next owner reads them again from the last commit; downstream writes are idempotent.
            log.warning("commit skipped, the group rebalanced; %d partition(s) will be redelivered: %s",
                        len(mine), exc)

    def _save(self, offsets: dict[TopicPartition, int], state: bytes) -> None:
        if self._bus is None:
            raise BusError(f"{self._ctx.action}: this consumer cannot store checkpoints", retryable=False)
        for tp, off in offsets.items():
            self._covered[(self._settings.logical(tp.topic), tp.partition)] = off
        record = {  # the state compressed: an alerter's JSON state shrinks ~10x and stays under the record limit
            "offsets": [[t, p, o] for (t, p), o in sorted(self._covered.items())],
            "codec": "zlib",
            "state": base64.b64encode(zlib.compress(state, 6)).decode("ascii"),
        }
        self._bus.save_checkpoint(self._group, json.dumps(record).encode())

    def checkpoint(self) -> bytes | None:
        """The group's newest saved state; its partitions are read from the offsets it covers."""
        if self._bus is None:
            return None
        raw = self._bus.load_checkpoint(self._group)
        if raw is None:
            return None
        try:
            record = json.loads(raw)
            covered = {(str(t), int(p)): int(o) for t, p, o in record["offsets"]}
            state = base64.b64decode(record["state"])
            if record.get("codec") == "zlib":  # checkpoints before 2026-12-02 are uncompressed
                state = zlib.decompress(state)
        except (ValueError, KeyError, TypeError, zlib.error) as exc:
            raise BusError(
                f"{self._ctx.action}: checkpoint of group {self._group!r} on "
                f"{self._settings.topic(CHECKPOINTS)} is not valid ({exc}); delete it to start the stage afresh",
                retryable=False,
            ) from exc
        self._covered = dict(covered)
        return state

    def _assigned(self, partitions: Partitions) -> None:
        """After every (re)assignment, read each assigned partition again from the group's state.

        Runs inside kafka-python's poll, so it only notes the partitions; ``_rewind`` seeks them in
        this consumer's thread. kafka-python keeps the fetch position of a partition that stays
        assigned across a rebalance; but records fetched and not yet committed (queued here, or a
        batch whose commit the rebalance refused) would then never come again, and the lag would
        never reach 0. So every assigned partition restarts where the group's state says: the offset
        the stage's saved state covers (a stateful stage saves its state with every commit, so that is
        exactly what its in-memory state has counted), else the committed offset, else the beginning.
        Not an offset remembered from an earlier restore: a rebalance hours later would then rewind to
        it and count everything since a second time.
        """
        self._rewind_pending.update(partitions)
        assigned = set(partitions)
        self._queues = {k: q for k, q in self._queues.items() if k in assigned}

    def _rewind(self) -> None:
        pending, self._rewind_pending = self._rewind_pending, set()
        for topic, partition in sorted(pending):
            tp = TopicPartition(self._settings.topic(topic), partition)
            if tp not in self._client.assignment():
                continue
            offset = self._covered.get((topic, partition))
            if offset is None:
                offset = self._client.committed(tp)
            self._queues.pop((topic, partition), None)
            if offset is None:
                self._client.seek_to_beginning(tp)
            else:
                self._client.seek(tp, offset)

    def lag(self) -> int:
        """Records not yet committed in the partitions assigned to this member."""
        with translating(self._ctx):
            assigned = list(self._client.assignment())
            if not assigned:
                return 0
            ends = self._client.end_offsets(assigned)
            starts = self._client.beginning_offsets(assigned)
            return sum(self._partition_lag(tp, ends[tp], starts[tp]) for tp in assigned)

    def _partition_lag(self, tp: TopicPartition, end: int, start: int) -> int:
        # The high watermark from fetches is exact; some brokers (tansu 0.6) answer ListOffsets
        # with the last batch's base offset + 1, so take the larger of the two.
        end = max(end, self._client.highwater(tp) or 0)
        committed = self._client.committed(tp)
        return max(0, end - (start if committed is None else committed))

    def assignment(self) -> Partitions:
        return sorted((self._settings.logical(tp.topic), tp.partition) for tp in self._client.assignment())

    def committed(self, topic: str, partition: int) -> int | None:
        """The group's committed offset (next record to read) for a partition, or None."""
        with translating(self._ctx):
            offset = self._client.committed(TopicPartition(self._settings.topic(topic), partition))
        return None if offset is None else int(offset)

    def seek(self, topic: str, partition: int, offset: int) -> None:
        """Read ``partition`` from ``offset`` on (e.g. the offset a restored checkpoint covers)."""
        self._queues.pop((topic, partition), None)
        with translating(self._ctx):
            self._client.seek(TopicPartition(self._settings.topic(topic), partition), offset)

    def keep_alive(self, work: Callable[[], T]) -> T:
        """Run slow ``work`` in a thread while this thread keeps the group membership alive.

        Assigned partitions are paused and ``poll`` keeps being called, so scoring slower than
        ``max_poll_interval_ms`` does not get this member thrown out of the group. Records of
        partitions assigned meanwhile are held and returned by the next ``poll``.
        """
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="yujing-work") as pool:
            future = pool.submit(work)
            self._pause()
            try:
                return self._wait(future)
            finally:
                self._resume()

    def _wait(self, future: Future[T]) -> T:
        tick = min(1.0, self._settings.max_poll_interval_ms / 3000)
        while True:
            try:
                return future.result(timeout=tick)
            except FutureTimeout:
                self._pause()  # partitions assigned by a rebalance since the last tick
                with translating(self._ctx):
                    self._fetch(0, self._settings.max_poll_records)

    def _pause(self) -> None:
        self._client.pause(*self._client.assignment())

    def _resume(self) -> None:
        self._client.resume(*self._client.paused())

    def close(self) -> None:
        """Leave the group without committing anything more."""
        with translating(self._ctx):
            self._client.close(autocommit=False)


class _Listener(kafka.ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self, settings: KafkaSettings, on_assign: PartitionsCallback | None, on_revoke: PartitionsCallback | None
    ) -> None:
        self._settings = settings
        self._on_assign = on_assign
        self._on_revoke = on_revoke
        self.seek_hook: PartitionsCallback | None = None

    def _logical(self, tps: Iterable[TopicPartition]) -> Partitions:
        return sorted((self._settings.logical(tp.topic), tp.partition) for tp in tps)

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        if self._on_revoke is not None:
            self._on_revoke(self._logical(revoked))

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        if self.seek_hook is not None:
            self.seek_hook(self._logical(assigned))
        if self._on_assign is not None:
            self._on_assign(self._logical(assigned))


def _next_offsets(messages: Sequence[Message], settings: KafkaSettings) -> dict[TopicPartition, int]:
    offsets: dict[TopicPartition, int] = {}
    for m in messages:
        tp = TopicPartition(settings.topic(m.topic), m.partition)
        offsets[tp] = max(offsets.get(tp, 0), m.offset + 1)
    return offsets


@contextmanager
def translating(ctx: Context) -> Iterator[None]:
    try:
        yield
    except ke.KafkaError as exc:
        raise translate(exc, ctx) from exc
    except (ConnectionError, TimeoutError) as exc:
        raise translate(exc, ctx) from exc
