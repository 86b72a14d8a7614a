"""The bus contract shared by the embedded log and Kafka.

A bus holds named topics of keyed byte records. Consumers belong to a group, read in order per
partition and commit offsets explicitly, *after* the downstream write, so a crash redelivers and
never loses (at-least-once; downstream writes are idempotent by post id / notification key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# Logical topic names; a deployment prefixes them (``yujing.`` by default).
RAW_POSTS = "raw.posts"
RAW_COMPLAINTS = "raw.complaints"
SCORED_POSTS = "scored.posts"
WARNINGS = "warnings"
DEAD_LETTERS = "deadletters"
TOPICS: tuple[str, ...] = (RAW_POSTS, RAW_COMPLAINTS, SCORED_POSTS, WARNINGS, DEAD_LETTERS)


@dataclass(frozen=True, slots=True)
class OutRecord:
    """A record to produce. ``key`` decides the partition (platform for scored posts); ``ts_ms`` is
    the record's event time (epoch ms), which Kafka consumers use to read partitions in time order."""

    value: bytes
    key: bytes | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """A consumed record and where it came from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    ts_ms: int | None = None  # the record's timestamp, where the bus keeps one (Kafka)

    @property
    def origin(self) -> str:
        return f"{self.topic}/{self.partition}@{self.offset}"


class Consumer(Protocol):
    def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Message]:
        """Return up to ``max_records`` messages, waiting at most ``timeout_s`` for the first."""
        ...

    def commit(self, messages: Sequence[Message], checkpoint: bytes | None = None) -> None:
        """Mark ``messages`` (and everything before them per partition) as processed.

        ``checkpoint`` is the consumer's state after processing them (the alerter's windows); it is
        stored atomically with the offsets, so a restart resumes state and position together.
        """
        ...

    def checkpoint(self) -> bytes | None:
        """The state saved with the last commit of this group, or None."""
        ...

    def lag(self) -> int:
        """Messages not yet committed across the assigned partitions."""
        ...

    def close(self) -> None: ...


class Bus(Protocol):
    def produce(self, topic: str, records: Sequence[OutRecord]) -> None:
        """Append records durably; returns once they are acknowledged."""
        ...

    def consumer(self, topics: Sequence[str], group: str) -> Consumer: ...

    def read_all(self, topic: str) -> list[Message]:
        """Every record of ``topic`` from the beginning, without a consumer group (for listings)."""
        ...

    def close(self) -> None: ...
