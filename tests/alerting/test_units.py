"""Pure parts: near-duplicate fingerprints, window figures, the EWMA baseline, the incident step."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.alerting.helpers import T0
from yujing.alerting.incidents import Policy, Reason, step
from yujing.alerting.rules import Baseline
from yujing.alerting.simhash import Clusters, distance, normalise, simhash
from yujing.alerting.windows import Entry, Ewma, figures_for, top_stories
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


POLICY = Policy(deescalate_after=3 * H, resolve_after=12 * H, repeat_interval=12 * H, ack_timeout=timedelta(minutes=30))


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


def test_step_pages_contacts_in_turn_until_acknowledged() -> None:
    inc, _ = step(None, Level.ORANGE, "r_o", T0, POLICY, "甲", "gathering", 3)
    reasons = []
    for minutes in range(0, 200, 5):
        assert inc is not None
        inc, notice = step(inc, Level.ORANGE, "r_o", T0 + timedelta(minutes=minutes), POLICY)
        if notice is not None:
            reasons.append((minutes, notice.key))
    assert reasons == [(30, "甲/gathering/3/orange/page1"), (60, "甲/gathering/3/orange/page2")]


def test_blue_needs_no_ack_but_repeats() -> None:
    inc, _ = step(None, Level.BLUE, "r_b", T0, POLICY, "甲", "rumour", 1)
    assert inc is not None
    inc, notice = step(inc, Level.BLUE, "r_b", T0 + 2 * H, POLICY)
    assert notice is None
    inc, notice = step(inc, Level.BLUE, "r_b", T0 + 12 * H, POLICY)
    assert notice is not None and notice.reason is Reason.REPEAT and notice.key.endswith("/repeat1")
