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
from yujing.search.access import AccessStore

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
def access(tmp_path: Path) -> AccessStore:
    return AccessStore(tmp_path / "access.db")


def _token(access: AccessStore, user: str, role: str, agency: str = "") -> dict[str, str]:
    return {"Authorization": f"Bearer {access.create_token(user, role, NOW, agency)[1]}"}


@pytest.fixture
def app(store: AlertStore, access: AccessStore) -> FastAPI:
    app = FastAPI()
    app.include_router(make_router(store, SECRET, access, now=lambda: NOW), prefix="/api")
    return app


@pytest.fixture
def client(app: FastAPI, access: AccessStore) -> TestClient:
    """An admin's client."""
    return TestClient(app, headers=_token(access, "王主任", "admin"))


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
    r = client.post(f"/api/alerts/{incident}/outcome", json={"outcome": "现场无聚集"})
    assert r.status_code == 200, r.text
    assert r.json()["outcomes"][0] == {"by": "王主任", "ts": NOW.isoformat(), "outcome": "现场无聚集"}


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
    r = client.post(f"/api/silences/{sil['id']}/expire", json={})
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False and r.json()["expired_by"] == "王主任"  # the token's user
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


def test_ack_is_recorded_under_the_tokens_user(client: TestClient) -> None:
    incident = _gathering_incident(client)
    r = client.post(f"/api/alerts/{incident}/ack", json={"by": "小李", "note": "电话已通知"})
    assert r.status_code == 200, r.text
    assert r.json()["acks"] == [{"by": "王主任", "ts": NOW.isoformat(), "note": "电话已通知 (报告人: 小李)"}]


def test_link_in_the_message_acknowledges_and_the_service_sees_it(registry: Registry, tmp_path: Path) -> None:
    st = AlertStore(tmp_path / "alerts.db")
    alerting = build_alerting(registry, store=st, ack_url="http://testserver/api/alerts/ack", ack_secret=SECRET)
    alerts = collect(alerting, [sp(i, i * 3.0, text=CALL.format(i=i * 37), gathering=0.9) for i in range(40)])
    red = next(a for a in reversed(alerts) if a.level.value == "red")
    link = str(red.explanation["ack_url"])
    assert "sig=" in link
    app = FastAPI()
    app.include_router(make_router(st, SECRET, AccessStore(tmp_path / "access.db"), now=lambda: NOW), prefix="/api")
    r = TestClient(app).get(link)  # no token: the signature is the credential
    assert r.status_code == 200, r.text
    assert r.json()["incident"] == red.explanation["incident"]
    alerting.advance(red.ts + timedelta(minutes=1))
    assert red.explanation["incident"] in json.loads(alerting.snapshot())["acked"]


def test_create_app_serves_the_live_store_under_api() -> None:
    from yujing.http import create_app
    from yujing.search.api import access_path
    from yujing.settings import Settings

    client = TestClient(create_app())
    assert client.get("/api/alerts").status_code == 401
    # the search API's token store (`yujing token create`) is the one the alerts API checks
    client.headers.update(_token(AccessStore(access_path(Settings())), "王主任", "admin"))
    created = client.post("/api/silences", json={"matchers": {"platform": ["鑫盛贷"]}, "creator": "张", "hours": 1})
    assert created.status_code == 201, created.text
    live = AlertStore(Settings().data_dir / "alerts.db")  # what `yujing run` and `yujing silence` read
    assert [s.id for s in live.silences()] == [created.json()["id"]]
    assert client.get("/api/alerts").json() == []
    assert "/api/alerts/ack" in client.get("/openapi.json").json()["paths"]


# ---- authentication: the search package's tokens and roles ----------------------------------------

def _incidents(c: TestClient) -> dict[str, str]:
    """signal → one incident id, as this client sees them."""
    return {r["alert"]["signal"]: r["incident"] for r in c.get("/api/alerts").json()}


def test_no_token_401_but_the_signed_link_works(app: FastAPI, client: TestClient, store: AlertStore) -> None:
    anon = TestClient(app)
    incident = _gathering_incident(client)
    for method, path, body in (("GET", "/api/alerts", None), ("GET", f"/api/alerts/{incident}", None),
                               ("POST", f"/api/alerts/{incident}/ack", {}),
                               ("POST", f"/api/alerts/{incident}/outcome", {"outcome": "x"}),
                               ("GET", "/api/silences", None),
                               ("POST", "/api/silences", {"matchers": {"platform": ["鑫盛贷"]}, "creator": "x",
                                                          "hours": 1})):
        r = anon.request(method, path, json=body)
        assert r.status_code == 401, (path, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
    assert TestClient(app, headers={"Authorization": "Bearer yj_nope"}).get("/api/alerts").status_code == 401
    assert store.acked_incidents() == set() and store.silences() == []
    r = anon.get(acklink.link("http://testserver/api/alerts/ack", incident, SECRET))
    assert r.status_code == 200, r.text
    assert store.acked_incidents() == {incident}


def test_duty_officer_sees_and_acks_only_its_agencys_warnings(app: FastAPI, client: TestClient,
                                                              access: AccessStore, store: AlertStore) -> None:
    everything = _incidents(client)
    assert {"gathering", "panic"} <= set(everything)
    # gathering warnings reach the stability office; panic warnings (finance office, petitions) do not
    duty = TestClient(app, headers=_token(access, "赵值班", "duty", "stability_office"))
    rows = duty.get("/api/alerts").json()
    assert rows and all("stability_office" in r["alert"]["agencies"] for r in rows)
    assert {r["alert"]["signal"] for r in rows} == {"gathering"}
    panic = everything["panic"]
    assert duty.get(f"/api/alerts/{panic}").status_code == 404  # not told it exists
    assert duty.post(f"/api/alerts/{panic}/ack", json={}).status_code == 404
    assert duty.post(f"/api/alerts/{panic}/outcome", json={"outcome": "x"}).status_code == 404
    assert panic not in store.acked_incidents()
    gathering = everything["gathering"]
    r = duty.post(f"/api/alerts/{gathering}/ack", json={"note": "已派人"})
    assert r.status_code == 200, r.text
    assert r.json()["acks"][0]["by"] == "赵值班"
    finance = TestClient(app, headers=_token(access, "钱值班", "duty", "finance_office"))
    assert finance.post(f"/api/alerts/{panic}/ack", json={}).status_code == 200
    assert store.acked_incidents() == {gathering, panic}
    assert duty.post("/api/silences", json={"matchers": {"platform": ["鑫盛贷"]}, "creator": "赵",
                                            "hours": 1}).status_code == 403
    assert duty.get("/api/silences").status_code == 200
    log = access.audit_rows(100)
    assert [(e["user"], e["action"]) for e in log if e["action"] == "alerts-ack"] == [
        ("赵值班", "alerts-ack"), ("钱值班", "alerts-ack")]
    assert access.verify() == []


def test_analyst_reads_everything_but_cannot_ack_or_silence(app: FastAPI, client: TestClient,
                                                           access: AccessStore, store: AlertStore) -> None:
    analyst = TestClient(app, headers=_token(access, "孙分析", "analyst"))
    assert _incidents(analyst) == _incidents(client)
    incident = _gathering_incident(analyst)
    assert analyst.get(f"/api/alerts/{incident}").status_code == 200
    assert analyst.post(f"/api/alerts/{incident}/ack", json={}).status_code == 403
    assert analyst.post(f"/api/alerts/{incident}/outcome", json={"outcome": "x"}).status_code == 403
    r = analyst.post("/api/silences", json={"matchers": {"platform": ["鑫盛贷"]}, "creator": "孙", "hours": 1})
    assert r.status_code == 403
    assert store.acked_incidents() == set() and store.silences() == []
