"""Durable alert history, acknowledgements and silences (SQLite, one file, WAL).

History rows keep every notification and what became of it (notified, silenced, inhibited,
superseded), searchable by platform, signal, level, text and time; acknowledgements and
silences carry who did it and when. The service reads acks and silences through
``version()`` (SQLite's data_version), so a change by the CLI or the HTTP API is seen at once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from yujing.alerting.silences import Silence
from yujing.errors import StoreError
from yujing.records import Alert

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
  key TEXT PRIMARY KEY, incident TEXT NOT NULL, platform TEXT NOT NULL, signal TEXT NOT NULL,
  level TEXT NOT NULL, status TEXT NOT NULL, ts TEXT NOT NULL, outcome TEXT NOT NULL,
  summary TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alerts_incident ON alerts(incident);
CREATE INDEX IF NOT EXISTS alerts_ts ON alerts(ts);
CREATE TABLE IF NOT EXISTS acks (
  incident TEXT NOT NULL, by TEXT NOT NULL, ts TEXT NOT NULL, note TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (incident, by));
CREATE TABLE IF NOT EXISTS silences (
  id TEXT PRIMARY KEY, matchers TEXT NOT NULL, creator TEXT NOT NULL, comment TEXT NOT NULL,
  starts TEXT NOT NULL, ends TEXT NOT NULL, expired_by TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS outcomes (
  incident TEXT NOT NULL, by TEXT NOT NULL, ts TEXT NOT NULL, outcome TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class HistoryRow:
    alert: Alert
    outcome: str
    incident: str
    acks: tuple[dict[str, str], ...] = ()
    outcomes: tuple[dict[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"alert": self.alert.to_dict(), "outcome": self.outcome, "incident": self.incident,
                "acks": list(self.acks), "outcomes": list(self.outcomes)}


class AlertStore:
    """SQLite-backed history/acks/silences. Safe to share between threads (one lock)."""

    def __init__(self, path: Path | str = ":memory:") -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open alert store {self.path}: {exc}; check the path is writable",
                             retryable=False) from exc
        self._lock = threading.Lock()
        self._writes = 0

    def close(self) -> None:
        self._db.close()

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                rows = self._db.execute(sql, args).fetchall()
                if not sql.lstrip().upper().startswith("SELECT"):
                    self._writes += 1
                return rows
        except sqlite3.Error as exc:
            raise StoreError(f"alert store {self.path}: {exc}", retryable=isinstance(exc, sqlite3.OperationalError)) \
                from exc

    def version(self) -> int:
        """Changes whenever this or another connection commits acks/silences."""
        (data_version,) = self._run("PRAGMA data_version")[0]
        return int(data_version) * 1_000_000 + self._writes

    # ---- history -----------------------------------------------------------------------------

    def record(self, alert: Alert, outcome: str) -> None:
        incident = str(alert.explanation.get("incident", ""))
        self._run("INSERT OR REPLACE INTO alerts VALUES (?,?,?,?,?,?,?,?,?,?)",
                  (alert.key, incident, alert.platform, alert.signal.value, alert.level.value, alert.status.value,
                   alert.ts.isoformat(), outcome, str(alert.explanation.get("summary", "")),
                   json.dumps(alert.to_dict(), ensure_ascii=False)))

    def history(self, *, platform: str = "", signal: str = "", level: str = "", text: str = "",
                since: datetime | None = None, until: datetime | None = None, outcome: str = "",
                incident: str = "", agency: str = "", limit: int = 100) -> list[HistoryRow]:
        """Search the history, newest first. ``text`` matches the Chinese summary and body;
        ``agency``: only warnings routed to that agency (a duty officer's view)."""
        where, args = ["1=1"], []
        if agency:
            where.append("EXISTS (SELECT 1 FROM json_each(json_extract(body, '$.agencies')) WHERE value = ?)")
            args.append(agency)
        for column, value in (("platform", platform), ("signal", signal), ("level", level), ("outcome", outcome),
                              ("incident", incident)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        if text:
            where.append("(summary LIKE ? OR body LIKE ?)")
            args += [f"%{text}%", f"%{text}%"]
        if since is not None:
            where.append("ts >= ?")
            args.append(since.isoformat())
        if until is not None:
            where.append("ts < ?")
            args.append(until.isoformat())
        rows = self._run(f"SELECT body, outcome, incident FROM alerts WHERE {' AND '.join(where)} "
                         "ORDER BY ts DESC, key LIMIT ?", (*args, limit))
        return [self._row(body, out, inc) for body, out, inc in rows]

    def _row(self, body: str, outcome: str, incident: str) -> HistoryRow:
        acks = tuple({"by": b, "ts": t, "note": n} for b, t, n in
                     self._run("SELECT by, ts, note FROM acks WHERE incident=? ORDER BY ts", (incident,)))
        outs = tuple({"by": b, "ts": t, "outcome": o} for b, t, o in
                     self._run("SELECT by, ts, outcome FROM outcomes WHERE incident=? ORDER BY ts", (incident,)))
        return HistoryRow(Alert.from_dict(json.loads(body)), outcome, incident, acks, outs)

    def known_incident(self, incident: str) -> bool:
        return bool(self._run("SELECT 1 FROM alerts WHERE incident=? LIMIT 1", (incident,)))

    # ---- acknowledgements and outcomes -----------------------------------------------------------

    def acknowledge(self, incident: str, by: str, ts: datetime, note: str = "") -> None:
        self._run("INSERT OR IGNORE INTO acks VALUES (?,?,?,?)", (incident, by, ts.isoformat(), note))

    def acked_incidents(self) -> set[str]:
        return {row[0] for row in self._run("SELECT DISTINCT incident FROM acks")}

    def acks(self) -> dict[str, datetime]:
        """Acknowledged incidents with the time of their first acknowledgement."""
        return {row[0]: datetime.fromisoformat(row[1])
                for row in self._run("SELECT incident, MIN(ts) FROM acks GROUP BY incident")}

    def set_outcome(self, incident: str, by: str, ts: datetime, outcome: str) -> None:
        """What came of it, e.g. "platform visited, no gathering" — kept with the history."""
        self._run("INSERT INTO outcomes VALUES (?,?,?,?)", (incident, by, ts.isoformat(), outcome))

    # ---- silences ----------------------------------------------------------------------------

    def add_silence(self, silence: Silence) -> None:
        self._run("INSERT OR REPLACE INTO silences VALUES (?,?,?,?,?,?,?)",
                  (silence.id, json.dumps({k: list(v) for k, v in silence.matchers.items()}, ensure_ascii=False),
                   silence.creator, silence.comment, silence.starts.isoformat(), silence.ends.isoformat(),
                   silence.expired_by))

    def silences(self) -> list[Silence]:
        rows = self._run("SELECT id, matchers, creator, comment, starts, ends, expired_by FROM silences "
                         "ORDER BY starts")
        return [Silence(i, {k: tuple(v) for k, v in json.loads(m).items()}, c, note, datetime.fromisoformat(s),
                        datetime.fromisoformat(e), x) for i, m, c, note, s, e, x in rows]

    def expire_silence(self, silence_id: str, by: str, now: datetime) -> bool:
        found = self._run("SELECT ends FROM silences WHERE id=?", (silence_id,))
        if not found:
            return False
        ends = min(datetime.fromisoformat(found[0][0]), now)
        self._run("UPDATE silences SET ends=?, expired_by=? WHERE id=?", (ends.isoformat(), by, silence_id))
        return True


def new_silence_id() -> str:
    return f"sil-{uuid.uuid4().hex[:12]}"
