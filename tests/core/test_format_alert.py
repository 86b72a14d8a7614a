from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from yujing.cli import format_alert
from yujing.records import Agency, Alert, AlertStatus, Level, Signal

TS = datetime(2016, 9, 4, 5, 52, tzinfo=UTC)


def _alert(reason: str, contact_step: int = 0, status: AlertStatus = AlertStatus.FIRING) -> Alert:
    """An alert as the pipeline makes it: the notice's reason and contact step are in its explanation."""
    return Alert(f"鑫盛贷/panic/1/red/{reason}", "鑫盛贷", Signal.PANIC, Level.RED, TS,
                 (Agency.FINANCE_OFFICE, Agency.POLICE), 15, status=status, rule="panic_red",
                 explanation={"reason": reason, "contact_step": contact_step})


def test_the_duty_line_names_level_platform_offices_and_why_it_was_sent() -> None:
    first = format_alert(_alert("fired"))
    assert "红色预警 RED" in first and "鑫盛贷" in first and "posts=15" in first
    assert first.endswith("(panic_red)")
    assert "金融办" in first and "公安" in first
    page = format_alert(_alert("unacknowledged", contact_step=1))
    assert page.endswith("(panic_red，未确认，通知第2联系人)")
    named = _alert("unacknowledged", contact_step=2)
    named = replace(named, explanation={**named.explanation, "escalation": {"contact": "主任"}})
    assert format_alert(named).endswith("(panic_red，未确认，通知主任)")  # replay's pages name the contact
    assert format_alert(_alert("repeat")).endswith("(panic_red，重复提醒)")
    assert format_alert(_alert("escalated")).endswith("(panic_red，升级)")
    resolved = format_alert(_alert("resolved", status=AlertStatus.RESOLVED))
    assert "已解除" in resolved and resolved.endswith("(panic_red)")
