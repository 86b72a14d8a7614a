"""Escalation on the acknowledgement timer: the pure decision, the receivers config, and end to end
against a real loopback HTTP receiver through the durable outbox (injected clock, no sleeping)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from tests.alerting.test_delivery import SECRET, T0, Receiver, _alert
from yujing.alerting.channels import DingTalkChannel, WebhookChannel
from yujing.alerting.escalation import Escalator, EventTimePager, escalations_due
from yujing.alerting.outbox import DeliveryWorker, Outbox, StepRecord
from yujing.alerting.receivers import Contact, Receivers, fan_out, receivers_from_doc
from yujing.alerting.store import AlertStore
from yujing.clock import ManualClock
from yujing.errors import ConfigError
from yujing.records import Agency, Alert, AlertStatus, Level, Signal

M = timedelta(minutes=1)
INC = "星河贷/gathering/1/red"


def _rec(step: int = 0, *, delivered: float | None = 0.5, enqueued: float = 0.0, key: str = "k1",
         agency: str = "police", incident: str = INC, status: str = "firing",
         subject: str = "星河贷/gathering", needs_ack: bool = True) -> StepRecord:
    return StepRecord(key, incident, status, agency, step, T0 + enqueued * M,
                      None if delivered is None else T0 + delivered * M, subject, needs_ack)


def _due(recs: list[StepRecord], now_min: float, acked: object = frozenset(), chain: int = 3,
         timeout: timedelta | None = 30 * M) -> list[tuple[str, str, int]]:
    out = escalations_due(recs, acked, lambda a: chain, lambda a: timeout, T0 + now_min * M)  # type: ignore[arg-type]
    return [(e.alert_key, e.agency, e.step) for e in out]


# ---- the pure decision ---------------------------------------------------------------------------

def test_timer_starts_at_first_delivery_and_fires_at_the_timeout() -> None:
    assert _due([_rec()], 30.4) == []
    assert _due([_rec()], 30.5) == [("k1", "police", 1)]
    assert _due([_rec(delivered=None)], 30.0) == [("k1", "police", 1)]  # unreachable contact: from enqueue


def test_only_the_latest_step_counts_until_the_chain_runs_out() -> None:
    recs = [_rec(0), _rec(1, enqueued=30.5, delivered=31)]
    assert _due(recs, 60) == []
    assert _due(recs, 61) == [("k1", "police", 2)]
    assert _due([*recs, _rec(2, enqueued=61, delivered=61)], 500) == []  # three contacts: no step 3
    assert _due(recs, 500, chain=2) == []


def test_acknowledgement_stops_it_but_only_once_made() -> None:
    assert _due([_rec()], 40, acked={INC}) == []
    assert _due([_rec()], 40, acked={INC: T0 + 35 * M}) == []
    assert _due([_rec()], 40, acked={INC: T0 + 50 * M}) == [("k1", "police", 1)]  # acked later than now
    assert _due([_rec()], 40, acked={"other/incident/1/red"}) == [("k1", "police", 1)]


def test_per_agency_and_resolved_notices_and_no_timeout() -> None:
    recs = [_rec(agency="police"), _rec(agency="stability_office")]
    out = escalations_due(recs, set(), lambda a: 3, lambda a: 30 * M if a == "police" else 2 * 60 * M, T0 + 31 * M)
    assert [(e.agency, e.step) for e in out] == [("police", 1)]
    assert _due([_rec(status="resolved")], 500) == []
    assert _due([_rec(needs_ack=False)], 500) == []  # a blue notice pages nobody
    assert _due([_rec()], 500, timeout=None) == []


def test_a_newer_notification_or_a_resolved_notice_takes_over() -> None:
    orange = _rec(key="k-orange", incident="星河贷/gathering/1/orange")
    red = _rec(key="k-red", enqueued=20, delivered=20)  # the incident escalated to red 20 minutes later
    assert _due([orange, red], 35) == []  # the orange notification no longer pages anyone
    assert _due([orange, red], 50) == [("k-red", "police", 1)]
    resolved = _rec(key="k-resolved", enqueued=25, delivered=25, status="resolved")
    assert _due([orange, red, resolved], 500) == []  # resolved: nobody further
    other = _rec(key="k-other", subject="安和财富/panic", incident="安和财富/panic/1/orange", enqueued=25)
    assert _due([red, other], 56) == [("k-other", "police", 1), ("k-red", "police", 1)]  # separate subjects


# ---- receivers config ------------------------------------------------------------------------------

def test_receivers_ack_timeout_default_override_off_and_errors() -> None:
    doc = {"ack_timeout": "20m", "channels": {"c": {"type": "print"}}, "receivers": [
        {"agency": "police", "contacts": [{"name": "a", "channels": ["c"]}]},
        {"agency": "stability_office", "ack_timeout": "1h", "contacts": [{"name": "a", "channels": ["c"]}]},
        {"agency": "finance_office", "ack_timeout": False, "contacts": [{"name": "a", "channels": ["c"]}]}]}
    rec = receivers_from_doc(doc, env={})
    assert rec.ack_timeout("police") == 20 * M
    assert rec.ack_timeout("stability_office") == 60 * M
    assert rec.ack_timeout("finance_office") is None
    assert receivers_from_doc({**doc, "ack_timeout": None}, env={}).ack_timeout("police") == 30 * M  # default
    with pytest.raises(ConfigError, match=r"receivers\[0\]\.ack_timeout.*duration"):
        receivers_from_doc({**doc, "receivers": [{**doc["receivers"][0], "ack_timeout": "soon"}]},  # type: ignore
                           env={})
    # a contact nobody can reach would stall the chain live (no step recorded) but be paged in a replay
    unreachable = {"agency": "police", "contacts": [{"name": "a", "channels": ["c"]}, {"name": "b"}]}
    with pytest.raises(ConfigError, match=r"receivers\[0\]\.contacts\[1\]\.channels.*at least one channel"):
        receivers_from_doc({**doc, "receivers": [unreachable]}, env={})



def test_replay_reads_receivers_without_the_channels_secrets() -> None:
    doc = {"channels": {"hook": {"type": "webhook", "url": "https://example.invalid/h", "secret_env": "HOOK_KEY"},
                        "mail": {"type": "email", "host": "smtp.example.invalid", "sender": "y@example.invalid",
                                 "to": ["d@example.invalid"], "password_env": "MAIL_PW", "ca_file": "missing.pem"}},
           "receivers": [{"agency": "police", "ack_timeout": "15m",
                          "contacts": [{"name": "a", "channels": ["hook"]}, {"name": "b", "channels": ["mail"]}]}]}
    with pytest.raises(ConfigError, match="HOOK_KEY is not set"):
        receivers_from_doc(doc, env={})  # the live service needs them
    rec = receivers_from_doc(doc, env={}, deliver=False)  # replay only decides whom it would page, and when
    assert rec.ack_timeout("police") == 15 * M and [c.name for c in rec.contacts["police"]] == ["a", "b"]
    with pytest.raises(ConfigError, match="unknown channel"):
        receivers_from_doc({**doc, "receivers": [{"agency": "police", "contacts": [{"name": "a", "channels": ["x"]}]}]},
                           env={}, deliver=False)


# ---- the same decision on event time (replay) -----------------------------------------------------

def _warning(level: Level, minutes: float) -> Alert:
    incident = f"星河贷/gathering/1/{level.value}"
    return replace(_firing(incident), level=level, ts=T0 + minutes * M, agencies=(Agency.POLICE, Agency.FINANCE_OFFICE))


def test_event_time_pager_decides_in_event_order_even_when_told_late() -> None:
    chain = (Contact("值班员", ("c",)), Contact("值班领导", ("c",)))
    rec = Receivers("", {}, {"police": chain, "finance_office": chain}, "<test>",
                    {"police": 15 * M, "finance_office": 30 * M})
    pager = EventTimePager(rec)
    pager.sent([_warning(Level.YELLOW, 0)])
    assert pager.due(T0 + 10 * M, set()) == []
    pager.sent([_warning(Level.ORANGE, 20)])  # sent at minute 20 (after a group wait), learnt at minute 40
    pages = pager.due(T0 + 40 * M, set())
    assert [(a.ts - T0, a.level, a.agencies) for a in pages] == [
        (15 * M, Level.YELLOW, (Agency.POLICE,)),  # fell due before the orange warning went out
        (35 * M, Level.ORANGE, (Agency.POLICE,))]  # finance's yellow page (minute 30) was taken over by orange
    assert pages[0].explanation["escalation"] == {"step": 1, "after": "15m", "agency": "police",
                                                  "previous": "值班员", "contact": "值班领导"}
    assert pager.due(T0 + 40 * M, set()) == []  # idempotent
    again = EventTimePager(rec)
    again.load(pager.state())
    assert [a.agencies for a in again.due(T0 + 60 * M, set())] == [(Agency.FINANCE_OFFICE,)]  # orange + 30m
    # an acknowledgement stops the pages that fall due after it, not one that fell due before it
    orange = "星河贷/gathering/1/orange"
    late = EventTimePager(rec)
    late.load(pager.state())
    assert [a.agencies for a in late.due(T0 + 60 * M, {orange: T0 + 55 * M})] == [(Agency.FINANCE_OFFICE,)]
    early = EventTimePager(rec)
    early.load(pager.state())
    assert early.due(T0 + 60 * M, {orange: T0 + 45 * M}) == []
    assert pager.due(T0 + 60 * M, {orange}) == []  # acknowledged, time unknown


# ---- end to end: outbox, acks in the alert store, a real HTTP receiver -----------------------------

@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _receivers(port: int) -> Receivers:
    base = f"http://127.0.0.1:{port}"
    channels = {"first": WebhookChannel("first", base + "/hook", SECRET, timeout=2),
                "second": DingTalkChannel("second", base + "/ding?access_token=t", SECRET, timeout=2)}
    chain = (Contact("值班员", ("first",)), Contact("值班领导", ("second",)))
    return Receivers("", channels, {"stability_office": chain}, "<test>", {"stability_office": 30 * M})


def _firing(incident: str) -> Alert:
    a = _alert(incident + "/fired")
    platform, signal = incident.split("/")[:2]
    return replace(a, platform=platform, signal=Signal(signal), agencies=(Agency.STABILITY_OFFICE,),
                   status=AlertStatus.FIRING, explanation={**a.explanation, "incident": incident})


def _contacts(receiver: Receiver) -> list[str]:
    return [key.split("|")[1] for _, key, _ in receiver.seen]


def test_not_acknowledged_pages_the_second_contact_exactly_once(tmp_path: Path, receiver: Receiver) -> None:
    clock = ManualClock(T0)
    rec, store = _receivers(receiver.port), AlertStore(tmp_path / "alerts.db")
    box = Outbox(tmp_path / "outbox.db")
    assert fan_out(_firing(INC), rec, box, clock.now()) == 1
    told: list[str] = []
    escalator = Escalator(box, rec, store.acked_incidents, on_escalate=lambda e: told.append(f"{e.agency}:{e.step}"))
    worker = DeliveryWorker(box, rec.channels, clock, escalate=escalator.run)
    assert worker.step() == 1
    assert _contacts(receiver) == ["stability_office:值班员"]
    clock.advance(29 * M)
    assert worker.step() == 0
    clock.advance(1 * M)  # 30 minutes after delivery, not acknowledged
    assert worker.step() == 1
    for _ in range(3):
        clock.advance(45 * M)
        assert worker.step() == 0  # chain of two: nobody further; no repeats
    box.close()
    restarted = Outbox(tmp_path / "outbox.db")  # a restart decides again from the durable outbox: nothing new
    assert DeliveryWorker(restarted, rec.channels, clock,
                          escalate=Escalator(restarted, rec, store.acked_incidents).run).step() == 0
    assert receiver.bad == 0
    assert told == ["stability_office:1"]
    assert _contacts(receiver) == ["stability_office:值班员", "stability_office:值班领导"]
    assert [k for _, k, _ in receiver.seen][1] == f"{INC}/fired|stability_office:值班领导|second|step1"
    text = str(receiver.seen[1][2]["markdown"]["text"])  # the DingTalk robot's markdown body
    assert "接收人：stability_office:值班领导" in text and "升级通知：值班员在30m内未确认" in text


def test_a_blue_notice_is_not_escalated(tmp_path: Path, receiver: Receiver) -> None:
    clock = ManualClock(T0)
    rec, store = _receivers(receiver.port), AlertStore(tmp_path / "alerts.db")
    box = Outbox(tmp_path / "outbox.db")
    blue = _firing("安和财富/rumour/1/blue")
    fan_out(replace(blue, level=Level.BLUE, explanation={**blue.explanation, "needs_ack": False}), rec, box,
            clock.now())
    fan_out(_firing(INC), rec, box, clock.now())
    worker = DeliveryWorker(box, rec.channels, clock, escalate=Escalator(box, rec, store.acked_incidents).run)
    assert worker.step() == 2
    clock.advance(2 * 60 * M)
    assert worker.step() == 1  # only the red warning goes to the second contact
    assert [k.split("|")[0] for _, k, _ in receiver.seen][2:] == [f"{INC}/fired"]


def test_acknowledged_in_time_is_not_escalated(tmp_path: Path, receiver: Receiver) -> None:
    clock = ManualClock(T0)
    rec, store = _receivers(receiver.port), AlertStore(tmp_path / "alerts.db")
    box = Outbox(tmp_path / "outbox.db")
    other = "安和财富/panic/1/orange"
    fan_out(_firing(INC), rec, box, clock.now())
    fan_out(_firing(other), rec, box, clock.now())
    worker = DeliveryWorker(box, rec.channels, clock, escalate=Escalator(box, rec, store.acked_incidents).run)
    assert worker.step() == 2
    clock.advance(10 * M)
    store.acknowledge(INC, "李值班", clock.now())  # as the API, the signed link or `yujing ack` do
    clock.advance(25 * M)
    assert worker.step() == 1  # only the unacknowledged incident goes to the second contact
    clock.advance(3 * 60 * M)
    assert worker.step() == 0
    paged = [k for _, k, _ in receiver.seen if "值班领导" in k]
    assert paged == [f"{other}/fired|stability_office:值班领导|second|step1"]


def test_live_service_leaves_paging_to_the_timer(tmp_path: Path) -> None:
    from tests.alerting.helpers import make_registry
    from tests.alerting.test_service import ramp
    from yujing.alerting.service import collect
    from yujing.app import build_alerting
    from yujing.settings import Settings

    settings = Settings(data_dir=tmp_path)
    registry = make_registry()
    def reasons(history: bool) -> set[str]:
        alerting = build_alerting(settings, registry, history=history)
        alerts = collect(alerting, ramp(8, gathering=0.9))
        return {a.explanation["reason"] for a in alerts + alerting.advance(alerts[-1].ts + 3 * 60 * M)}

    assert reasons(history=True) == {"fired"}  # live: the wall-clock timer pages, not the event time
    assert reasons(history=False) == {"fired", "unacknowledged"}  # replay: event-time paging


def test_resolved_before_the_timeout_pages_nobody_further(tmp_path: Path, receiver: Receiver) -> None:
    clock = ManualClock(T0)
    rec, store = _receivers(receiver.port), AlertStore(tmp_path / "alerts.db")
    box = Outbox(tmp_path / "outbox.db")
    fan_out(_firing(INC), rec, box, clock.now())
    worker = DeliveryWorker(box, rec.channels, clock, escalate=Escalator(box, rec, store.acked_incidents).run)
    assert worker.step() == 1
    clock.advance(20 * M)
    resolved = replace(_firing(INC), key=INC + "/resolved", status=AlertStatus.RESOLVED)
    fan_out(resolved, rec, box, clock.now())
    assert worker.step() == 1  # the resolved notice, to the same first contact
    clock.advance(2 * 60 * M)
    assert worker.step() == 0
    assert [k.split("|")[0] for _, k, _ in receiver.seen] == [f"{INC}/fired", f"{INC}/resolved"]
