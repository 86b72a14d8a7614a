"""Backtest scoring (pure) and the demo backtest through the CLI."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.alerting.test_delivery import T0, _alert
from yujing.alerting.backtest import Event, load_events, score
from yujing.cli import main
from yujing.errors import ConfigError
from yujing.records import Level

DEMO = Path(__file__).resolve().parents[2] / "yujing" / "demo"


def test_score_hits_misses_and_lead() -> None:
    early = _alert("a", Level.ORANGE)
    from dataclasses import replace
    late = replace(_alert("b", Level.ORANGE), ts=T0 + timedelta(days=30))
    blue = replace(_alert("c", Level.BLUE))
    ev = [Event("星河贷", "suspension", T0 + timedelta(hours=48)), Event("其他贷", "suspension", T0)]
    rep = score([early, late, blue], ev)
    assert rep.precision == 0.5  # late warning has no event after it; blue is not counted
    assert rep.recall == 0.5  # 其他贷 had no warning
    assert rep.platforms["星河贷"].lead_hours == [48.0]


def test_events_file_errors_name_line(tmp_path: Path) -> None:
    p = tmp_path / "e.csv"
    p.write_text("platform,event,ts\nX,suspension,2016-09-05T10:00:00\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"e\.csv"):
        load_events(p)


def test_demo_backtest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", str(DEMO / "stream.jsonl"), "--events", str(DEMO / "events.csv"), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rep["recall"] == 1.0
    assert rep["precision"] >= 0.8
    p = rep["platforms"]["鑫盛贷"]
    assert p["detected"] == 2 and all(h > 24 for h in p["lead_hours"])
    quiet = [r for name, r in rep["platforms"].items() if r["events"] == 0]
    assert all(r["warnings"] == 0 for r in quiet)  # no yellow+ warnings on platforms without events


def test_alerts_and_ack_cli(capsys: pytest.CaptureFixture[str]) -> None:
    from yujing.alerting.store import AlertStore
    from yujing.settings import Settings

    d = Settings().data_dir
    d.mkdir(parents=True, exist_ok=True)
    a = _alert()
    AlertStore(d / "alerts.db").record(a, "sent")
    assert main(["alerts", "--json"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[0])
    assert row["alert"]["platform"] == "星河贷" and row["acks"] == []
    assert main(["ack", row["incident"], "--by", "张三"]) == 0
    capsys.readouterr()
    main(["alerts", "--json"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[0])["acks"][0]["by"] == "张三"
    assert main(["ack", "no-such", "--by", "x"]) != 0
