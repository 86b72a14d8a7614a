"""The embedded bus: a durable log of topics in one SQLite file (WAL), with group offsets.

One partition per topic. A consumer of several topics reads them in the order they were
written (a global sequence), so a time-ordered intake of posts and complaints stays
time-ordered. Producers append in one transaction per batch; consumers read past the group's
committed offset and commit after the downstream write, so a killed process resumes from the
last commit: nothing lost, and (with idempotent downstream writes) nothing duplicated. Several
processes may share the file (``yujing ingest`` beside ``yujing run``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from yujing.errors import BusError
from yujing.ingestion.bus import Message, OutRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL, offset INTEGER NOT NULL, key BLOB, value BLOB NOT NULL,
    UNIQUE (topic, offset)
);
CREATE TABLE IF NOT EXISTS offsets (
    grp TEXT NOT NULL, topic TEXT NOT NULL, offset INTEGER NOT NULL, PRIMARY KEY (grp, topic)
);
CREATE TABLE IF NOT EXISTS checkpoints (grp TEXT PRIMARY KEY, state BLOB NOT NULL);
"""


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(_SCHEMA)
    return conn


class SqliteConsumer:
    def __init__(self, conn: sqlite3.Connection, topics: Sequence[str], group: str, poll_interval_s: float) -> None:
        self._conn = conn
        self._topics = tuple(topics)
        self._group = group
        self._poll_interval_s = poll_interval_s
        self._position = {t: self._committed(t) for t in self._topics}

    def _committed(self, topic: str) -> int:
        row = self._conn.execute(
            "SELECT offset FROM offsets WHERE grp = ? AND topic = ?", (self._group, topic)
        ).fetchone()
        return int(row[0]) if row else -1

    def _read(self, max_records: int) -> list[Message]:
        where = " OR ".join("(topic = ? AND offset > ?)" for _ in self._topics)
        params = [v for t in self._topics for v in (t, self._position[t])]
        rows = self._conn.execute(
            f"SELECT topic, offset, key, value FROM log WHERE {where} ORDER BY seq LIMIT ?",
            (*params, max_records),
        ).fetchall()
        out = [Message(t, 0, int(o), k, v) for t, o, k, v in rows]
        for m in out:
            self._position[m.topic] = m.offset
        return out

    def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Message]:
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                batch = self._read(max_records)
                if batch or time.monotonic() >= deadline:
                    return batch
                time.sleep(min(self._poll_interval_s, max(0.0, deadline - time.monotonic())))
        except sqlite3.Error as exc:
            raise BusError(f"embedded bus read failed: {exc}", retryable=True) from exc

    def commit(self, messages: Sequence[Message], checkpoint: bytes | None = None) -> None:
        last: dict[str, int] = {}
        for m in messages:
            last[m.topic] = max(m.offset, last.get(m.topic, -1))
        try:
            with self._conn:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany(
                    "INSERT INTO offsets (grp, topic, offset) VALUES (?, ?, ?) "
                    "ON CONFLICT (grp, topic) DO UPDATE SET offset = max(offset, excluded.offset)",
                    [(self._group, t, o) for t, o in last.items()],
                )
                if checkpoint is not None:
                    self._conn.execute(
                        "INSERT OR REPLACE INTO checkpoints (grp, state) VALUES (?, ?)", (self._group, checkpoint)
                    )
        except sqlite3.Error as exc:
            raise BusError(f"embedded bus commit failed: {exc}", retryable=True) from exc

    def checkpoint(self) -> bytes | None:
        row = self._conn.execute("SELECT state FROM checkpoints WHERE grp = ?", (self._group,)).fetchone()
        return bytes(row[0]) if row else None

    def lag(self) -> int:
        total = 0
        for topic in self._topics:
            row = self._conn.execute("SELECT max(offset) FROM log WHERE topic = ?", (topic,)).fetchone()
            if row and row[0] is not None:
                total += int(row[0]) - self._committed(topic)
        return total

    def close(self) -> None:
        """Uncommitted reads are forgotten; the next consumer of the group starts at the commit."""
        self._conn.close()


class SqliteBus:
    """``sqlite:///path/bus.db``: topics and offsets in one durable file."""

    def __init__(self, path: Path, poll_interval_s: float = 0.05) -> None:
        self.path = path
        try:
            self._conn = _connect(path)
        except sqlite3.Error as exc:
            raise BusError(f"cannot open embedded bus {path}: {exc}; check the path is writable",
                           retryable=False) from exc
        self._poll_interval_s = poll_interval_s

    def produce(self, topic: str, records: Sequence[OutRecord]) -> None:
        if not records:
            return
        try:
            with self._conn:
                self._conn.execute("BEGIN IMMEDIATE")
                row = self._conn.execute("SELECT max(offset) FROM log WHERE topic = ?", (topic,)).fetchone()
                start = (int(row[0]) + 1) if row and row[0] is not None else 0
                self._conn.executemany(
                    "INSERT INTO log (topic, offset, key, value) VALUES (?, ?, ?, ?)",
                    [(topic, start + i, r.key, r.value) for i, r in enumerate(records)],
                )
        except sqlite3.Error as exc:
            raise BusError(f"embedded bus write to {topic} failed: {exc}", retryable=True) from exc

    def consumer(self, topics: Sequence[str], group: str) -> SqliteConsumer:
        return SqliteConsumer(_connect(self.path), topics, group, self._poll_interval_s)

    def read_all(self, topic: str) -> list[Message]:
        rows = self._conn.execute("SELECT offset, key, value FROM log WHERE topic = ? ORDER BY offset", (topic,))
        return [Message(topic, 0, int(offset), key, value) for offset, key, value in rows]

    def end_offsets(self, topic: str) -> int:
        row = self._conn.execute("SELECT count(*) FROM log WHERE topic = ?", (topic,)).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._conn.close()
