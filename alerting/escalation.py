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
Only firing notifications escalate, and per agency only the newest notification about a platform × signal:
a later level, a reminder or a resolved notice takes over from an older one (which then stops).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from yujing.alerting._yaml import format_duration
from yujing.alerting.outbox import Outbox, StepRecord
from yujing.alerting.receivers import Receivers, enqueue_step
from yujing.records import AlertStatus


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
        if rec.status != AlertStatus.FIRING.value or not rec.incident or not agency:
            continue
        if newest[(agency, rec.subject or alert_key)][1] != alert_key:
            continue
        if rec.incident in acked and (not isinstance(acked, Mapping) or acked[rec.incident] <= now):
            continue
        timeout = ack_timeout(agency)
        if timeout is None or rec.step + 1 >= chain_length(agency):
            continue
        if now - _started(rec) >= timeout:
            due.append(Escalation(alert_key, rec.incident, agency, rec.step + 1,
                                  f"step {rec.step} not acknowledged within {format_duration(timeout)}", timeout))
    return due


LOOKBACK = timedelta(days=2)


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
        timeouts = [t for t in (self._receivers.ack_timeout(a) for a in self._receivers.contacts) if t is not None]
        if not timeouts:
            return []
        notified = self._outbox.steps(now - LOOKBACK - max(timeouts))
        due = escalations_due(notified, self._acked(), lambda a: len(self._receivers.contacts.get(a, ())),
                              self._receivers.ack_timeout, now)
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
