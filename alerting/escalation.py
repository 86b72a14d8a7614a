"""Escalation on an acknowledgement timer (PagerDuty-style), as a pure decision plus a thin adapter.

A notification goes to an agency's contact at step 0. If its incident is not acknowledged within
that agency's ``ack_timeout`` after step k was notified, step k+1 is notified, and so on until an
acknowledgement or the end of the agency's contact chain.

    escalations_due(steps notified, acks, chain lengths, timeouts, now) -> [Escalation]

is pure (``now`` passed in, no I/O) and is unit-tested with an injected clock. :class:`Escalator`
reads what the durable outbox notified and the acknowledgements in the alert store, and enqueues the
next step into the outbox (idempotency key per step), so an escalation survives a restart and is
sent exactly once. The live delivery worker runs it on wall-clock time before each delivery round.

The timer of step k starts when one of its channels first confirmed delivery; if none has (the
contact is unreachable), it starts when step k was enqueued, so an unreachable contact escalates too.
Only firing notifications that need an acknowledgement (yellow and above) escalate, and per agency only
the newest notification about a platform × signal: a later level, a reminder or a resolved notice takes
over from an older one (which then stops).

Replay and backtest have no delivery and no wall clock; :class:`EventTimePager` runs the same decision
on event time in memory, so a replayed stream pages the same contacts at the same (event) times as the
live service would have, with each agency's own timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from yujing.alerting._yaml import format_duration
from yujing.alerting.outbox import Outbox, StepRecord
from yujing.alerting.receivers import Receivers, enqueue_step
from yujing.records import AGENCY_ZH, Agency, Alert, AlertStatus


@dataclass(frozen=True, slots=True)
class Escalation:
    """Notify ``agency``'s contact at ``step`` about notification ``alert_key`` (incident ``incident``)."""

    alert_key: str
    incident: str
    agency: str
    step: int
    because: str  # why, for logs and the history: "step 0 not acknowledged within 30m"
    after: timedelta = timedelta(0)  # the timeout that ran out


def _started(rec: StepRecord) -> datetime:
    return rec.first_delivered if rec.first_delivered is not None else rec.enqueued


def _escalation_timeout(rec: StepRecord, chain_length: Callable[[str], int],
                        ack_timeout: Callable[[str], timedelta | None]) -> timedelta | None:
    """The timeout after which ``rec``'s next step is due, or None when it never escalates: not a firing
    notification that needs an acknowledgement, an agency that does not escalate, or the chain's last step."""
    if rec.status != AlertStatus.FIRING.value or not rec.incident or not rec.agency or not rec.needs_ack:
        return None
    timeout = ack_timeout(rec.agency)
    if timeout is None or rec.step + 1 >= chain_length(rec.agency):
        return None
    return timeout


def escalations_due(notified: Iterable[StepRecord], acked: Mapping[str, datetime] | set[str],
                    chain_length: Callable[[str], int], ack_timeout: Callable[[str], timedelta | None],
                    now: datetime) -> list[Escalation]:
    """Which next steps are due at ``now``.

    ``notified``: one record per (notification, agency, step) that was enqueued; ``acked``: incident
    ids acknowledged (with when, or a set); ``chain_length(agency)``: how many contacts it has;
    ``ack_timeout(agency)``: its timeout (None: that agency does not escalate)."""
    latest: dict[tuple[str, str], StepRecord] = {}  # (notification, agency) -> its highest step
    first: dict[tuple[str, str], datetime] = {}  # (notification, agency) -> when it was first enqueued
    for rec in notified:
        key = (rec.alert_key, rec.agency)
        if key not in latest or rec.step > latest[key].step:
            latest[key] = rec
        first[key] = min(first.get(key, rec.enqueued), rec.enqueued)
    # Per agency and platform/signal only the newest notification escalates: a later one (a new level, a
    # reminder, a resolved notice) takes over, so a stale or resolved warning pages nobody further.
    newest: dict[tuple[str, str], tuple[datetime, str]] = {}
    for (alert_key, agency), rec in latest.items():
        subject = (agency, rec.subject or rec.alert_key)
        mark = (first[(alert_key, agency)], alert_key)
        if subject not in newest or mark > newest[subject]:
            newest[subject] = mark
    due: list[Escalation] = []
    for (alert_key, agency), rec in sorted(latest.items()):
        timeout = _escalation_timeout(rec, chain_length, ack_timeout)
        if timeout is None or newest[(agency, rec.subject or alert_key)][1] != alert_key:
            continue
        if rec.incident in acked and (not isinstance(acked, Mapping) or acked[rec.incident] <= now):
            continue
        if now - _started(rec) >= timeout:
            due.append(Escalation(alert_key, rec.incident, agency, rec.step + 1,
                                  f"step {rec.step} not acknowledged within {format_duration(timeout)}", timeout))
    return due


LOOKBACK = timedelta(days=2)
_NEVER, _DAWN = datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC)


class Escalator:
    """Adapter: outbox + acknowledgements → next-step outbox items. ``run(now)`` is idempotent."""

    def __init__(self, outbox: Outbox, receivers: Receivers, acked: Callable[[], set[str]],
                 on_escalate: Callable[[Escalation], None] | None = None) -> None:
        self._outbox, self._receivers, self._acked = outbox, receivers, acked
        self._on_escalate = on_escalate

    def run(self, now: datetime) -> list[Escalation]:
        """Enqueue every escalation due at ``now``; returns those that added outbox items.

        Only steps enqueued within the last ``LOOKBACK`` plus the longest timeout are read: a warning
        left unacknowledged while the service was down for longer than that is not paged on restart."""
        longest = self._receivers.longest_ack_timeout()
        if longest is None:
            return []
        notified = self._outbox.steps(now - LOOKBACK - longest)
        due = escalations_due(notified, self._acked(), self._receivers.chain_length, self._receivers.ack_timeout, now)
        done = []
        for esc in due:
            alert = self._outbox.alert(esc.alert_key)
            if alert is None:
                continue
            previous = self._receivers.contact(esc.agency, esc.step - 1)
            alert = replace(alert, explanation={**alert.explanation, "escalation": {
                "step": esc.step, "after": format_duration(esc.after), "previous": previous.name if previous else ""}})
            if enqueue_step(alert, esc.agency, esc.step, self._receivers, self._outbox, now):
                done.append(esc)
                if self._on_escalate is not None:
                    self._on_escalate(esc)
        return done


class EventTimePager:
    """Replay's acknowledgement timer: :func:`escalations_due` on event time, over in-memory step records.

    Each notification counts as delivered to each routed agency's first contact when it went out (in event
    time; a new warning goes out when its group's wait is over). When it is not acknowledged within that
    agency's ``ack_timeout``, the agency's next contact is paged, as in the live service; the page comes out
    as a notification for that one agency, stamped with the instant it fell due, with ``reason:
    unacknowledged`` and the contact's step. ``due(now)`` is idempotent."""

    def __init__(self, receivers: Receivers) -> None:
        self._receivers = receivers
        self._steps: dict[tuple[str, str, int], StepRecord] = {}  # (notification, agency, step)
        self._alerts: dict[str, Alert] = {}  # notification key -> the notification
        self._keep = LOOKBACK + (receivers.longest_ack_timeout() or timedelta(0))
        self._fresh: list[StepRecord] = []  # first-contact records sent since the last ``due``
        self._checked = _DAWN  # every instant up to this one is decided
        self._next = _NEVER  # no page falls due before this, unless something was sent since

    def sent(self, alerts: Iterable[Alert], at: datetime | None = None) -> None:
        """Notifications that went out to their agencies' first contacts at ``at`` (default: their event time;
        a grouped warning goes out when its group's wait is over, after the time it was decided)."""
        for alert in alerts:
            self._alerts[alert.key] = alert
            when = at if at is not None else alert.ts
            self._fresh += [self._record(alert, agency.value, 0, when) for agency in alert.agencies]

    def due(self, now: datetime, acked: Mapping[str, datetime] | set[str]) -> list[Alert]:
        """The pages that fell due up to ``now``, oldest first.

        Decided in event-time order: at each instant a page could fall due, only the notifications sent
        by then count, so a newer notification sent before that instant takes over, and one sent after
        it does not cancel a page that was already due."""
        fresh, self._fresh = self._fresh, []
        if not fresh and now < self._next:
            return []
        # Instants up to the last call were decided then, except for notifications sent since.
        candidates = sorted({t for t in self._candidates(self._steps.values()) if t > self._checked}
                            | set(self._candidates(fresh)))
        pages: list[Alert] = []
        while candidates and candidates[0] <= now:
            at = candidates.pop(0)
            known = [rec for rec in self._steps.values() if rec.enqueued <= at]
            for esc in escalations_due(known, acked, self._receivers.chain_length, self._receivers.ack_timeout, at):
                fell_due = _started(self._steps[(esc.alert_key, esc.agency, esc.step - 1)]) + esc.after
                alert = self._alerts[esc.alert_key]
                rec = self._record(alert, esc.agency, esc.step, fell_due)
                pages.append(self._page(alert, esc, fell_due))
                candidates = sorted({*candidates, *self._candidates([rec])})
        self._forget(now - self._keep)
        self._checked = now
        self._next = candidates[0] if candidates else _NEVER
        return pages

    def _candidates(self, records: Iterable[StepRecord]) -> Iterator[datetime]:
        """When each record's next step would fall due if nothing intervenes (a lower bound)."""
        for rec in records:
            timeout = _escalation_timeout(rec, self._receivers.chain_length, self._receivers.ack_timeout)
            if timeout is not None:
                yield _started(rec) + timeout

    def _record(self, alert: Alert, agency: str, step: int, at: datetime) -> StepRecord:
        rec = StepRecord(alert.key, str(alert.explanation.get("incident", "")), alert.status.value, agency, step, at,
                         at, f"{alert.platform}/{alert.signal.value}", alert.explanation.get("needs_ack") is not False)
        self._steps[(alert.key, agency, step)] = rec
        return rec

    def _page(self, alert: Alert, esc: Escalation, at: datetime) -> Alert:
        agency = Agency(esc.agency)
        contact = self._receivers.contact(esc.agency, esc.step)
        previous = self._receivers.contact(esc.agency, esc.step - 1)
        after = format_duration(esc.after)
        head = (f"【{AGENCY_ZH[agency]}{previous.name if previous else ''} {after} 内未确认，"
                f"通知{contact.name if contact else '下一联系人'}】")
        return replace(alert, key=f"{alert.key}/page{esc.step}/{esc.agency}", ts=at, agencies=(agency,),
                       explanation={**alert.explanation, "reason": "unacknowledged", "contact_step": esc.step,
                                    "summary": head + str(alert.explanation.get("summary", "")),
                                    "escalation": {"step": esc.step, "after": after, "agency": esc.agency,
                                                   "previous": previous.name if previous else "",
                                                   "contact": contact.name if contact else ""}})

    def _forget(self, before: datetime) -> None:
        self._steps = {k: rec for k, rec in self._steps.items() if rec.enqueued >= before}
        live = {rec.alert_key for rec in self._steps.values()}
        self._alerts = {k: alert for k, alert in self._alerts.items() if k in live}

    def state(self) -> dict[str, Any]:
        return {"steps": [{**asdict(r), "enqueued": r.enqueued.isoformat(),
                           "first_delivered": r.enqueued.isoformat()} for r in self._steps.values()],
                "alerts": [a.to_dict() for a in self._alerts.values()], "checked": self._checked.isoformat()}

    def load(self, state: Mapping[str, Any]) -> None:
        self._alerts = {a.key: a for a in (Alert.from_dict(d) for d in state.get("alerts", ()))}
        self._steps = {}
        for d in state.get("steps", ()):
            at = datetime.fromisoformat(d["enqueued"])
            rec = StepRecord(**{**d, "enqueued": at, "first_delivered": at})
            self._steps[(rec.alert_key, rec.agency, rec.step)] = rec
        self._checked = datetime.fromisoformat(state["checked"])
        self._fresh = []  # ``advance`` asks for pages right after sending: nothing sent was left undecided
        self._next = min((t for t in self._candidates(self._steps.values()) if t > self._checked), default=_NEVER)
