"""The warnings HTTP API against a real AlertStore filled by the real alerting engine."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.alerting.helpers import T0, sp
from yujing.alerting import acklink
from yujing.alerting.api import make_router
from yujing.alerting.service import build_alerting, collect
from yujing.alerting.store import AlertStore
from yujing.registry import Registry

SECRET = b"test-secret-for-ack-links"
NOW = T0 + timedelta(hours=5)
CALL = "明天上午九点在区政府门口集合维权，大家一起去讨说法 {i}号投资人"


@pytest.fixture
def store(registry: Registry, tmp_path: Path) -> AlertStore:
    st = AlertStore(tmp_path / "alerts.db")
    alerting = build_alerting(registry, store=st)
    posts = [sp(i, i * 3.0, text=CALL.format(i=i * 37), gathering=0.9) for i in range(40)]
    posts += [sp(100 + i, i * 2.0, platform="安和财富", text=f"安和财富 提不了现 第{i}天", panic=0.9)
              for i in range(30)]
    collect(alerting, sorted(posts, key=lambda p: p.post.ts))
    return st


@pytest.fixture
def client(store: AlertStore) -> TestClient:
    app = FastAPI()
    app.include_router(make_router(store, SECRET, now=lambda: NOW), prefix="/api")
    return TestClient(app)


def _gathering_incident(client: TestClient) -> str:
    rows = client.get("/api/alerts", params={"platform": "鑫盛贷", "signal": "gathering"}).json()
    assert rows
    return str(rows[0]["incident"])


def test_list_and_filter(client: TestClient) -> None:
    everything = client.get("/api/alerts").json()
    assert {r["alert"]["platform"] for r in everything} == {"鑫盛贷", "安和财富"}
    gathering = client.get("/api/alerts", params={"signal": "gathering"}).json()
    assert gathering and {r["alert"]["signal"] for r in gathering} == {"gathering"}
    assert len(gathering) < len(everything)
    red = client.get("/api/alerts", params={"level": "red", "platform": "鑫盛贷"}).json()
    assert red and all(r["alert"]["level"] == "red" for r in red)
    assert red[0]["alert"]["explanation"]["announced"]["place"] == "区政府门口"
    by_text = client.get("/api/alerts", params={"text": "区政府门口"}).json()
    assert by_text and all(r["alert"]["platform"] == "鑫盛贷" for r in by_text)
    assert client.get("/api/alerts", params={"platform": "不存在平台"}).json() == []
    assert len(client.get("/api/alerts", params={"limit": 1}).json()) == 1


def test_get_incident_and_unknown(client: TestClient) -> None:
    incident = _gathering_incident(client)
    for path in (incident, quote(incident, safe="")):
        rows = client.get(f"/api/alerts/{path}").json()
        assert rows and {r["incident"] for r in rows} == {incident}
    assert client.get("/api/alerts/nope/x/1/red").status_code == 404


def test_ack_by_post_is_stored_with_name_and_note(client: TestClient, store: AlertStore) -> None:
    incident = _gathering_incident(client)
    r = client.post(f"/api/alerts/{incident}/ack", json={"by": "王主任", "note": "已派人核实"})
    assert r.status_code == 200, r.text
    assert r.json()["acks"] == [{"by": "王主任", "ts": NOW.isoformat(), "note": "已派人核实"}]
    assert incident in store.acked_incidents()
    assert client.get(f"/api/alerts/{incident}").json()[0]["acks"][0]["by"] == "王主任"
    assert client.post("/api/alerts/nope/x/1/red/ack", json={"by": "王主任"}).status_code == 404


def test_ack_via_signed_link_and_bad_signature(client: TestClient, store: AlertStore) -> None:
    incident = _gathering_incident(client)
    other = next(r["incident"] for r in client.get("/api/alerts").json() if r["incident"] != incident)
    # a link for one incident, with its signature swapped onto another ref, must not ack the other
    forged = client.get("/api/alerts/ack", params={"ref": other, "sig": acklink.sign(SECRET, incident)})
    assert forged.status_code == 403
    assert client.get("/api/alerts/ack", params={"ref": incident, "sig": "00" * 32}).status_code == 403
    assert client.get("/api/alerts/ack", params={"ref": incident,
                                                "sig": acklink.sign(b"other key", incident)}).status_code == 403
    assert store.acked_incidents() == set()
    link = acklink.link("http://testserver/api/alerts/ack", incident, SECRET)
    ok = client.get(link)
    assert ok.status_code == 200, ok.text
    assert ok.json()["incident"] == incident
    assert store.acked_incidents() == {incident}


def test_outcome_recorded(client: TestClient) -> None:
    incident = _gathering_incident(client)
    r = client.post(f"/api/alerts/{incident}/outcome", json={"by": "李警官", "outcome": "现场无聚集"})
    assert r.status_code == 200, r.text
    assert r.json()["outcomes"][0]["outcome"] == "现场无聚集"


def test_silence_create_list_expire(client: TestClient, store: AlertStore) -> None:
    r = client.post("/api/silences", json={"matchers": {"platform": ["鑫盛贷"], "signal": ["rumour"]},
                                           "creator": "张科长", "comment": "检查中", "hours": 2})
    assert r.status_code == 201, r.text
    sil = r.json()
    assert sil["active"] and sil["creator"] == "张科长"
    assert sil["ends"] == (NOW + timedelta(hours=2)).isoformat()
    assert [s.id for s in store.silences()] == [sil["id"]]
    listed = client.get("/api/silences", params={"active": True}).json()
    assert [s["id"] for s in listed] == [sil["id"]]
    r = client.post(f"/api/silences/{sil['id']}/expire", json={"by": "张科长"})
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False and r.json()["expired_by"] == "张科长"
    assert client.get("/api/silences", params={"active": True}).json() == []
    assert client.post("/api/silences/sil-nope/expire", json={"by": "x"}).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"matchers": {"signal": ["weather"]}, "creator": "张", "hours": 1}, "matchers"),
    ({"matchers": {"colour": ["red"]}, "creator": "张", "hours": 1}, "matchers"),
    ({"matchers": {}, "creator": "张", "hours": 1}, "matchers"),
    ({"matchers": {"platform": ["鑫盛贷"]}, "creator": "", "hours": 1}, "creator"),
    ({"matchers": {"platform": ["鑫盛贷"]}, "hours": 1}, "creator"),
    ({"matchers": {"platform": ["鑫盛贷"]}, "creator": "张"}, "ends"),
    ({"matchers": {"platform": ["鑫盛贷"]}, "creator": "张", "hours": -1}, "hours"),
    ({"matchers": {"platform": ["鑫盛贷"]}, "creator": "张", "ends": "2026-11-01T00:00:00+00:00"}, "ends"),
])
def test_silence_validation_names_the_field(client: TestClient, store: AlertStore, body: dict[str, object],
                                            field: str) -> None:
    r = client.post("/api/silences", json=body)
    assert r.status_code == 422, r.text
    assert any(d["loc"][-1] == field for d in r.json()["detail"]), r.json()
    assert store.silences() == []


def test_ack_requires_by(client: TestClient) -> None:
    incident = _gathering_incident(client)
    r = client.post(f"/api/alerts/{incident}/ack", json={"note": "x"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "by"


def test_link_in_the_message_acknowledges_and_the_service_sees_it(registry: Registry, tmp_path: Path) -> None:
    st = AlertStore(tmp_path / "alerts.db")
    alerting = build_alerting(registry, store=st, ack_url="http://testserver/api/alerts/ack", ack_secret=SECRET)
    alerts = collect(alerting, [sp(i, i * 3.0, text=CALL.format(i=i * 37), gathering=0.9) for i in range(40)])
    red = next(a for a in reversed(alerts) if a.level.value == "red")
    link = str(red.explanation["ack_url"])
    assert "sig=" in link
    app = FastAPI()
    app.include_router(make_router(st, SECRET, now=lambda: NOW), prefix="/api")
    r = TestClient(app).get(link)
    assert r.status_code == 200, r.text
    assert r.json()["incident"] == red.explanation["incident"]
    alerting.advance(red.ts + timedelta(minutes=1))
    assert red.explanation["incident"] in json.loads(alerting.snapshot())["acked"]


def test_create_app_serves_the_live_store_under_api() -> None:
    from yujing.http import create_app
    from yujing.settings import Settings

    client = TestClient(create_app())
    created = client.post("/api/silences", json={"matchers": {"platform": ["鑫盛贷"]}, "creator": "张", "hours": 1})
    assert created.status_code == 201, created.text
    live = AlertStore(Settings().data_dir / "alerts.db")  # what `yujing run` and `yujing silence` read
    assert [s.id for s in live.silences()] == [created.json()["id"]]
    assert client.get("/api/alerts").json() == []
    assert "/api/alerts/ack" in client.get("/openapi.json").json()["paths"]
