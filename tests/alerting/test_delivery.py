"""Message content, signatures, and the outbox against a real loopback HTTP receiver."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote_plus, urlparse

import pytest

from yujing.alerting.channels import DingTalkChannel, WebhookChannel, WeComChannel
from yujing.alerting.message import dingtalk_sign, render, verify_webhook, webhook_signature
from yujing.alerting.outbox import DeliveryWorker, Outbox, backoff
from yujing.clock import ManualClock
from yujing.records import Agency, Alert, Level, Signal

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
SECRET = "s3cret"


def _alert(key: str = "p1|gathering|red|1", level: Level = Level.RED) -> Alert:
    return Alert(key=key, platform="星河贷", signal=Signal.GATHERING, level=level, ts=T0,
                 agencies=(Agency.STABILITY_OFFICE, Agency.POLICE), posts=12, rule="gathering_red",
                 explanation={"summary": "【红色预警·新预警】星河贷 聚集", "announced": {"time": "3月3日 09:00",
                              "place": "区政府门口"}, "routing": {"path": ["root", "gathering"]},
                              "top_posts": [{"author": "u_7f3a", "excerpt": "后天上午九点在区政府门口集合"}],
                              "ack_url": "http://127.0.0.1:8080/api/alerts/ack/inc-1"})


def test_render_has_colour_place_route_posts_and_ack_link() -> None:
    m = render(_alert(), "值班员")
    assert m.subject == "【红色预警】星河贷 聚集"
    for part in ("区政府门口", "root → gathering", "u_7f3a", "/api/alerts/ack/inc-1", "值班员"):
        assert part in m.text
    assert "[点击确认](http://127.0.0.1:8080/api/alerts/ack/inc-1)" in m.markdown


def test_signatures() -> None:
    body = b'{"a":1}'
    header = webhook_signature(SECRET, 1700000000, body)
    assert verify_webhook(SECRET, header, body)
    assert not verify_webhook(SECRET, header, body + b" ")
    assert not verify_webhook("other", header, body)
    expected = base64.b64encode(hmac.new(SECRET.encode(), b"1700000000000\n" + SECRET.encode(),
                                         hashlib.sha256).digest()).decode()
    assert unquote_plus(dingtalk_sign(SECRET, 1700000000000)) == expected


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(1)
    assert timedelta(seconds=1) <= backoff(0, rng=rng) <= timedelta(seconds=2)
    assert timedelta(seconds=16) <= backoff(4, rng=rng) <= timedelta(seconds=32)
    assert backoff(50, rng=rng) <= timedelta(seconds=600)


class Receiver:
    """A real HTTP receiver that checks signatures and records idempotency keys."""

    def __init__(self, port: int = 0) -> None:
        self.seen: list[tuple[str, str, dict[str, object]]] = []
        self.bad = 0
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                u = urlparse(self.path)
                ok = True
                if u.path == "/hook":
                    ok = verify_webhook(SECRET, self.headers.get("X-Yujing-Signature", ""), body)
                elif u.path == "/ding":
                    q = parse_qs(u.query)
                    mac = hmac.new(SECRET.encode(), f"{q['timestamp'][0]}\n{SECRET}".encode(), hashlib.sha256)
                    ok = q["sign"][0] == base64.b64encode(mac.digest()).decode()  # parse_qs already url-decoded
                if not ok:
                    outer.bad += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                outer.seen.append((u.path, unquote_plus(self.headers["Idempotency-Key"]), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), H)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _channels(port: int) -> dict[str, WebhookChannel | DingTalkChannel | WeComChannel]:
    base = f"http://127.0.0.1:{port}"
    return {"hook": WebhookChannel("hook", base + "/hook", SECRET, timeout=2),
            "ding": DingTalkChannel("ding", base + "/ding?access_token=x", SECRET, timeout=2),
            "wecom": WeComChannel("wecom", base + "/wecom", timeout=2)}


def test_channels_deliver_signed_bodies(tmp_path: Path, receiver: Receiver) -> None:
    clock = ManualClock(T0)
    box = Outbox(tmp_path / "outbox.sqlite")
    for ch in ("hook", "ding", "wecom"):
        assert box.enqueue(_alert(), "值班员", ch, clock.now())
    assert DeliveryWorker(box, _channels(receiver.port), clock).step() == 3
    assert receiver.bad == 0
    bodies = {path: body for path, _, body in receiver.seen}
    assert bodies["/ding"]["msgtype"] == "markdown"
    assert "区政府门口" in str(bodies["/wecom"]["markdown"])
    assert bodies["/hook"]["idempotency_key"] == "p1|gathering|red|1|值班员|hook"
    assert box.pending() == 0


def test_outage_holds_then_delivers_exactly_once_after_restart(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    db = tmp_path / "outbox.sqlite"
    dead = Receiver()
    port = dead.port
    dead.close()  # receiver down
    box = Outbox(db)
    keys = [f"p{i}|rumour|yellow|1" for i in range(5)]
    for k in keys:
        box.enqueue(_alert(k, Level.YELLOW), "值班员", "hook", clock.now())
        assert not box.enqueue(_alert(k, Level.YELLOW), "值班员", "hook", clock.now())  # idempotent
    worker = DeliveryWorker(box, _channels(port), clock, rng=random.Random(0))
    assert worker.step() == 0
    assert box.pending() == 5
    assert box.due(clock.now()) == []  # backed off
    clock.advance(timedelta(seconds=2))  # every first backoff (1-2 s) is due: retried, fails again
    assert worker.step() == 0
    assert box.pending() == 5
    box.close()
    up = Receiver(port)  # restart: receiver back on the same port, a new process opens the same outbox
    try:
        box2 = Outbox(db)
        w2 = DeliveryWorker(box2, _channels(port), clock, rng=random.Random(0))
        clock.advance(timedelta(minutes=10))
        assert w2.step() == 5
        clock.advance(timedelta(hours=1))
        assert w2.step() == 0
        assert box2.pending() == 0
        got = [k for _, k, _ in up.seen]
        assert sorted(got) == sorted(f"{k}|值班员|hook" for k in keys)
    finally:
        up.close()


def test_receivers_load_validate_and_escalate(tmp_path: Path) -> None:
    from dataclasses import replace

    from yujing.alerting.receivers import fan_out, load_receivers, receivers_from_doc
    from yujing.errors import ConfigError

    rec = load_receivers(env={})
    box = Outbox(tmp_path / "o.sqlite")
    a = _alert()
    assert fan_out(a, rec, box, T0) == 2  # stability_office + police, first contact each
    assert fan_out(a, rec, box, T0) == 0  # idempotent
    later = replace(a, key=a.key + "|unack", explanation={**a.explanation, "contact_step": 1})
    fan_out(later, rec, box, T0)
    contacts = sorted(c for _, _, c, _, _ in box.due(T0))
    assert "stability_office:值班领导" in contacts and "police:值班员" in contacts
    bad = tmp_path / "r.yaml"
    bad.write_text("channels:\n  x: {type: webhook, url: 'http://h', secret_env: NOPE}\nreceivers: []\n")
    with pytest.raises(ConfigError, match="NOPE"):
        load_receivers(bad, env={})
    with pytest.raises(ConfigError, match="unknown channel"):
        receivers_from_doc({"channels": {}, "receivers": [{"agency": "police", "contacts": [
            {"name": "a", "channels": ["zz"]}]}]}, env={})
