"""Running the pipeline's stages on Kafka: ``--until-idle`` that understands consumer groups.

``StageRunner.drain`` stops at the first round without records, which on Kafka is every round
before the group has assigned partitions. ``drain_until_idle`` stops only when every consumer
has partitions assigned, a round brings nothing, and nothing is left uncommitted (lag 0).
"""

from __future__ import annotations

import time

from yujing.errors import BusError
from yujing.ingestion.kafka_bus import KafkaConsumer
from yujing.pipeline import StageRunner


def drain_until_idle(runner: StageRunner, *, join_timeout_s: float = 120.0) -> int:
    """Process until the stages' partitions are assigned and fully committed; returns records done."""
    consumers = [c for c in runner._consumers if isinstance(c, KafkaConsumer)]
    total = 0
    deadline = time.monotonic() + join_timeout_s
    while True:
        n = runner.step()
        total += n
        if n:
            continue
        if all(c.assignment() for c in consumers):
            if all(c.lag() == 0 for c in consumers):
                return total
        elif time.monotonic() > deadline:
            raise BusError(
                f"no partitions assigned within {join_timeout_s:.0f}s; is another member holding the group, "
                "or is YUJING_KAFKA_MAX_POLL_INTERVAL_MS too long for the first join?",
                retryable=True,
            )
