"""Delivery adapters (thin): webhook, SMTP e-mail, DingTalk and WeCom robots, print.

Each channel's ``send(msg, key)`` raises ``DeliveryError`` on any failure; the outbox retries."""

from __future__ import annotations

import json
import smtplib
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Protocol
from urllib.parse import quote

from yujing.alerting.message import Message, dingtalk_body, dingtalk_sign, webhook_signature, wecom_body


class DeliveryError(RuntimeError):
    pass


class Channel(Protocol):
    name: str

    def send(self, msg: Message, key: str) -> None: ...


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    headers = {k: quote(v, safe="=,|:") for k, v in headers.items()}  # keys may hold Chinese contact names
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8", **headers})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            if resp.status >= 300:
                raise DeliveryError(f"{url}: HTTP {resp.status}")
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"{url}: {exc}") from exc


@dataclass
class WebhookChannel:
    name: str
    url: str
    secret: str = ""
    timeout: float = 5.0

    def send(self, msg: Message, key: str) -> None:
        body = json.dumps({**msg.payload, "idempotency_key": key}, ensure_ascii=False).encode()
        headers = {"Idempotency-Key": key}
        if self.secret:
            headers["X-Yujing-Signature"] = webhook_signature(self.secret, int(time.time()), body)
        _post(self.url, body, headers, self.timeout)


@dataclass
class DingTalkChannel:
    name: str
    url: str
    secret: str = ""
    timeout: float = 5.0

    def send(self, msg: Message, key: str) -> None:
        url = self.url
        if self.secret:
            ts = int(time.time() * 1000)
            url += ("&" if "?" in url else "?") + f"timestamp={ts}&sign={dingtalk_sign(self.secret, ts)}"
        _post(url, dingtalk_body(msg), {"Idempotency-Key": key}, self.timeout)


@dataclass
class WeComChannel:
    name: str
    url: str
    timeout: float = 5.0

    def send(self, msg: Message, key: str) -> None:
        _post(self.url, wecom_body(msg), {"Idempotency-Key": key}, self.timeout)


@dataclass
class EmailChannel:
    name: str
    host: str
    port: int
    sender: str
    to: list[str] = field(default_factory=list)
    starttls: bool = False
    username: str = ""
    password: str = ""
    timeout: float = 10.0

    def send(self, msg: Message, key: str) -> None:
        mail = MIMEMultipart("alternative")
        mail["Subject"] = Header(msg.subject, "utf-8").encode()
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.to)
        mail["Message-ID"] = f"<{key.replace('<', '').replace('>', '')}@yujing>"
        mail.attach(MIMEText(msg.text, "plain", "utf-8"))
        mail.attach(MIMEText(msg.html, "html", "utf-8"))
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password)
                smtp.sendmail(self.sender, self.to, mail.as_string())
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"smtp {self.host}:{self.port}: {exc}") from exc


@dataclass
class PrintChannel:
    name: str = "console"

    def send(self, msg: Message, key: str) -> None:
        print(msg.text, flush=True)
