"""EMBERS-style backtest: a warning is a hit when a ground-truth event for its platform follows
within ``horizon``; precision = hits / warnings, recall = events preceded by a warning / events,
lead time = event time - first warning of the episode before it. Pages of an agency's next contact are
the same warnings and are not counted again. Pure; the CLI replays the stream.

Events file (CSV, header ``platform,event,ts[,note]``; ``ts`` ISO-8601 with offset). From the
shared problem-platforms CSV, write one row per platform with its problem date as ``ts`` (09:00 +08:00)
and its problem type as ``event``; that file stays outside the repository."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from yujing.alerting.explain import is_page
from yujing.errors import ConfigError
from yujing.records import Alert, AlertStatus, Level


@dataclass(frozen=True)
class Event:
    platform: str
    kind: str
    ts: datetime


@dataclass
class PlatformReport:
    platform: str
    warnings: int = 0
    hits: int = 0
    events: int = 0
    detected: int = 0
    lead_hours: list[float] = field(default_factory=list)


@dataclass
class Report:
    platforms: dict[str, PlatformReport]
    precision: float
    recall: float

    def to_dict(self) -> dict[str, Any]:
        return {"precision": self.precision, "recall": self.recall,
                "platforms": {k: vars(v) for k, v in sorted(self.platforms.items())}}


def load_events(path: Path | str) -> list[Event]:
    out = []
    with open(path, encoding="utf-8", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh), start=2):
            try:
                ts = datetime.fromisoformat(row["ts"])
                if ts.tzinfo is None:
                    raise ValueError("no UTC offset")
                out.append(Event(row["platform"].strip(), row["event"].strip(), ts))
            except (KeyError, ValueError, AttributeError) as exc:
                raise ConfigError(str(path), "ts", f"expected ISO-8601 with offset and platform,event,ts ({exc})",
                                  i) from exc
    return out


def score(alerts: Iterable[Alert], events: Sequence[Event], horizon: timedelta = timedelta(days=7),
          min_level: Level = Level.YELLOW) -> Report:
    # A page (the same warning sent to an agency's next contact) is not another warning.
    warnings = [a for a in alerts if a.status is not AlertStatus.RESOLVED and a.level.rank >= min_level.rank
                and not is_page(a.explanation)]
    reports: dict[str, PlatformReport] = {}
    for a in warnings:
        r = reports.setdefault(a.platform, PlatformReport(a.platform))
        r.warnings += 1
        if any(e.platform == a.platform and a.ts <= e.ts <= a.ts + horizon for e in events):
            r.hits += 1
    for e in events:
        r = reports.setdefault(e.platform, PlatformReport(e.platform))
        r.events += 1
        before = [a.ts for a in warnings if a.platform == e.platform and e.ts - horizon <= a.ts <= e.ts]
        if before:
            r.detected += 1
            r.lead_hours.append(round((e.ts - min(before)).total_seconds() / 3600, 2))
    n_w = sum(r.warnings for r in reports.values())
    n_e = sum(r.events for r in reports.values())
    precision = sum(r.hits for r in reports.values()) / n_w if n_w else 0.0
    recall = sum(r.detected for r in reports.values()) / n_e if n_e else 0.0
    return Report(reports, round(precision, 3), round(recall, 3))
