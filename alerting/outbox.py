"""Durable outbox (SQLite): at-least-once delivery with retries, exponential backoff and jitter.

Items are keyed by an idempotency key per (notification key, contact, channel); enqueueing the
same key twice is a no-op. ``DeliveryWorker.step(now)`` is pure in time (injected clock);
``run`` loops it in a thread so a down channel delays but never blocks the pipeline."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from yujing import metrics
from yujing.alerting.channels import Channel, DeliveryError
from yujing.alerting.message import render
from yujing.clock import Clock
from yujing.records import Alert

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
  idem TEXT PRIMARY KEY, alert TEXT NOT NULL, contact TEXT NOT NULL, channel TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_at TEXT NOT NULL, delivered_at TEXT, last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(delivered_at, next_at);
"""
# Added for escalation on an acknowledgement timer; an older outbox file gets them on open.
_STEP_COLUMNS = (("alert_key", "TEXT NOT NULL DEFAULT ''"), ("incident", "TEXT NOT NULL DEFAULT ''"),
                 ("status", "TEXT NOT NULL DEFAULT ''"), ("agency", "TEXT NOT NULL DEFAULT ''"),
                 ("step", "INTEGER NOT NULL DEFAULT 0"), ("enqueued_at", "TEXT NOT NULL DEFAULT ''"))


def idempotency_key(alert_key: str, contact: str, channel: str, step: int = 0) -> str:
    """One key per notification, contact, channel and escalation step (step 0 keeps the short form)."""
    return f"{alert_key}|{contact}|{channel}" + (f"|step{step}" if step else "")


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One escalation step of one notification to one agency, over all its channels."""

    alert_key: str
    incident: str
    status: str
    agency: str
    step: int
    enqueued: datetime
    first_delivered: datetime | None
    subject: str = ""  # platform/signal: a later notification about it takes over the escalation
    needs_ack: bool = True  # False for blue notices: nobody is paged about them


class Outbox:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.executescript(_SCHEMA)
        have = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
        for name, decl in _STEP_COLUMNS:
            if name not in have:
                self._db.execute(f"ALTER TABLE outbox ADD COLUMN {name} {decl}")
        self._db.execute("CREATE INDEX IF NOT EXISTS outbox_steps ON outbox(enqueued_at)")
        self._lock = threading.Lock()

    def enqueue(self, alert: Alert, contact: str, channel: str, now: datetime, *, agency: str = "",
                step: int = 0) -> bool:
        """Add one item; False if its idempotency key is already there (enqueueing is idempotent)."""
        key = idempotency_key(alert.key, contact, channel, step)
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO outbox(idem, alert, contact, channel, next_at, alert_key, incident, status, "
                "agency, step, enqueued_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (key, json.dumps(alert.to_dict(), ensure_ascii=False), contact, channel, now.isoformat(), alert.key,
                 str(alert.explanation.get("incident", "")), alert.status.value, agency, step, now.isoformat()))
        self._report()
        return cur.rowcount == 1

    def steps(self, since: datetime) -> list[StepRecord]:
        """Every (notification, agency, step) enqueued since ``since`` (firing and resolved), for escalation."""
        with self._lock:
            rows = self._db.execute(
                "SELECT alert_key, incident, status, agency, step, MIN(enqueued_at), MIN(delivered_at), "
                "json_extract(MIN(alert), '$.platform') || '/' || json_extract(MIN(alert), '$.signal'), "
                "json_extract(MIN(alert), '$.explanation.needs_ack') FROM outbox "
                "WHERE status != '' AND agency != '' AND enqueued_at >= ? "
                "GROUP BY alert_key, agency, step", (since.isoformat(),)).fetchall()
        return [StepRecord(k, inc, st, ag, int(n), datetime.fromisoformat(e),
                           datetime.fromisoformat(d) if d else None, subj or "", ack != 0)
                for k, inc, st, ag, n, e, d, subj, ack in rows]

    def alert(self, alert_key: str) -> Alert | None:
        """The stored notification with this key (any of its items), or None."""
        with self._lock:
            row = self._db.execute("SELECT alert FROM outbox WHERE alert_key=? LIMIT 1", (alert_key,)).fetchone()
        return Alert.from_dict(json.loads(row[0])) if row else None

    def due(self, now: datetime, limit: int = 100) -> list[tuple[str, Alert, str, str, int]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT idem, alert, contact, channel, attempts FROM outbox WHERE delivered_at IS NULL "
                "AND next_at <= ? ORDER BY next_at LIMIT ?", (now.isoformat(), limit)).fetchall()
        return [(r[0], Alert.from_dict(json.loads(r[1])), r[2], r[3], int(r[4])) for r in rows]

    def delivered(self, idem: str, now: datetime) -> None:
        with self._lock:
            self._db.execute("UPDATE outbox SET delivered_at=?, attempts=attempts+1 WHERE idem=?",
                             (now.isoformat(), idem))
        self._report()

    def failed(self, idem: str, next_at: datetime, error: str) -> None:
        with self._lock:
            self._db.execute("UPDATE outbox SET attempts=attempts+1, next_at=?, last_error=? WHERE idem=?",
                             (next_at.isoformat(), error[:500], idem))

    def pending(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL").fetchone()[0])

    def _report(self) -> None:
        metrics.set_outbox_pending(self.pending())

    def close(self) -> None:
        self._db.close()


def backoff(attempts: int, base: float = 2.0, cap: float = 600.0, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with full jitter in [d/2, d], d = min(cap, base * 2**attempts)."""
    d = min(cap, base * (2 ** attempts))
    r = (rng or random).random()
    return timedelta(seconds=d / 2 + r * d / 2)


class DeliveryWorker:
    def __init__(self, outbox: Outbox, channels: Mapping[str, Channel], clock: Clock, *,
                 rng: random.Random | None = None, on_error: Callable[[str, str], None] | None = None,
                 escalate: Callable[[datetime], object] | None = None) -> None:
        """``escalate(now)`` runs before each round (e.g. :meth:`yujing.alerting.escalation.Escalator.run`),
        so a next-step item it enqueues goes out in the same round."""
        self._outbox, self._channels, self._clock = outbox, channels, clock
        self._escalate = escalate
        self._rng = rng or random.Random()
        self._on_error = on_error
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self) -> int:
        """Try every due item once; returns the number delivered."""
        now = self._clock.now()
        if self._escalate is not None:
            self._escalate(now)
        done = 0
        for idem, alert, contact, channel, attempts in self._outbox.due(now):
            ch = self._channels.get(channel)
            try:
                if ch is None:
                    raise DeliveryError(f"unknown channel {channel!r}")
                ch.send(render(alert, contact), idem)
            except DeliveryError as exc:
                self._outbox.failed(idem, now + backoff(attempts, rng=self._rng), str(exc))
                metrics.notification(channel, "retried")
                if self._on_error:
                    self._on_error(idem, str(exc))
                continue
            self._outbox.delivered(idem, self._clock.now())
            metrics.notification(channel, "sent")
            done += 1
        return done

    def start(self, interval: float = 1.0) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.step()
                except Exception as exc:  # a store hiccup must not end the worker: report, retry next round
                    if self._on_error:
                        self._on_error("delivery round", f"{type(exc).__name__}: {exc}")
        self._thread = threading.Thread(target=loop, name="yujing-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
