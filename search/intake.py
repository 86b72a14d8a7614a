"""Intake that pauses instead of dropping: batches wait in order until the store takes them.

``submit`` queues a batch; ``drain(now)`` writes queued batches in order. A retryable failure
(server down, 429 BackpressureError) leaves the batch queued and pauses intake until
``now + delay`` (the server's Retry-After, or an exponential backoff); the caller stops consuming
while ``paused(now)`` and calls ``drain`` again later. A non-retryable failure raises: the caller
dead-letters that batch. Writes are idempotent, so a batch partly written before a failure is
simply written again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from yujing.errors import AdapterError, BackpressureError
from yujing.records import Alert, ScoredPost
from yujing.search.store import Store

MAX_PAUSE = 60.0


def pause_for(error: AdapterError, failures: int) -> float:
    """Seconds to pause after the ``failures``-th consecutive failure."""
    if isinstance(error, BackpressureError):
        return min(MAX_PAUSE, max(float(error.retry_after), 0.1))
    return float(min(MAX_PAUSE, 0.5 * 2 ** max(failures - 1, 0)))


@dataclass(frozen=True, slots=True)
class DrainReport:
    written: int  # documents written by this call
    pending: int  # documents still queued
    paused_until: datetime | None
    error: str = ""


class Intake:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: deque[tuple[str, Sequence[ScoredPost] | Sequence[Alert]]] = deque()
        self._paused_until: datetime | None = None
        self._failures = 0

    def submit_posts(self, posts: Sequence[ScoredPost]) -> None:
        if posts:
            self._queue.append(("posts", list(posts)))

    def submit_alerts(self, alerts: Sequence[Alert]) -> None:
        if alerts:
            self._queue.append(("alerts", list(alerts)))

    @property
    def pending(self) -> int:
        return sum(len(batch) for _, batch in self._queue)

    def paused(self, now: datetime) -> bool:
        return self._paused_until is not None and now < self._paused_until

    def _write(self, kind: str, batch: Sequence[ScoredPost] | Sequence[Alert]) -> None:
        if kind == "posts":
            self.store.index_posts(batch)  # type: ignore[arg-type]
        else:
            self.store.index_alerts(batch)  # type: ignore[arg-type]

    def drain(self, now: datetime) -> DrainReport:
        """Write what is queued unless paused; stop at the first retryable failure."""
        written = 0
        while self._queue and not self.paused(now):
            kind, batch = self._queue[0]
            try:
                self._write(kind, batch)
            except AdapterError as exc:
                if not exc.retryable:
                    self._queue.popleft()
                    raise
                self._failures += 1
                self._paused_until = now + timedelta(seconds=pause_for(exc, self._failures))
                return DrainReport(written, self.pending, self._paused_until, str(exc))
            self._queue.popleft()
            self._failures = 0
            self._paused_until = None
            written += len(batch)
        return DrainReport(written, self.pending, self._paused_until)
