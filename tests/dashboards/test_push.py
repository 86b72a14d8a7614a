"""``yujing grafana push`` against a loopback Grafana stand-in.

No Grafana server can run here, so this is a protocol-level test double: a real HTTP server on
127.0.0.1 that implements the four endpoints grafana-client calls (folder lookup and creation,
dashboard upload) the way Grafana answers them, including 401 and 404. The client, its HTTP
stack and our payloads are real.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from yujing.dashboards import cli, generate
from yujing.dashboards.fields import EMBEDDED_SITUATION_UID, FOLDER_UID, PIPELINE_UID, SITUATION_UID
from yujing.dashboards.push import GrafanaError, connect, push

TOKEN = "glsa_test_token"


@dataclass
class FakeGrafana:
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)


def _handler(state: FakeGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {TOKEN}":
                return True
            self._reply(401, {"message": "Unauthorized"})
            return False

        def do_GET(self) -> None:
            state.requests.append(("GET", self.path))
            if not self._authorised():
                return
            uid = self.path.removeprefix("/api/folders/")
            if self.path.startswith("/api/folders/") and uid in state.folders:
                self._reply(200, state.folders[uid])
            else:
                self._reply(404, {"message": "folder not found"})

        def do_POST(self) -> None:
            state.requests.append(("POST", self.path))
            if not self._authorised():
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path == "/api/folders":
                if body["uid"] in state.folders:
                    self._reply(409, {"message": "a folder with the same uid already exists"})
                    return
                state.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"]}
                self._reply(200, state.folders[body["uid"]])
            elif self.path == "/api/dashboards/db":
                self._save_dashboard(body)
            else:
                self._reply(404, {"message": "not found"})

        def _save_dashboard(self, body: dict[str, Any]) -> None:
            board = body["dashboard"]
            if body.get("folderUid") not in state.folders:
                self._reply(400, {"message": "folder not found"})
                return
            previous = state.dashboards.get(board["uid"])
            if previous is not None and not body.get("overwrite"):
                self._reply(
                    412, {"message": "The dashboard has been changed by someone else", "status": "version-mismatch"}
                )
                return
            version = 1 if previous is None else previous["version"] + 1
            state.dashboards[board["uid"]] = {"version": version, "body": body}
            url = f"/d/{board['uid']}/slug"
            self._reply(200, {"id": 1, "uid": board["uid"], "url": url, "status": "success", "version": version})

    return Handler


@pytest.fixture
def grafana() -> Iterator[tuple[str, FakeGrafana]]:
    state = FakeGrafana()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _boards() -> dict[str, dict[str, Any]]:
    return {name: generate.to_dict(board) for name, board in generate.dashboards().items()}


@pytest.mark.integration
def test_push_twice_keeps_one_copy_of_each_dashboard(grafana: tuple[str, FakeGrafana]) -> None:
    url, state = grafana
    first = push(connect(url, TOKEN), _boards())
    second = push(connect(url, TOKEN), _boards())
    assert {p.uid for p in first} == {SITUATION_UID, PIPELINE_UID, EMBEDDED_SITUATION_UID}
    assert [p.version for p in first] == [1, 1, 1] and [p.version for p in second] == [2, 2, 2]
    assert list(state.folders) == [FOLDER_UID]
    assert state.requests.count(("POST", "/api/folders")) == 1
    body = state.dashboards[SITUATION_UID]["body"]
    assert body["overwrite"] is True and body["folderUid"] == FOLDER_UID
    assert "id" not in body["dashboard"] and body["dashboard"]["uid"] == SITUATION_UID


@pytest.mark.integration
def test_wrong_token_says_what_to_do(grafana: tuple[str, FakeGrafana]) -> None:
    url, state = grafana
    with pytest.raises(GrafanaError, match="unauthorized; pass --token") as info:
        push(connect(url, "wrong"), _boards())
    assert info.value.retryable is False
    assert state.dashboards == {}


def test_unreachable_grafana_is_a_retryable_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(GrafanaError, match="is Grafana up") as info:
        push(connect(f"http://127.0.0.1:{port}", TOKEN, timeout_s=2), _boards())
    assert info.value.retryable is True


@pytest.mark.integration
def test_cli_push_prints_json(grafana: tuple[str, FakeGrafana], capsys: pytest.CaptureFixture[str]) -> None:
    url, state = grafana
    parser = argparse.ArgumentParser(prog="yujing")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["grafana", "push", "--url", url, "--token", TOKEN, "--incident-base", "https://yj.example", "--json"]
    )
    assert args.func(args) == 0
    pushed = json.loads(capsys.readouterr().out)
    assert {p["uid"] for p in pushed} == {SITUATION_UID, PIPELINE_UID, EMBEDDED_SITUATION_UID}
    situation = state.dashboards[SITUATION_UID]["body"]["dashboard"]
    base = next(v for v in situation["templating"]["list"] if v["name"] == "incident_base")
    assert base["query"] == "https://yj.example"


def test_cli_generate_check_passes_on_committed_files(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="yujing")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["grafana", "generate", "--check"])
    assert args.func(args) == 0
