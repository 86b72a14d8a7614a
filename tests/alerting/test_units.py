"""Pure parts: near-duplicate fingerprints, window figures, the EWMA baseline, the incident step."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.alerting.helpers import T0
from yujing.alerting.incidents import Policy, Reason, step
from yujing.alerting.rules import Baseline
from yujing.alerting.simhash import Clusters, distance, normalise, simhash
from yujing.alerting.windows import Entry, Ewma, Totals, figures_for, top_stories
from yujing.records import Level

H = timedelta(hours=1)


def test_simhash_near_duplicates_are_close_and_different_texts_far() -> None:
    a = simhash("内部消息：鑫盛贷老板已经跑路，资金链断裂，赶紧转发！！")
    b = simhash("内部消息:鑫盛贷老板已经跑路 资金链断裂 赶紧转发 http://t.cn/abc @张三")
    c = simhash("安和财富今天正常兑付，客服回复很快，大家放心")
    assert distance(a, b) <= 8 < distance(a, c)
    assert normalise("Ａ Ｂ，c!") == "abc"


def test_clusters_group_copies() -> None:
    clusters = Clusters(max_distance=8)
    base = "紧急通知：鑫盛贷明天暂停提现，所有出借人马上去门店排队取钱"
    ids = [clusters.assign(base + "!" * i) for i in range(5)]
    other = clusters.assign("安和财富发布三季度运营报告，逾期率持平")
    assert len(set(ids)) == 1 and other != ids[0]
    restored = Clusters(max_distance=8)
    restored.load(clusters.state())
    assert restored.assign(base) == ids[0]


def entry(minutes: float, p: float = 0.9, author: str = "a", cluster: int = 0, pid: str = "p") -> Entry:
    return Entry(T0 + timedelta(minutes=minutes), p, author, pid, "摘要", cluster)


def test_figures_count_each_story_once_and_distinct_authors() -> None:
    entries = [entry(0, 0.9, "a", 0), entry(10, 0.6, "b", 0), entry(20, 0.7, "b", 1), entry(-120, 0.9, "c", 2)]
    totals = [e.ts for e in entries] + [T0 + timedelta(minutes=30)]
    f = figures_for(entries, totals, H, T0 + timedelta(minutes=30), expected_per_hour=0.4)
    assert (f.posts, f.authors, f.stories, f.total) == (3, 2, 2, 4)
    assert f.weighted == pytest.approx(0.9 + 0.7)
    assert f.share == pytest.approx(0.75)
    assert f.spike == pytest.approx(1.6 / 0.4)


def test_top_stories_rank_by_spreaders_and_hide_authors() -> None:
    entries = [entry(i, 0.6, f"u{i}", 7, f"p{i}") for i in range(4)] + [entry(5, 0.99, "x", 8, "solo")]
    top = top_stories(entries, H, T0 + timedelta(minutes=10))
    assert top[0]["spreaders"] == 4 and top[0]["posts"] == 4
    assert top[1]["post_id"] == "solo"
    assert "author" not in top[0] and "u1" not in str(top)


def test_ewma_learns_the_steady_rate_and_decays() -> None:
    ewma = Ewma(Baseline(half_life=timedelta(hours=24), prior_per_hour=0.0))
    for hour in range(24 * 10):
        ewma.add(T0 + hour * H, 2.0)
    assert ewma.expected(T0 + 240 * H) == pytest.approx(2.0, rel=0.01)
    assert ewma.expected(T0 + (240 + 24) * H) == pytest.approx(1.0, rel=0.05)  # one half-life of silence


POLICY = Policy(deescalate_after=3 * H, resolve_after=12 * H, repeat_interval=12 * H)


def test_step_fire_escalate_deescalate_resolve() -> None:
    inc, notice = step(None, Level.YELLOW, "r_y", T0, POLICY, "甲", "panic", 1)
    assert notice is not None and notice.reason is Reason.FIRED and notice.key == "甲/panic/1/yellow/fired"
    inc, notice = step(inc, Level.YELLOW, "r_y", T0 + timedelta(minutes=10), POLICY)
    assert notice is None  # same level: deduplicated
    inc, notice = step(inc, Level.RED, "r_r", T0 + 2 * H, POLICY)
    assert notice is not None and notice.reason is Reason.ESCALATED and notice.previous is Level.YELLOW
    inc, notice = step(inc, Level.BLUE, "r_b", T0 + 4 * H, POLICY)
    assert notice is None or notice.reason is Reason.UNACKNOWLEDGED  # lower level must hold 3 h first
    inc, notice = step(inc, Level.BLUE, "r_b", T0 + 5 * H + timedelta(minutes=1), POLICY)
    assert notice is not None and notice.reason is Reason.DEESCALATED and inc is not None and inc.level is Level.BLUE
    inc, notice = step(inc, None, "", T0 + 10 * H, POLICY)
    assert notice is None
    inc, notice = step(inc, None, "", T0 + 17 * H + timedelta(minutes=1), POLICY)
    assert inc is None and notice is not None and notice.reason is Reason.RESOLVED


def test_a_level_the_episode_returns_to_gets_its_own_id_keys_and_acknowledgement() -> None:
    """yellow → orange → yellow → orange in one episode: the second orange must not reuse the first one's
    notification keys (the outbox would drop it as a duplicate) nor inherit its acknowledgement."""
    from yujing.alerting.incidents import Incident

    inc, _ = step(None, Level.YELLOW, "r_y", T0, POLICY, "甲", "panic", 1)
    inc, first = step(inc, Level.ORANGE, "r_o", T0 + H, POLICY)
    assert first is not None and first.key == "甲/panic/1/orange/escalated"
    assert inc is not None
    inc, back = step(replace(inc, acked=True), Level.YELLOW, "r_y", T0 + 5 * H, POLICY)
    assert back is not None and back.reason is Reason.DEESCALATED and back.key == "甲/panic/1/yellow-2/deescalated"
    inc, again = step(inc, Level.ORANGE, "r_o", T0 + 6 * H, POLICY)
    assert again is not None and again.reason is Reason.ESCALATED and again.key == "甲/panic/1/orange-2/escalated"
    assert inc is not None and not inc.acked and inc.id != first.incident.id
    assert Incident.from_dict(inc.to_dict()) == inc  # the history survives a snapshot
    old = {k: v for k, v in first.incident.to_dict().items() if k != "earlier"}  # a snapshot from before
    assert Incident.from_dict(old).id == "甲/panic/1/orange"


def test_step_reminds_until_acknowledged_and_pages_nobody_itself() -> None:
    inc, _ = step(None, Level.ORANGE, "r_o", T0, POLICY, "甲", "gathering", 3)
    keys = []
    for minutes in range(0, 25 * 60, 5):
        assert inc is not None
        inc, notice = step(inc, Level.ORANGE, "r_o", T0 + timedelta(minutes=minutes), POLICY)
        if notice is not None:
            keys.append((minutes, notice.key))
    # paging the next contact is per agency (escalation.py); the incident only reminds every 12 hours
    assert keys == [(12 * 60, "甲/gathering/3/orange/repeat1"), (24 * 60, "甲/gathering/3/orange/repeat2")]
    assert inc is not None
    inc, notice = step(replace(inc, acked=True), Level.ORANGE, "r_o", T0 + 48 * H, POLICY)
    assert notice is None  # acknowledged: no more reminders


def test_blue_needs_no_ack_but_repeats() -> None:
    inc, _ = step(None, Level.BLUE, "r_b", T0, POLICY, "甲", "rumour", 1)
    assert inc is not None
    inc, notice = step(inc, Level.BLUE, "r_b", T0 + 2 * H, POLICY)
    assert notice is None
    inc, notice = step(inc, Level.BLUE, "r_b", T0 + 12 * H, POLICY)
    assert notice is not None and notice.reason is Reason.REPEAT and notice.key.endswith("/repeat1")


# ---- the fast paths agree with the plain references (seeded random data, late posts included) -------

def test_sliding_windows_match_the_plain_scan_with_late_posts_and_eviction() -> None:
    import random

    from yujing.alerting.windows import SignalWindow, Times

    rng = random.Random(11)
    windows = (H, 6 * H, 24 * H)
    win, totals = SignalWindow(Baseline()), Times()
    kept: list[Entry] = []
    kept_totals: list[object] = []
    now = T0
    for i in range(1500):
        now += timedelta(minutes=rng.choice((0, 0, 1, 3, 7, 30)), seconds=rng.randrange(60))
        ts = now - timedelta(minutes=rng.randrange(90)) if rng.random() < 0.2 else now  # some arrive late
        totals.add(ts)
        kept_totals.append(ts)
        if rng.random() < 0.6:
            e = Entry(ts, round(rng.uniform(0.5, 1.0), 3), f"u{rng.randrange(40)}", f"p{i}", "", rng.randrange(25))
            win.add(e)
            kept.append(e)
        if i % 50 == 0:
            horizon = now - (25 * H if i % 200 else 2 * H)  # sometimes evict inside the 6 h and 24 h windows
            win.evict(horizon)
            totals.evict(horizon)
            kept = [e for e in kept if e.ts > horizon]
            kept_totals = [t for t in kept_totals if t > horizon]  # type: ignore[operator]
        if i % 7 == 0:
            # mostly at the watermark; sometimes a little earlier (before or after the latest post)
            at = now - timedelta(seconds=rng.choice((0, 0, 0, 1, 90, 4000))) if i % 3 == 0 else now
            fast = win.figures(windows, totals, at)
            in_time_order = sorted(kept, key=lambda e: e.ts)  # stable: equal times keep arrival order
            rate = win.ewma.expected(at)
            for w in windows:
                assert fast[w] == figures_for(in_time_order, kept_totals, w, at, rate), (i, w)  # type: ignore
    assert win.seen_clusters == {e.cluster for e in kept}
    assert len(totals) == len(kept_totals)


def test_vectorised_simhash_matches_the_bit_loop() -> None:
    import random

    from yujing.alerting.simhash import simhash_reference

    rng = random.Random(5)
    alphabet = "鑫盛贷老板跑路资金链断裂提现逾期维权集合区政府门口明天上午九点大家一起abc123"
    texts = ["", "a", "短", *("".join(rng.choice(alphabet) for _ in range(rng.randrange(2, 200))) for _ in range(200))]
    assert [simhash(t) for t in texts] == [simhash_reference(t) for t in texts]


def test_rule_met_is_exactly_no_unmet_condition() -> None:
    import random

    from yujing.alerting.rules import Figures, Rule
    from yujing.records import Signal

    rng = random.Random(3)
    rule = Rule("r", Signal.PANIC, Level.ORANGE, H, min_posts=3, min_weighted=2.0, min_authors=2, min_stories=2,
                min_share=0.1, min_spike=3.0)
    for _ in range(2000):
        f = Figures(H, rng.randrange(6), rng.uniform(0, 4), rng.randrange(4), rng.randrange(4), rng.randrange(1, 40),
                    rng.uniform(0, 2))
        assert rule.met(f) == (not rule.unmet(f))


def test_totals_know_their_posts_until_evicted_and_survive_a_snapshot() -> None:
    totals = Totals()
    for i, minutes in enumerate([5, 1, 3, 3, 9]):
        totals.add(T0 + timedelta(minutes=minutes), f"p{i}")
    assert [t.minute for t in totals.times] == [1, 3, 3, 5, 9] and totals.has("p2") and totals.has("p3")
    assert totals.evict(T0 + timedelta(minutes=3)) == 3 and not totals.has("p1") and not totals.has("p3")
    assert totals.has("p0") and totals.has("p4") and len(totals) == 2
    again = Totals.load(totals.state())
    assert again.state() == totals.state() and again.has("p4")
    old = Totals.load([(T0 + timedelta(minutes=m)).isoformat() for m in (2, 4)])  # a snapshot before ids were kept
    assert len(old) == 2 and not old.has("") and old.evict(T0 + timedelta(minutes=2)) == 1
