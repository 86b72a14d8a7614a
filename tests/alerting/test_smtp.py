"""E-mail channel against a real aiosmtpd server on loopback."""

from __future__ import annotations

import email
import socket
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.alerting.test_delivery import T0, _alert
from yujing.alerting.channels import EmailChannel
from yujing.alerting.outbox import DeliveryWorker, Outbox
from yujing.clock import ManualClock


class Sink:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


def test_email_chinese_subject_and_both_parts(tmp_path: Path) -> None:
    sink = Sink()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        ch = EmailChannel("mail", "127.0.0.1", port, "yujing@example.invalid", ["duty@example.invalid"])
        clock = ManualClock(T0)
        box = Outbox(tmp_path / "o.sqlite")
        box.enqueue(_alert(), "值班员", "mail", clock.now())
        assert DeliveryWorker(box, {"mail": ch}, clock).step() == 1
    finally:
        ctl.stop()
    assert len(sink.messages) == 1
    msg = email.message_from_bytes(sink.messages[0])
    assert str(make_header(decode_header(msg["Subject"]))) == "【红色预警】星河贷 聚集"
    parts = {p.get_content_type(): p.get_payload(decode=True).decode("utf-8") for p in msg.walk()
             if not p.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"}
    assert "区政府门口" in parts["text/plain"] and "区政府门口" in parts["text/html"]
