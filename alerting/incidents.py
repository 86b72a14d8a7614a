"""The life of one platform × signal warning, as a pure step function with ``now`` passed in.

An *incident* is one episode at one level; its id (``platform/signal/episode/level``) is what an
officer acknowledges. Each notification about it has its own idempotency key (incident + reason).

    step(incident, verdict level, now, policy) -> (incident', Notice | None)

Reasons: ``fired`` (new episode), ``escalated`` (a higher rule met), ``deescalated`` (a lower level
held for ``deescalate_after``), ``resolved`` (no rule met for ``resolve_after``), ``repeat`` (still
firing and unacknowledged after ``repeat_interval``). ``unacknowledged`` (an agency's next contact
paged after that agency's ``ack_timeout``) is not decided here but per agency by
:mod:`yujing.alerting.escalation`, on the wall clock in the live service and on event time in replay.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from yujing.records import Level


class Reason(enum.StrEnum):
    FIRED = "fired"
    ESCALATED = "escalated"
    DEESCALATED = "deescalated"
    RESOLVED = "resolved"
    REPEAT = "repeat"
    UNACKNOWLEDGED = "unacknowledged"


@dataclass(frozen=True, slots=True)
class Policy:
    deescalate_after: timedelta = timedelta(hours=3)
    resolve_after: timedelta = timedelta(hours=12)
    repeat_interval: timedelta = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Incident:
    platform: str
    signal: str
    episode: int
    level: Level
    rule: str
    started: datetime  # when the episode began
    since: datetime  # when this level was notified
    last_met: datetime  # last time any rule was met
    last_met_level: datetime  # last time a rule at this level or higher was met
    last_notified: datetime
    repeats: int = 0
    acked: bool = False
    earlier: tuple[str, ...] = ()  # the levels this episode was at before this one, in order

    @property
    def id(self) -> str:
        """``platform/signal/episode/level``; a level the episode returns to gets ``-2``, ``-3`` … so that its
        notifications and acknowledgements are its own (yellow → orange → yellow → orange: the second orange is
        ``…/orange-2``, and an acknowledgement of the first does not silence it)."""
        visit = self.earlier.count(self.level.value) + 1
        return f"{self.platform}/{self.signal}/{self.episode}/{self.level.value}" + (f"-{visit}" if visit > 1 else "")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Incident:
        times = ("started", "since", "last_met", "last_met_level", "last_notified")
        values: dict[str, Any] = {k: datetime.fromisoformat(v) if k in times else v for k, v in d.items()}
        values["level"] = Level(str(d["level"]))
        values["earlier"] = tuple(str(x) for x in d.get("earlier", ()))  # absent in snapshots before 2026-12-02
        values.pop("contact_step", None)  # snapshots before per-agency paging carried the incident's step
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Notice:
    reason: Reason
    incident: Incident
    previous: Level | None = None

    @property
    def key(self) -> str:
        suffix = f"repeat{self.incident.repeats}" if self.reason is Reason.REPEAT else self.reason.value
        return f"{self.incident.id}/{suffix}"


def _open(platform: str, signal: str, episode: int, level: Level, rule: str, now: datetime) -> Incident:
    return Incident(platform, signal, episode, level, rule, now, now, now, now, now)


def step(inc: Incident | None, level: Level | None, rule: str, now: datetime, policy: Policy,
         platform: str = "", signal: str = "", next_episode: int = 1) -> tuple[Incident | None, Notice | None]:
    """Advance one incident given the level its rules meet at ``now`` (None: no rule met)."""
    if inc is None:
        if level is None:
            return None, None
        new = _open(platform, signal, next_episode, level, rule, now)
        return new, Notice(Reason.FIRED, new)
    if level is not None and level.rank > inc.level.rank:
        new = replace(inc, level=level, rule=rule, since=now, last_met=now, last_met_level=now, last_notified=now,
                      repeats=0, acked=False, earlier=(*inc.earlier, inc.level.value))
        return new, Notice(Reason.ESCALATED, new, inc.level)
    if level is not None:
        inc = replace(inc, last_met=now, last_met_level=now if level is inc.level else inc.last_met_level)
    return _quiet_step(inc, level, rule, now, policy)


def _quiet_step(inc: Incident, level: Level | None, rule: str, now: datetime,
                policy: Policy) -> tuple[Incident | None, Notice | None]:
    if level is None and now - inc.last_met >= policy.resolve_after:
        return None, Notice(Reason.RESOLVED, replace(inc, last_notified=now), inc.level)
    if level is not None and level is not inc.level and now - inc.last_met_level >= policy.deescalate_after:
        new = replace(inc, level=level, rule=rule, since=now, last_met_level=now, last_notified=now, repeats=0,
                      acked=False, earlier=(*inc.earlier, inc.level.value))
        return new, Notice(Reason.DEESCALATED, new, inc.level)
    return _reminders(inc, now, policy)


def _reminders(inc: Incident, now: datetime, policy: Policy) -> tuple[Incident, Notice | None]:
    if inc.acked:
        return inc, None
    if now - inc.last_notified >= policy.repeat_interval:
        new = replace(inc, repeats=inc.repeats + 1, last_notified=now)
        return new, Notice(Reason.REPEAT, new)
    return inc, None
