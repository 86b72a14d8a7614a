"""The alerting service end to end in event time: no sleeping, the posts carry the clock."""

from __future__ import annotations

from datetime import timedelta

from tests.alerting.helpers import T0, sp
from yujing.alerting.receivers import load_receivers
from yujing.alerting.service import build_alerting, collect
from yujing.alerting.silences import Silence
from yujing.alerting.store import AlertStore
from yujing.records import Agency, AlertStatus, Level, ScoredPost
from yujing.registry import Registry

CALL = "明天上午九点在区政府门口集合维权，大家一起去讨说法 {i}号投资人"
RECEIVERS = load_receivers()  # the shipped receivers: whom replay pages, and after how long
M = timedelta(minutes=1)


def ramp(n: int = 40, every: float = 3.0, gathering: float = 0.9) -> list[ScoredPost]:
    return [sp(i, i * every, text=CALL.format(i=i * 37), gathering=gathering) for i in range(n)]


def test_collapse_escalates_once_per_level_not_once_per_post(registry: Registry) -> None:
    alerts = collect(build_alerting(registry), ramp(gathering=0.9))
    firing = [a for a in alerts if a.explanation["reason"] in ("fired", "escalated")]
    assert [a.level for a in firing][-1] is Level.RED
    ranks = [a.level.rank for a in firing]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    assert len(alerts) <= 8  # 40 posts, a handful of notifications
    assert len({a.key for a in alerts}) == len(alerts)
    red = firing[-1]
    assert red.agencies == (Agency.STABILITY_OFFICE, Agency.POLICE, Agency.PETITIONS_BUREAU, Agency.FINANCE_OFFICE)
    assert red.explanation["announced"]["place"] == "区政府门口"
    assert red.explanation["announced"]["time"] == "2026-11-03T09:00:00+08:00"
    assert red.explanation["rule"]["name"] == "gathering_red"
    assert red.explanation["routing"]["path"] == ["root", "gathering"]
    assert all("author" not in p and "u_" not in str(p) for p in red.explanation["top_posts"])


def test_ordinary_chatter_raises_nothing(registry: Registry) -> None:
    posts = [sp(i, i * 20, rumour=0.2, panic=0.3, gathering=0.1) for i in range(300)]  # 100 hours of chatter
    posts += [sp(1000 + i, i * 600, gathering=0.8) for i in range(10)]  # a stray gathering word every 10 h
    posts.sort(key=lambda p: p.ts)
    assert collect(build_alerting(registry), posts) == []


def test_steady_volume_is_not_a_spike(registry: Registry) -> None:
    posts = [sp(i, i * 60, panic=0.9) for i in range(24 * 6)]  # one panic post an hour for six days
    alerts = collect(build_alerting(registry), posts)
    assert alerts, "a new signal should warn at first"
    late = [a for a in alerts if a.ts >= T0 + timedelta(days=4)]
    assert all(a.level.rank <= Level.BLUE.rank or a.explanation["reason"] == "deescalated" for a in late)
    assert any(a.explanation["reason"] == "deescalated" for a in alerts)


def test_resolved_notice_when_signal_subsides(registry: Registry) -> None:
    alerting = build_alerting(registry)
    alerts = collect(alerting, ramp(20, gathering=0.9))
    last = alerts[-1].ts
    later = alerting.advance(last + timedelta(hours=30))
    assert [a.status for a in later] == [AlertStatus.RESOLVED]
    assert later[0].explanation["previous_level"] == later[0].level.value
    assert alerting.incidents() == []


def test_red_gathering_inhibits_lower_warnings_of_the_platform(registry: Registry) -> None:
    store = AlertStore()
    alerting = build_alerting(registry, store=store)
    gathering = ramp(30, every=2, gathering=0.95)
    panic = [sp(500 + i, 70 + i * 2, panic=0.9) for i in range(12)]  # panic rises after red gathering
    alerts = collect(alerting, sorted(gathering + panic, key=lambda p: p.ts))
    assert not [a for a in alerts if a.signal.value == "panic" and a.ts > T0 + timedelta(minutes=70)]
    muted = store.history(signal="panic", outcome="inhibited")
    assert muted and muted[0].alert.explanation["inhibited_by"] == "red_gathering_mutes_lower"


def test_silence_mutes_and_is_recorded(registry: Registry) -> None:
    store = AlertStore()
    store.add_silence(Silence("s1", {"platform": ("鑫盛贷",)}, "张科长", "platform under inspection", T0,
                              T0 + timedelta(days=1)))
    alerting = build_alerting(registry, store=store)
    assert collect(alerting, ramp(gathering=0.9)) == []
    assert {r.outcome for r in store.history(platform="鑫盛贷")} == {"silenced"}
    assert store.history()[0].alert.explanation["silenced_by"] == "s1"


def test_replay_pages_each_agencys_next_contact_on_its_own_timeout(registry: Registry) -> None:
    # the shipped receivers: police has 15 minutes and two contacts, the others 30 minutes and two or three
    alerting = build_alerting(registry, event_time_paging=RECEIVERS)
    alerts = collect(alerting, ramp(8, gathering=0.9))
    fired = alerts[0]
    assert fired.explanation["reason"] == "fired" and fired.level is Level.YELLOW
    alerts += alerting.advance(fired.ts + timedelta(hours=3))
    sent = fired.ts + 5 * M  # a new warning waits group_wait for the platform's other warnings, then goes out
    pages = [(a.ts - sent, a.agencies, a.explanation["contact_step"], a.explanation["escalation"]["contact"])
             for a in alerts if a.explanation["reason"] == "unacknowledged"]
    assert pages == [(15 * M, (Agency.POLICE,), 1, "值班领导"),
                     (30 * M, (Agency.FINANCE_OFFICE,), 1, "值班领导"),
                     (30 * M, (Agency.PETITIONS_BUREAU,), 1, "值班领导"),
                     (30 * M, (Agency.STABILITY_OFFICE,), 1, "值班领导"),
                     (60 * M, (Agency.FINANCE_OFFICE,), 2, "主任"),
                     (60 * M, (Agency.STABILITY_OFFICE,), 2, "主任")]
    assert len({a.key for a in alerts}) == len(alerts)
    assert all(a.explanation["incident"] == fired.explanation["incident"] for a in alerts)


def test_a_warning_after_a_quiet_hour_opens_its_own_group_and_its_pages_follow_it(registry: Registry) -> None:
    """Gathering fires at minute 3 and its group's wait runs out while no post arrives; panic fires on the first
    post an hour later. That warning must go out in a group of its own: joining the stale group dated it as sent
    at minute 8 and paged agencies about it at minute 38, 22 minutes before it was decided."""
    alerting = build_alerting(registry, event_time_paging=RECEIVERS)
    posts = [sp(i, i, text=CALL.format(i=i * 37), gathering=0.9) for i in range(4)]
    posts += [sp(50 + i, i + 0.5, panic=0.9) for i in range(3)] + [sp(90, 60, panic=0.9)]
    alerts = collect(alerting, sorted(posts, key=lambda p: p.ts))
    alerts += alerting.advance(T0 + timedelta(hours=4))
    warnings = {a.key: a for a in alerts if a.explanation["reason"] == "fired"}
    assert [(w.signal.value, w.ts - T0) for w in warnings.values()] == [("gathering", 3 * M), ("panic", 60 * M)]
    assert [w.explanation["group"]["alerts"] for w in warnings.values()] == [[k] for k in warnings]
    pages = [a for a in alerts if a.explanation["reason"] == "unacknowledged"]
    assert any(p.signal.value == "panic" for p in pages)
    for page in pages:
        warning = warnings[page.key.rsplit("/page", 1)[0]]
        assert page.ts >= warning.ts + 5 * M + 15 * M, (page.key, page.ts - warning.ts)


def test_acknowledgement_stops_the_paging(registry: Registry) -> None:
    alerting = build_alerting(registry, event_time_paging=RECEIVERS)
    alerts = collect(alerting, ramp(8, gathering=0.9))
    incident, sent = alerts[0].explanation["incident"], alerts[0].ts + 5 * M
    alerts += alerting.advance(sent + 20 * M)
    paged = [a for a in alerts if a.explanation["reason"] == "unacknowledged"]
    assert [a.agencies for a in paged] == [(Agency.POLICE,)]  # police has 15 minutes, the others 30
    assert alerting.acknowledge(paged[0].key, "李值班", sent + 20 * M) == incident
    assert alerting.advance(sent + timedelta(hours=11)) == []


def test_an_acknowledgement_stops_only_the_pages_due_after_it(registry: Registry) -> None:
    """Acknowledged 25 minutes after the warning went out, with no post in between: police's page had fallen
    due at 15 minutes and live would have sent it; the other agencies' pages (30 minutes) are stopped."""
    store = AlertStore()
    alerting = build_alerting(registry, store=store, event_time_paging=RECEIVERS)
    alerts = collect(alerting, ramp(8, gathering=0.9))
    incident, sent = alerts[0].explanation["incident"], alerts[0].ts + 5 * M
    assert not [a for a in alerts if a.explanation["reason"] == "unacknowledged"]
    store.acknowledge(incident, "李值班", sent + 25 * M)
    later = alerting.advance(sent + timedelta(hours=3))
    assert [(a.agencies, a.ts - sent) for a in later] == [((Agency.POLICE,), 15 * M)]
    restored = build_alerting(registry, event_time_paging=RECEIVERS)
    restored.restore(alerting.snapshot())
    assert restored.advance(sent + timedelta(hours=4)) == []  # the acknowledgement and its time survive


def test_live_service_pages_nobody_in_event_time(registry: Registry) -> None:
    alerting = build_alerting(registry)  # no pager: the live service pages on the wall-clock timer
    alerts = collect(alerting, ramp(8, gathering=0.9))
    alerts += alerting.advance(alerts[-1].ts + timedelta(hours=3))
    assert [a.explanation["reason"] for a in alerts] == ["fired"]


def test_ack_through_store_is_seen_by_the_service(registry: Registry) -> None:
    store = AlertStore()
    alerting = build_alerting(registry, store=store, event_time_paging=RECEIVERS)
    alerts = collect(alerting, ramp(8, gathering=0.9))
    store.acknowledge(alerts[-1].explanation["incident"], "王主任", alerts[-1].ts)
    assert alerting.advance(alerts[-1].ts + timedelta(hours=2)) == []
    unacknowledged = build_alerting(registry, event_time_paging=RECEIVERS)
    collect(unacknowledged, ramp(8, gathering=0.9))
    assert unacknowledged.advance(alerts[-1].ts + timedelta(hours=2))  # without the ack, contacts are paged


def test_a_redelivered_post_is_not_counted_twice(registry: Registry) -> None:
    """A re-run import or a retried batch delivers posts again, some long after the first copy; the
    warnings must be those of a clean run, not of twice the posts."""
    posts = ramp(24, gathering=0.9)
    clean = collect(build_alerting(registry), posts)
    twice = build_alerting(registry)
    again = collect(twice, sorted(posts + posts[5:15], key=lambda p: p.ts))
    assert [(a.key, a.level, a.posts) for a in again] == [(a.key, a.level, a.posts) for a in clean]
    assert twice.duplicates == 10
    restored = build_alerting(registry)
    restored.restore(twice.snapshot())
    assert restored.observe(posts[20]) == [] and restored.duplicates == 11  # also after a restart


def test_a_redelivered_post_without_signal_does_not_grow_the_denominator(registry: Registry) -> None:
    """The share of posts naming a platform that carry a signal must not fall because a batch of ordinary posts
    was delivered twice."""
    chatter = [sp(1000 + i, i * 1.5) for i in range(48)]
    posts = sorted(ramp(24, gathering=0.9) + chatter, key=lambda p: p.ts)
    clean = collect(build_alerting(registry), posts)
    twice = build_alerting(registry)
    again = collect(twice, sorted(posts + chatter[10:30], key=lambda p: p.ts))
    assert clean and [(a.key, a.explanation) for a in again] == [(a.key, a.explanation) for a in clean]
    assert twice.duplicates == 20
    totals = [w["total"] for a in clean for w in a.explanation.get("windows", ())]
    assert totals and max(totals) > 24  # the chatter is in the denominator, once
    restored = build_alerting(registry)
    restored.restore(twice.snapshot())
    assert restored.observe(chatter[40]) == [] and restored.duplicates == 21  # also after a restart


def test_copy_paste_rumour_is_one_story_with_its_spreaders(registry: Registry) -> None:
    text = "内部消息：鑫盛贷老板已经跑路，资金链断裂，赶紧转发！！"
    posts = [sp(i, i * 2, rumour=0.8, text=text + ("。" * (i % 3))) for i in range(30)]
    alerts = collect(build_alerting(registry), posts)
    assert alerts and alerts[-1].signal.value == "rumour"
    top = alerts[-1].explanation["top_posts"]
    assert len(top) == 1 and top[0]["spreaders"] == alerts[-1].posts
    assert alerts[-1].explanation["windows"][1]["stories"] == 1


def test_posts_naming_no_platform_are_ignored(registry: Registry) -> None:
    assert collect(build_alerting(registry), [sp(i, i, platform="", gathering=1.0) for i in range(50)]) == []


def test_grouping_sends_a_platforms_warnings_together(registry: Registry) -> None:
    posts = [sp(i, i, gathering=0.9, panic=0.9) for i in range(5)]
    alerts = collect(build_alerting(registry), posts)
    assert {a.signal.value for a in alerts} == {"gathering", "panic"}
    groups = {tuple(a.explanation["group"]["alerts"]) for a in alerts}
    assert len(groups) == 1 and len(next(iter(groups))) == 2


def test_snapshot_restore_continues_identically(registry: Registry) -> None:
    posts = ramp(40, gathering=0.9) + [sp(900 + i, 130 + i, panic=0.9) for i in range(10)]
    posts.sort(key=lambda p: p.ts)
    whole = collect(build_alerting(registry, event_time_paging=RECEIVERS), posts)
    assert any(a.explanation["reason"] == "unacknowledged" for a in whole)  # paging state crosses the restart
    first = build_alerting(registry, event_time_paging=RECEIVERS)
    out = [a for p in posts[:23] for a in first.observe(p)]
    second = build_alerting(registry, event_time_paging=RECEIVERS)
    second.restore(first.snapshot())
    out += collect(second, posts[23:])
    assert [a.to_dict() for a in out] == [a.to_dict() for a in whole]


def test_small_disorder_is_tolerated(registry: Registry) -> None:
    posts = ramp(30, gathering=0.9)
    shuffled = [posts[i ^ 1] for i in range(len(posts))]  # swap neighbours
    alerts = collect(build_alerting(registry), shuffled)
    assert alerts[-1].level is Level.RED
