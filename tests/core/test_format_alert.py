from __future__ import annotations

from datetime import UTC, datetime

from yujing.cli import format_alert
from yujing.records import Agency, Alert, AlertStatus, Level, Signal

TS = datetime(2016, 9, 4, 5, 52, tzinfo=UTC)


def _alert(key: str, status: AlertStatus = AlertStatus.FIRING) -> Alert:
    return Alert(key, "鑫盛贷", Signal.PANIC, Level.RED, TS, (Agency.FINANCE_OFFICE, Agency.POLICE), 15,
                 status=status, rule="panic_red")


def test_the_duty_line_names_level_platform_offices_and_why_it_was_sent() -> None:
    first = format_alert(_alert("鑫盛贷/panic/1/red/fired"))
    assert "红色预警 RED" in first and "鑫盛贷" in first and "posts=15" in first
    assert first.endswith("(panic_red)")
    assert "金融办" in first and "公安" in first
    page = format_alert(_alert("鑫盛贷/panic/1/red/page1"))
    assert page.endswith("(panic_red，未确认，通知第2联系人)")
    assert format_alert(_alert("鑫盛贷/panic/1/red/repeat2")).endswith("(panic_red，提醒)")
    assert format_alert(_alert("鑫盛贷/panic/1/red/escalated")).endswith("(panic_red，升级)")
    assert "已解除" in format_alert(_alert("鑫盛贷/panic/1/red/resolved", AlertStatus.RESOLVED))
