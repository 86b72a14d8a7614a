"""The situation board takes the search API's tokens: header (Grafana's Infinity data source),
cookie (a browser, after opening ``/situation?token=…`` once); a duty officer sees its agency's
warnings; the provisioning sends the header from an env var and the versions are pinned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.dashboards.test_situation import _client
from yujing.dashboards import fields

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NOW = {"now": "2016-09-04T00:00:00+08:00", "hours": 72}


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests.dashboards.test_situation import DEMO
    from yujing.app import replay_file
    from yujing.registry import load_registry

    url = f"sqlite:///{tmp_path_factory.mktemp('situation-auth') / 'store.db'}"
    assert replay_file(DEMO / "stream.jsonl", registry=load_registry(DEMO / "registry.yaml"), model="lexicon",
                       store_url=url) is not None
    return url


def _anonymous(client: TestClient) -> TestClient:
    client.headers.pop("Authorization")
    return client


def test_every_situation_route_needs_a_token(replayed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    client = _client(replayed, monkeypatch)
    key = client.get("/situation.json", params=NOW).json()["warnings"][0]["key"]
    anonymous = _anonymous(_client(replayed, monkeypatch))
    for path in ("/situation.json", "/situation", f"/incidents/{key}"):
        r = anonymous.get(path, params=NOW if path != f"/incidents/{key}" else None)
        assert r.status_code == 401 and "Bearer" in r.headers["www-authenticate"], path
        bad = anonymous.get(path, headers={"Authorization": "Bearer yj_not_a_token"})
        assert bad.status_code == 401, path
    assert anonymous.get("/situation.json", params={**NOW, "token": "yj_x"}).status_code == 401  # pages only


def test_a_viewer_reads_the_board_but_cannot_search(replayed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    client = _client(replayed, monkeypatch)
    assert client.get("/situation.json", params=NOW).status_code == 200
    assert client.get("/situation", params=NOW).status_code == 200
    refused = client.get("/search/posts", params={"q": "提现"})
    assert refused.status_code == 403 and "viewer" in refused.text
    assert client.get("/search/alerts").status_code == 403


def test_a_browser_logs_in_once_with_the_token_in_the_address(replayed: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from yujing.search.access import AccessStore
    from yujing.search.api import access_path
    from yujing.settings import Settings

    browser = _anonymous(_client(replayed, monkeypatch))
    access = AccessStore(access_path(Settings()))
    _, token = access.create_token("wall.screen", "viewer", __import__("datetime").datetime.now().astimezone())
    access.close()
    r = browser.get("/situation", params={**NOW, "token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert "token" not in r.headers["location"] and "hours=72" in r.headers["location"]
    cookie = r.headers["set-cookie"]
    assert "yujing_token=" in cookie and "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    page = browser.get(r.headers["location"])  # the client keeps the cookie, as a browser does
    assert page.status_code == 200 and "鑫盛贷" in page.text


def test_a_duty_officer_sees_its_agencys_warnings_only(replayed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    month = {"hours": 24 * 31}  # the demo's whole replay: a gathering and a rumour warning in force
    everything = _client(replayed, monkeypatch).get("/situation.json", params=month).json()["warnings"]
    duty = _client(replayed, monkeypatch, role="duty", agency="petitions_bureau")
    mine = duty.get("/situation.json", params=month).json()["warnings"]
    assert everything and mine and len(mine) < len(everything)
    assert all("petitions_bureau" in w["agencies"] for w in mine)
    other = next(w for w in everything if "petitions_bureau" not in w["agencies"])
    assert duty.get(f"/incidents/{other['key']}").status_code == 404
    assert duty.get(f"/incidents/{mine[0]['key']}").status_code == 200


def _datasource(rel: str) -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / rel).read_text(encoding="utf-8"))
    return {d["uid"]: d for d in data["datasources"]}[fields.SITUATION_API_DS_UID]  # type: ignore[no-any-return]


@pytest.mark.parametrize("rel", ["grafana/provisioning/datasources/yujing.yaml",
                                 "grafana/embedded/datasources/yujing.yaml"])
def test_grafana_sends_the_token_from_an_env_var(rel: str) -> None:
    ds = _datasource(rel)
    names = {k: v for k, v in ds["jsonData"].items() if k.startswith("httpHeaderName")}
    assert list(names.values()) == ["Authorization"]
    (slot,) = names
    assert ds["secureJsonData"][slot.replace("Name", "Value")] == "Bearer ${YUJING_API_TOKEN}"


def test_grafana_and_the_infinity_plugin_are_pinned() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))["services"]["grafana"]
    assert compose["image"] == "grafana/grafana:11.4.0"
    plugin, version = compose["environment"]["GF_INSTALL_PLUGINS"].split()
    assert plugin == "yesoreyeram-infinity-datasource" and version == "2.11.0"
    assert compose["environment"]["YUJING_API_TOKEN"].startswith("${YUJING_API_TOKEN:?")
