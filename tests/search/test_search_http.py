"""The real app (``yujing.http.create_app``) served by uvicorn on a free loopback port, called over
real HTTP: a token-authenticated search, its audit entry, and the situation board as Grafana's
Infinity data source calls it (Authorization header)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn

from tests.search.search_corpus import alerts, posts
from yujing.http import create_app
from yujing.search.api import open_access
from yujing.search.sqlite_store import SqliteStore
from yujing.settings import Settings


@pytest.fixture
def served() -> Iterator[tuple[str, Settings]]:
    """``create_app`` under uvicorn in a thread, on a socket bound to 127.0.0.1:0 (no port race)."""
    settings = Settings()
    store = SqliteStore(settings.data_dir / "store.db")
    store.index_posts(posts())
    store.index_alerts(alerts())
    store.close()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = threading.Event()
    while not started.wait(0.02):  # uvicorn sets .started once it accepts connections
        if server.started:
            started.set()
        assert thread.is_alive(), "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}", settings
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def test_search_over_real_http_is_authenticated_and_audited(served: tuple[str, Settings]) -> None:
    url, settings = served
    access = open_access(settings)
    _, token = access.create_token("li.analyst", "analyst", datetime.now(UTC))
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.get("/search/posts", params={"q": "提现"}).status_code == 401
        r = http.get("/search/posts", params={"q": "提现", "platform": "鑫盛贷", "facets": "true"},
                     headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert [h["post"]["id"] for h in body["hits"]] == ["p12", "p08", "p01"] and body["total"] == 3
        assert body["facets"]["platform"] == {"鑫盛贷": 3, "汇金宝": 1}
    (entry,) = access.audit_rows(10)
    assert (entry["user"], entry["role"], entry["action"], entry["results"]) == ("li.analyst", "analyst", "search", 3)
    assert json.loads(entry["query"]) == {"q": "提现", "platform": ["鑫盛贷"], "facets": True, "size": 20,
                                          "min_score": 0.5, "sort": "newest"}
    assert access.verify() == []
    access.close()


def test_the_situation_board_answers_an_infinity_style_request(served: tuple[str, Settings]) -> None:
    url, settings = served
    access = open_access(settings)
    _, token = access.create_token("grafana", "viewer", datetime.now(UTC))
    grafana = {"Authorization": f"Bearer {token}", "User-Agent": "Go-http-client/1.1"}
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.get("/situation.json").status_code == 401
        r = http.get("/situation.json", params={"hours": 48}, headers=grafana)
        assert r.status_code == 200, r.text
        data = r.json()
        assert {w["key"] for w in data["warnings"]} <= {"a1", "a2", "a3"} and data["warnings"]
        view = http.get(data["warnings"][0]["incident"], headers=grafana)
        assert view.status_code == 200 and "Supporting posts" in view.text
    assert [(a["user"], a["action"]) for a in access.audit_rows(10)] == [("grafana", "incident")]
    access.close()
