"""Channel secrets stay out of repr()/str(), errors, the outbox's stored errors and logs.

Failures are real: a loopback HTTP server that answers 500, a closed port, a malformed URL."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.alerting.test_delivery import T0, _alert
from yujing.alerting.channels import (
    Channel,
    DeliveryError,
    DingTalkChannel,
    EmailChannel,
    WebhookChannel,
    WeComChannel,
    redact_url,
)
from yujing.alerting.message import render
from yujing.alerting.outbox import DeliveryWorker, Outbox
from yujing.alerting.receivers import receivers_from_doc
from yujing.clock import ManualClock

HMAC_SECRET = "hmac-SECRET-4711"
DING_TOKEN = "dingTOKEN0815"
DING_SECRET = "SECdingSIGNsecret42"
WECOM_KEY = "wecomKEY-1234-5678"
SMTP_PASSWORD = "smtp-PASSWORD-9"
SECRETS = (HMAC_SECRET, DING_TOKEN, DING_SECRET, WECOM_KEY, SMTP_PASSWORD)


def _clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"secret {secret!r} leaked into: {text}"


class Failing:
    """A real HTTP server that answers every POST with 500."""

    def __init__(self) -> None:
        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(500)
                self.end_headers()

            def log_message(self, *a: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def failing() -> Iterator[Failing]:
    f = Failing()
    yield f
    f.close()


def _channels(base: str) -> dict[str, Channel]:
    return {"hook": WebhookChannel("hook", f"{base}/hook", HMAC_SECRET, timeout=2),
            "ding": DingTalkChannel("ding", f"{base}/robot/send?access_token={DING_TOKEN}", DING_SECRET, timeout=2),
            "wecom": WeComChannel("wecom", f"{base}/cgi-bin/webhook/send?key={WECOM_KEY}", timeout=2),
            "mail": EmailChannel("mail", "127.0.0.1", 1, "y@example.invalid", ["d@example.invalid"], False,
                                 "yujing", SMTP_PASSWORD, timeout=2)}


def test_redact_url() -> None:
    assert redact_url(f"https://oapi.example/robot/send?access_token={DING_TOKEN}&x=1") == \
        "https://oapi.example/robot/send?access_token=***&x=***"
    assert redact_url(f"https://bot:{WECOM_KEY}@h.example:8443/p") == "https://bot:***@h.example:8443/p"
    assert redact_url("http://h/plain") == "http://h/plain"


def test_repr_and_str_hide_secrets() -> None:
    for ch in _channels("http://127.0.0.1:9").values():
        _clean(repr(ch))
        _clean(str(ch))
        assert ch.name in repr(ch)
    env = {"HOOK": HMAC_SECRET, "DING": DING_SECRET, "PW": SMTP_PASSWORD}
    rec = receivers_from_doc({"channels": {
        "hook": {"type": "webhook", "url": "https://h.example/hook", "secret_env": "HOOK"},
        "ding": {"type": "dingtalk", "url": f"https://d.example/send?access_token={DING_TOKEN}", "secret_env": "DING"},
        "wecom": {"type": "wecom", "url": f"https://w.example/send?key={WECOM_KEY}"},
        "mail": {"type": "email", "host": "m.example", "port": 587, "sender": "y@example.invalid",
                 "to": ["d@example.invalid"], "starttls": True, "password_env": "PW"}},
        "receivers": []}, env=env)
    _clean(repr(rec))
    _clean(str(rec))
    assert isinstance(rec.channels["mail"], EmailChannel) and rec.channels["mail"].password == SMTP_PASSWORD


@pytest.mark.parametrize("down", [False, True], ids=["http-500", "connection-refused"])
def test_errors_outbox_and_logs_hide_secrets(tmp_path: Path, failing: Failing, down: bool,
                                             caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    caplog.set_level(logging.DEBUG)
    port = failing.port
    if down:
        failing.close()
    channels = _channels(f"http://127.0.0.1:{port}")
    msg = render(_alert(), "值班员")
    for ch in channels.values():
        with pytest.raises(DeliveryError) as info:
            ch.send(msg, "k")
        _clean(str(info.value))
        _clean(repr(info.value))
        assert info.value.__cause__ is None  # the library's exception (holding the full URL) is not chained
    clock = ManualClock(T0)
    box = Outbox(tmp_path / "outbox.db")
    for name in channels:
        box.enqueue(_alert(), "值班员", name, clock.now())
    reported: list[str] = []
    assert DeliveryWorker(box, channels, clock, on_error=lambda idem, err: reported.append(err)).step() == 0
    assert len(reported) == 4
    stored = sqlite3.connect(tmp_path / "outbox.db").execute("SELECT last_error FROM outbox").fetchall()
    assert len(stored) == 4 and all(e for (e,) in stored)
    for text in (*reported, *(e for (e,) in stored), caplog.text, *capsys.readouterr()):
        _clean(text)
    if not down:
        assert any("HTTP 500" in e for e in reported)
        assert any("access_token=***" in e for e in reported)


@pytest.mark.parametrize(("url", "says"), [(f"htp:/bad?access_token={DING_TOKEN}", "unknown url type"),
                                           (f"robot/send?access_token={DING_TOKEN}", "not a valid")])
def test_malformed_url_error_hides_the_token(url: str, says: str) -> None:
    ch = DingTalkChannel("ding", url, DING_SECRET)
    with pytest.raises(DeliveryError, match=says) as info:
        ch.send(render(_alert()), "k")
    _clean(str(info.value))
