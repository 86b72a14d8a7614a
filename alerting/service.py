"""The alerting service: posts in, notifications out, all in event time.

    observe(post) ─► windows per platform × signal ─► rules ─► incident step ─► notice
                 ─► routing (agencies) ─► silences ─► inhibition ─► grouping (group_wait) ─► Alert

``observe`` and ``advance`` return exactly the notifications officers get now. Delivery (outbox,
channels) is separate: :mod:`yujing.alerting.delivery`. Decisions are pure functions of event
time; acknowledgements and silences come from the optional durable store.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from yujing.alerting import explain
from yujing.alerting.announce import extract
from yujing.alerting.escalation import EventTimePager
from yujing.alerting.incidents import Incident, Notice, Policy, Reason, step
from yujing.alerting.receivers import Receivers
from yujing.alerting.routing import Routing, inhibited, load_routes, route
from yujing.alerting.rules import RuleSet, Verdict, evaluate, load_rules
from yujing.alerting.silences import Silence, silenced_by
from yujing.alerting.simhash import Clusters
from yujing.alerting.store import AlertStore
from yujing.alerting.windows import EXCERPT_CHARS, Entry, SignalWindow, Totals
from yujing.records import SIGNALS, Alert, AlertStatus, Level, ScoredPost, Signal
from yujing.registry import Registry

_TICK = timedelta(minutes=1)
_DAWN = datetime.min.replace(tzinfo=UTC)
_SLACK = timedelta(hours=1)


@dataclass
class _Platform:
    totals: Totals  # every counted post's time (the share's denominator) and id
    clusters: Clusters
    signals: dict[Signal, SignalWindow]


@dataclass
class _Pending:
    opened: datetime
    alerts: dict[str, Alert] = field(default_factory=dict)  # by platform/signal


class Alerting:
    """Windows, rules, incidents and the notification gate for every platform × signal."""

    def __init__(self, registry: Registry, rules: RuleSet, routing: Routing, *, store: AlertStore | None = None,
                 ack_url: str = "", ack_secret: bytes = b"", policy: Policy | None = None,
                 event_time_paging: Receivers | None = None) -> None:
        """``event_time_paging``: page each agency's next contact on event time with these receivers' timeouts
        (replay); None: no paging here (the live service pages on the wall clock, :mod:`yujing.alerting.escalation`)."""
        self.registry = registry
        self.rules = rules
        self.routing = routing
        self.store = store
        self.ack_url = ack_url
        self.ack_secret = ack_secret
        self.policy = policy or Policy(rules.deescalate_after, rules.resolve_after, routing.notify.repeat_interval)
        self._receivers = event_time_paging
        self._reset()

    def _reset(self) -> None:
        self.watermark: datetime | None = None
        self._platforms: dict[str, _Platform] = {}
        self._incidents: dict[str, Incident] = {}  # by platform/signal
        self._episodes: dict[str, int] = {}
        self._evaluated: dict[str, datetime] = {}
        self._pending: dict[str, _Pending] = {}
        self._acked: dict[str, datetime] = {}  # incident id -> when it was first acknowledged
        self._silences: list[Silence] = []
        self._store_version = -1
        self.dropped_late = 0
        self.duplicates = 0  # redelivered copies of counted posts, not counted again
        self._pager = EventTimePager(self._receivers) if self._receivers is not None else None

    # ---- public API --------------------------------------------------------------------------

    def observe(self, post: ScoredPost) -> list[Alert]:
        """Count one scored post; return the notifications due now (event time = the watermark)."""
        if self.watermark is None or post.ts > self.watermark:
            self.watermark = post.ts
        now = self.watermark
        # Groups whose wait ran out while the stream was quiet go out first, as the live timer would have sent
        # them; a notice decided now opens a group of its own instead of joining (and backdating) theirs.
        overdue = self._flush(now)
        if post.ts <= now - self.rules.horizon:
            self.dropped_late += 1
            return self._advance(now, overdue)
        for name in dict.fromkeys(post.platforms):
            for signal in self._count(name, post, now):
                self._evaluate(name, signal, now)
        return self._advance(now, overdue)

    def advance(self, now: datetime) -> list[Alert]:
        """Time-driven work at ``now``: de-escalate, resolve, repeat, page unacknowledged, flush groups."""
        return self._advance(now, [])

    def _advance(self, now: datetime, flushed: list[tuple[Alert, datetime]]) -> list[Alert]:
        if self.watermark is None or now > self.watermark:
            self.watermark = now
        self._sync_store()
        for key, inc in list(self._incidents.items()):
            if now - self._evaluated.get(key, inc.since) >= _TICK:
                self._evaluate(inc.platform, Signal(inc.signal), now)
        flushed = flushed + self._flush(now)
        sent = [alert for alert, _ in flushed]
        if self._pager is None:
            return sent
        for alert, at in flushed:
            self._pager.sent([alert], at)
        pages = self._pager.due(now, self._acked)
        for page in pages:
            self._record(page, "notified")
        return sorted(sent + pages, key=lambda a: a.ts)  # in event time, as officers would have got them

    def acknowledge(self, ref: str, by: str, now: datetime, note: str = "") -> str | None:
        """Acknowledge an incident (by its id or any of its notification keys); returns the id or None."""
        inc = next((i for i in self._incidents.values() if ref == i.id or ref.startswith(i.id + "/")), None)
        incident_id = inc.id if inc is not None else _incident_of(ref)
        if self.store is not None:
            self.store.acknowledge(incident_id, by, now, note)
        self._acked[incident_id] = min(self._acked.get(incident_id, now), now)
        self._apply_acks()
        return incident_id if inc is not None else None

    def add_silence(self, silence: Silence) -> None:
        if self.store is not None:
            self.store.add_silence(silence)
        self._silences.append(silence)

    def incidents(self) -> list[Incident]:
        return sorted(self._incidents.values(), key=lambda i: (i.platform, i.signal))

    # ---- counting and evaluation -------------------------------------------------------------

    def _platform(self, name: str) -> _Platform:
        ps = self._platforms.get(name)
        if ps is None:
            nd = self.rules.near_duplicate
            ps = _Platform(Totals(), Clusters(nd.shingle, nd.max_distance),
                           {s: SignalWindow(self.rules.baseline) for s in SIGNALS})
            self._platforms[name] = ps
        return ps

    def _count(self, name: str, post: ScoredPost, now: datetime) -> list[Signal]:
        ps = self._platform(name)
        counted = [s for s in SIGNALS if post.scores.get(s) >= self.rules.min_probability]
        if ps.totals.has(post.id) or any(ps.signals[s].has(post.id) for s in counted):
            # a redelivered copy (a re-run import, a batch retried after a failure, a rebalance): counting it
            # again would inflate the figures, the signal's count or the share's denominator (the second test
            # covers posts restored from a snapshot taken before totals kept ids)
            self.duplicates += 1
            return []
        ps.totals.add(post.ts, post.id)
        horizon = now - self.rules.horizon - _SLACK
        ps.totals.evict(horizon)
        cluster = ps.clusters.assign(post.post.text) if counted else -1
        for signal in counted:
            when, where = extract(post.post.text, post.ts).labels() if signal is Signal.GATHERING else ("", "")
            ps.signals[signal].add(Entry(post.ts, post.scores.get(signal), post.post.author or f"post:{post.id}",
                                         post.id, post.post.text[:EXCERPT_CHARS], cluster, when, where))
        for window in ps.signals.values():
            window.evict(horizon)
        return counted

    def _verdict(self, name: str, signal: Signal, now: datetime) -> Verdict:
        ps = self._platform(name)
        figures = ps.signals[signal].figures(self.rules.windows, ps.totals.times, now)
        return evaluate(self.rules.for_signal(signal), figures)

    def _evaluate(self, name: str, signal: Signal, now: datetime) -> None:
        key = f"{name}/{signal.value}"
        self._evaluated[key] = now
        verdict = self._verdict(name, signal, now)
        episode = self._episodes.get(key, 0) + 1
        rule = verdict.rule.name if verdict.rule else ""
        inc, notice = step(self._incidents.get(key), verdict.level, rule, now, self.policy, name, signal.value, episode)
        if inc is None:
            self._incidents.pop(key, None)
        else:
            self._incidents[key] = inc
            self._episodes[key] = inc.episode
        if notice is not None:
            self._gate(notice, verdict, now)

    # ---- the notification gate -----------------------------------------------------------------

    def _labels(self, inc: Incident) -> dict[str, str]:
        platform = self.registry.get(inc.platform)
        return {"platform": inc.platform, "signal": inc.signal, "level": inc.level.value,
                "platform_kind": platform.kind if platform else "", "district": platform.district if platform else ""}

    def _gate(self, notice: Notice, verdict: Verdict, now: datetime) -> None:
        labels = self._labels(notice.incident)
        alert = self._alert(notice, verdict, labels, now)
        silence = silenced_by(self._silences, labels, now)
        if silence is not None:
            self._record(replace(alert, explanation={**alert.explanation, "silenced_by": silence.id}), "silenced")
            return
        muting = self._inhibitor(labels) if notice.reason is not Reason.RESOLVED else None
        if muting is not None:
            self._record(replace(alert, explanation={**alert.explanation, "inhibited_by": muting}), "inhibited")
            return
        group = "/".join(labels.get(k, "") for k in self.routing.notify.group_by)
        # New warnings wait group_wait to go out together; time-driven notices go out at once.
        wait = self.routing.notify.group_wait if notice.reason in (Reason.FIRED, Reason.ESCALATED) else timedelta(0)
        pending = self._pending.setdefault(group, _Pending(now - self.routing.notify.group_wait + wait))
        superseded = pending.alerts.get(f"{alert.platform}/{alert.signal.value}")
        if superseded is not None:
            self._record(superseded, "superseded")
        pending.alerts[f"{alert.platform}/{alert.signal.value}"] = alert

    def _inhibitor(self, labels: Mapping[str, str]) -> str | None:
        active = [self._labels(i) for i in self._incidents.values() if i.signal != labels["signal"]
                  or i.platform != labels["platform"]]
        return next((rule.name for rule in self.routing.inhibitions if inhibited(rule, labels, active)), None)

    def _alert(self, notice: Notice, verdict: Verdict, labels: Mapping[str, str], now: datetime) -> Alert:
        decision = route(self.routing, labels)
        inc = notice.incident
        ps = self._platform(inc.platform)
        status = AlertStatus.RESOLVED if notice.reason is Reason.RESOLVED else AlertStatus.FIRING
        body = explain.explanation(notice, verdict, ps.signals[Signal(inc.signal)].entries, now, decision,
                                   labels, self.ack_url, self.ack_secret)
        window = verdict.rule.window if verdict.rule else self.rules.horizon
        posts = verdict.figures[window].posts if window in verdict.figures else 0
        return Alert(key=notice.key, platform=inc.platform, signal=Signal(inc.signal), level=inc.level, ts=now,
                     agencies=decision.agencies, posts=posts, status=status, rule=inc.rule, explanation=body)

    def _flush(self, now: datetime) -> list[tuple[Alert, datetime]]:
        """The groups whose wait is over, each notification with the instant its group went out."""
        out: list[tuple[Alert, datetime]] = []
        for group, pending in list(self._pending.items()):
            if now - pending.opened < self.routing.notify.group_wait:
                continue
            del self._pending[group]
            keys = [a.key for a in pending.alerts.values()]
            for alert in pending.alerts.values():
                grouped = replace(alert, ts=max(alert.ts, pending.opened),
                                  explanation={**alert.explanation, "group": {"key": group, "alerts": keys}})
                self._record(grouped, "notified")
                out.append((grouped, pending.opened + self.routing.notify.group_wait))
        return out

    def _record(self, alert: Alert, outcome: str) -> None:
        if self.store is not None:
            self.store.record(alert, outcome)

    # ---- acknowledgements and silences from the durable store --------------------------------

    def _sync_store(self) -> None:
        if self.store is None:
            return
        version = self.store.version()
        if version == self._store_version:
            return
        self._store_version = version
        for incident_id, at in self.store.acks().items():
            self._acked[incident_id] = min(self._acked.get(incident_id, at), at)
        self._silences = self.store.silences()
        self._apply_acks()

    def _apply_acks(self) -> None:
        for key, inc in self._incidents.items():
            if inc.id in self._acked and not inc.acked:
                self._incidents[key] = replace(inc, acked=True)

    # ---- state for restarts --------------------------------------------------------------------

    def snapshot(self) -> bytes:
        state = {
            "version": 1,
            "watermark": self.watermark.isoformat() if self.watermark else None,
            "platforms": {name: {"totals": ps.totals.state(), "clusters": ps.clusters.state(),
                                 "signals": {s.value: w.state() for s, w in ps.signals.items()}}
                          for name, ps in self._platforms.items()},
            "incidents": {k: i.to_dict() for k, i in self._incidents.items()},
            "episodes": self._episodes,
            "evaluated": {k: t.isoformat() for k, t in self._evaluated.items()},
            "pending": {g: {"opened": p.opened.isoformat(), "alerts": {k: a.to_dict() for k, a in p.alerts.items()}}
                        for g, p in self._pending.items()},
            "acked": {k: t.isoformat() for k, t in sorted(self._acked.items())},
            "silences": [s.to_dict() for s in self._silences],
            "dropped_late": self.dropped_late,
            "duplicates": self.duplicates,
            "paging": self._pager.state() if self._pager is not None else None,
        }
        return json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode()

    def restore(self, data: bytes) -> None:
        state = json.loads(data)
        if state.get("version") != 1:
            raise ValueError("unknown alerting snapshot version; take a new snapshot with this Yujing version")
        self._reset()
        self.watermark = datetime.fromisoformat(state["watermark"]) if state["watermark"] else None
        for name, ps in state["platforms"].items():
            target = self._platform(name)
            target.totals = Totals.load(ps["totals"])
            target.clusters.load(ps["clusters"])
            for s, w in ps["signals"].items():
                target.signals[Signal(s)].load(w)
        self._incidents = {k: Incident.from_dict(v) for k, v in state["incidents"].items()}
        self._episodes = dict(state["episodes"])
        self._evaluated = {k: datetime.fromisoformat(t) for k, t in state["evaluated"].items()}
        self._pending = {g: _Pending(datetime.fromisoformat(p["opened"]),
                                     {k: Alert.from_dict(a) for k, a in p["alerts"].items()})
                         for g, p in state["pending"].items()}
        acked = state["acked"]  # a list of ids in snapshots before 2026-12-02: acknowledged, time unknown
        self._acked = ({k: datetime.fromisoformat(t) for k, t in acked.items()} if isinstance(acked, dict)
                       else dict.fromkeys(acked, _DAWN))
        self._silences = [silence_from_dict(s) for s in state["silences"]]
        self.dropped_late = int(state["dropped_late"])
        self.duplicates = int(state.get("duplicates", 0))
        if self._pager is not None and state.get("paging"):
            self._pager.load(state["paging"])


def silence_from_dict(d: Mapping[str, Any]) -> Silence:
    return Silence(id=str(d["id"]), matchers={k: tuple(v) for k, v in d["matchers"].items()},
                   creator=str(d["creator"]), comment=str(d.get("comment", "")),
                   starts=datetime.fromisoformat(d["starts"]), ends=datetime.fromisoformat(d["ends"]),
                   expired_by=str(d.get("expired_by", "")))


def _incident_of(ref: str) -> str:
    """``platform/signal/episode/level[/reason]`` → the incident id part."""
    return "/".join(ref.split("/")[:4])


def build_alerting(registry: Registry, rules_path: Path | None = None, routes_path: Path | None = None, *,
                   store: AlertStore | None = None, ack_url: str = "", ack_secret: bytes = b"",
                   event_time_paging: Receivers | None = None) -> Alerting:
    """The composition root's entry point: load and validate rules and routes (defaults if None).

    ``event_time_paging``: the receivers whose contacts are paged on event time when a warning is not acknowledged
    (replay, backtest); None in the live service, which pages on the wall-clock acknowledgement timer
    instead (:mod:`yujing.alerting.escalation`)."""
    rules, routing = load_rules(rules_path), load_routes(routes_path)
    return Alerting(registry, rules, routing, store=store, ack_url=ack_url, ack_secret=ack_secret,
                    event_time_paging=event_time_paging)


def collect(alerting: Alerting, posts: Iterable[ScoredPost]) -> list[Alert]:
    """Feed posts in order and return every notification (a convenience for tests and backtests)."""
    out: list[Alert] = []
    last: datetime | None = None
    for post in posts:
        out.extend(alerting.observe(post))
        last = post.ts
    if last is not None:
        out.extend(alerting.advance(last + alerting.routing.notify.group_wait))
    return out


__all__ = ["Alerting", "Level", "build_alerting", "collect"]
