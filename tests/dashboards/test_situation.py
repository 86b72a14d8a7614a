"""The situation page: pure aggregation, and the page/JSON/incident view over a real demo replay."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from yujing.app import replay_file
from yujing.dashboards import validate
from yujing.dashboards.situation import build_situation, sparkline
from yujing.records import Agency, Alert, Level, Post, ScoredPost, Scores, Signal
from yujing.registry import load_registry
from yujing.settings import Settings

DEMO = Path(__file__).resolve().parents[2] / "yujing" / "demo"
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _alert(key: str, platform: str, level: Level, minutes: int, signal: Signal = Signal.PANIC) -> Alert:
    return Alert(key, platform, signal, level, NOW - timedelta(minutes=minutes), (Agency.POLICE,), 3,
                 explanation={"district": "东区"} if platform == "甲" else {})


def _post(pid: str, platform: str, minutes: int, labels: tuple[Signal, ...]) -> ScoredPost:
    return ScoredPost(Post(pid, "t", NOW - timedelta(minutes=minutes)), Scores(0.9, 0.9, 0.9), labels, (platform,))


def test_highest_warning_per_platform_and_signal_counts_by_level() -> None:
    alerts = [_alert("a1", "甲", Level.BLUE, 50), _alert("a2", "甲", Level.RED, 10),
              _alert("b1", "乙", Level.YELLOW, 30), _alert("future", "丙", Level.RED, -5)]
    s = build_situation(alerts, [], now=NOW, district_of=lambda p: "西区")
    assert s["by_level"] == {"blue": 0, "yellow": 1, "orange": 0, "red": 1}
    assert [w["key"] for w in s["warnings"]] == ["a2", "b1"]  # a1 is superseded by the red a2
    assert s["warnings"][0]["incident"] == "/incidents/a2"
    assert [r["platform"] for r in s["top_platforms"]] == ["甲", "乙"]
    assert s["districts"] == [{"district": "东区", "blue": 0, "yellow": 0, "orange": 0, "red": 1},
                              {"district": "西区", "blue": 0, "yellow": 1, "orange": 0, "red": 0}]


def test_timelines_bucket_labelled_posts_in_the_window() -> None:
    posts = [_post("1", "甲", 30, (Signal.RUMOUR,)), _post("2", "甲", 90, (Signal.RUMOUR, Signal.PANIC)),
             _post("3", "甲", 10, ()), _post("old", "甲", 60 * 30, (Signal.PANIC,))]
    s = build_situation([], posts, now=NOW, buckets=3, step=timedelta(hours=1))
    (line,) = s["timelines"]
    assert line["signals"]["rumour"] == [0, 1, 1] and line["signals"]["panic"] == [0, 1, 0]
    assert s["top_platforms"] == [{"platform": "甲", "level": None, "posts": 2}]


def test_sparkline_is_inline_svg() -> None:
    svg = sparkline([0, 2, 1])
    assert svg.startswith("<svg") and "polyline" in svg and "0.0,23.0" in svg


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('situation') / 'store.db'}"
    result = replay_file(DEMO / "stream.jsonl", registry=load_registry(DEMO / "registry.yaml"), model="lexicon",
                         store_url=url)
    assert result is not None
    from yujing.app import open_store
    from yujing.search.filters import AlertQuery

    store = open_store(url)
    indexed = {a.key for a in store.search_alerts(AlertQuery(size=1000))}
    store.close()
    pages = {a.key for a in result.alerts if a.explanation["reason"] == "unacknowledged"}
    assert pages and not indexed & pages  # replay's pages are printed, not indexed (as live keeps them in the outbox)
    assert indexed == {a.key for a in result.alerts} - pages
    return url


def _client(url: str, monkeypatch: pytest.MonkeyPatch, role: str = "viewer", agency: str = "") -> TestClient:
    """The app over the replayed store, sending a token of ``role`` (as Grafana's data source does)."""
    from yujing.http import create_app
    from yujing.search.access import AccessStore
    from yujing.search.api import access_path

    monkeypatch.setenv("YUJING_STORE", url)
    monkeypatch.setenv("YUJING_REGISTRY", str(DEMO / "registry.yaml"))
    settings = Settings()
    access = AccessStore(access_path(settings))
    _, token = access.create_token(f"screen.{role}", role, datetime.now(UTC), agency=agency)
    access.close()
    return TestClient(create_app(settings), headers={"Authorization": f"Bearer {token}"})


def test_situation_over_a_demo_replay(replayed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    client = _client(replayed, monkeypatch)
    data = client.get("/situation.json", params={"now": "2016-09-04T00:00:00+08:00"}).json()
    assert data["by_level"]["red"] >= 1
    assert data["top_platforms"][0]["platform"] == "鑫盛贷" and data["top_platforms"][0]["level"] == "red"
    assert any(t["platform"] == "鑫盛贷" and sum(t["signals"]["rumour"]) > 0 for t in data["timelines"])
    page = client.get("/situation", params={"now": "2016-09-04T00:00:00+08:00", "hours": 48})
    assert page.status_code == 200 and "鑫盛贷" in page.text and 'http-equiv="refresh"' in page.text
    assert "<script" not in page.text and "http://" not in page.text and "https://" not in page.text
    first = data["warnings"][0]
    view = client.get(first["incident"])
    assert view.status_code == 200 and first["platform"] in view.text and "Supporting posts" in view.text
    assert client.get("/incidents/no-such-key").status_code == 404


def test_the_window_is_read_with_since_until_and_defaults_to_the_latest_event(
        replayed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from yujing.dashboards import situation

    client = _client(replayed, monkeypatch)
    latest = client.get("/situation.json").json()
    assert latest["now"] == "2016-09-07T22:54:29.001000+08:00"  # 1 ms after the demo's last post
    assert latest["warnings"] and latest["limits"]["truncated"] is False
    # a past window is answered by the store, not cut from the newest POST_CAP posts of all time
    monkeypatch.setattr(situation, "POST_CAP", 100)
    past = client.get("/situation.json", params={"now": "2016-09-04T00:00:00+08:00"}).json()
    assert past["limits"] == {"alerts": situation.ALERT_CAP, "posts": 100, "posts_in_window": 157, "truncated": True}
    assert sum(sum(v) for t in past["timelines"] for v in t["signals"].values()) > 0
    assert all("2016-09-03T00:00:00+08:00" <= w["ts"] < "2016-09-04T00:00:00+08:00" for w in past["warnings"])
    page = client.get("/situation", params={"now": "2016-09-04T00:00:00+08:00"})
    assert "counts use the newest 100" in page.text
    naive = client.get("/situation.json", params={"now": "2016-09-04T00:00:00"})
    assert naive.status_code == 400 and "no UTC offset" in naive.text


def _embedded_board() -> dict[str, Any]:
    from yujing.dashboards import generate

    data: dict[str, Any] = json.loads((generate.GENERATED_DIR / generate.EMBEDDED).read_text(encoding="utf-8"))
    return data


def _served(replayed: str, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], dict[str, frozenset[str]]]:
    """What /situation.json returns on the demo replay, and the query parameters the route accepts."""
    client = _client(replayed, monkeypatch)
    spec = client.get("/openapi.json").json()["paths"]["/situation.json"]["get"]
    params = frozenset(p["name"] for p in spec["parameters"])
    return {"/situation.json": client.get("/situation.json").json()}, {"/situation.json": params}


def test_every_path_the_embedded_dashboard_reads_is_in_situation_json(
        replayed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    responses, params = _served(replayed, monkeypatch)
    data = responses["/situation.json"]
    assert data["warnings"] and data["series"] and data["districts"] and data["top_platforms"]
    board = _embedded_board()
    targets = [t for p in validate.iter_panels(board) for t in p.get("targets", [])]
    assert {t["root_selector"] for t in targets} == {"by_level", "series", "top_platforms", "districts", "warnings"}
    assert validate.infinity_problems(board, responses, params) == []


def test_the_embedded_dashboard_check_catches_a_wrong_path_type_parameter_or_variable(
        replayed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    responses, params = _served(replayed, monkeypatch)
    board = copy.deepcopy(_embedded_board())
    targets = [t for p in validate.iter_panels(board) for t in p.get("targets", [])]
    by_root = {t["root_selector"]: t for t in targets}
    by_root["warnings"]["columns"][2]["selector"] = "platfrom"
    by_root["top_platforms"]["columns"][1]["type"] = "string"  # posts is a number
    by_root["districts"]["root_selector"] = "district"
    by_root["by_level"]["url_options"]["params"].append({"key": "since", "value": "${__from:date:iso}"})
    by_root["series"]["url_options"]["params"][1]["value"] = "$window"
    found = validate.infinity_problems(board, responses, params)
    assert any("has no 'platfrom'" in line for line in found), found
    assert any(".posts = " in line and "is not a string" in line for line in found), found
    assert any("has no 'district'" in line for line in found), found
    assert any("takes no parameter 'since'" in line for line in found), found
    assert any("variable $window is not defined" in line for line in found), found
