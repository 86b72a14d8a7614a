"""The explanation every warning carries: rule and window figures, top supporting posts (ids and
excerpts, never authors), the announced time and place of a gathering, and the routing path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from yujing.alerting import acklink
from yujing.alerting.incidents import Notice, Reason
from yujing.alerting.routing import Decision
from yujing.alerting.rules import Verdict
from yujing.alerting.windows import Entry, announced, top_stories
from yujing.records import AGENCY_ZH, Level, Signal

SIGNAL_ZH = {Signal.RUMOUR: "谣言", Signal.PANIC: "挤兑恐慌", Signal.GATHERING: "聚集"}
REASON_ZH = {Reason.FIRED: "新预警", Reason.ESCALATED: "升级", Reason.DEESCALATED: "降级", Reason.RESOLVED: "解除",
             Reason.REPEAT: "重复提醒", Reason.UNACKNOWLEDGED: "未确认，通知下一联系人"}


def is_page(explanation: Mapping[str, Any]) -> bool:
    """A page: a warning sent again to an agency's next contact because nobody acknowledged it in time."""
    return explanation.get("reason") == Reason.UNACKNOWLEDGED.value


def why_sent(explanation: Mapping[str, Any]) -> str:
    """Why a notification was sent, in a few Chinese words for a one-line listing: '' for a new warning or
    a resolution (the line's level and state already say it); a page names the contact it goes to."""
    reason = explanation.get("reason")
    if reason in (None, Reason.FIRED, Reason.RESOLVED):
        return ""
    if reason == Reason.UNACKNOWLEDGED:
        contact = (explanation.get("escalation") or {}).get("contact")  # replay's pages name the contact
        step = int(explanation.get("contact_step", 1))
        return f"未确认，通知{contact or f'第{step + 1}联系人'}"
    return {r.value: text for r, text in REASON_ZH.items()}.get(str(reason), "")


def summary(notice: Notice, verdict: Verdict, place: Mapping[str, Any] | None) -> str:
    """One Chinese sentence an officer reads first."""
    inc = notice.incident
    head = f"【{inc.level.chinese}预警·{REASON_ZH[notice.reason]}】{inc.platform} {SIGNAL_ZH[Signal(inc.signal)]}"
    rule = verdict.rule
    if rule is None:
        return f"{head}：信号已回落，规则均未满足。"
    f = verdict.figures[rule.window]
    text = (f"{head}：{_window_zh(rule.window.total_seconds())}内 {f.posts} 条相关帖子、{f.authors} 个账号、"
            f"{f.stories} 个独立话题，加权 {f.weighted:.1f}（基线预期 {f.expected:.1f}，{f.spike:.1f} 倍）")
    if place:
        text += f"；号召时间 {place.get('time') or '未明'}，地点 {place.get('place') or '未明'}"
    return text + "。"


def _window_zh(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:g} 小时" if hours >= 1 else f"{seconds / 60:g} 分钟"


def explanation(notice: Notice, verdict: Verdict, entries: Sequence[Entry], now: datetime, decision: Decision,
                labels: Mapping[str, str], ack_url: str, ack_secret: bytes = b"") -> dict[str, Any]:
    inc = notice.incident
    window = verdict.rule.window if verdict.rule else max(verdict.figures)
    place = announced(entries, window, now) if inc.signal == Signal.GATHERING.value else None
    body: dict[str, Any] = {
        "summary": summary(notice, verdict, place),
        "reason": notice.reason.value,
        "previous_level": notice.previous.value if notice.previous else None,
        "incident": inc.id,
        "episode_started": inc.started.isoformat(),
        **verdict.explain(),
        "top_posts": top_stories(entries, window, now),
        "routing": {"path": list(decision.path), "agencies": [a.value for a in decision.agencies],
                    "agencies_zh": [AGENCY_ZH[a] for a in decision.agencies]},
        "labels": dict(labels),
        "contact_step": 0,  # the first contact; a page (escalation.py) names a later one
        "needs_ack": notice.reason is not Reason.RESOLVED and inc.level.rank >= Level.YELLOW.rank,
    }
    if place is not None:
        body["announced"] = place
    if ack_url and ack_secret:  # the link is only usable signed (GET /api/alerts/ack?ref=…&sig=…)
        body["ack_url"] = acklink.link(ack_url.rstrip("/"), inc.id, ack_secret)
    return body
