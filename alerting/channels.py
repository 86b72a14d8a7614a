"""Delivery adapters (thin): webhook, SMTP e-mail, DingTalk and WeCom robots, print.

Each channel's ``send(msg, key)`` raises ``DeliveryError`` on any failure; the outbox retries.

Secrets never leave a channel except on the wire: the webhook HMAC secret, the SMTP password and the
robots' signing secrets are left out of ``repr``/``str``, and robot URLs (whose ``access_token``/``key``
query values are credentials, as are a URL's user:password) are shown and reported in errors with
every query value and password replaced by ``***`` (:func:`redact_url`)."""

from __future__ import annotations

import json
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Protocol
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from yujing.alerting.message import Message, dingtalk_body, dingtalk_sign, webhook_signature, wecom_body


class DeliveryError(RuntimeError):
    pass


class Channel(Protocol):
    name: str

    def send(self, msg: Message, key: str) -> None: ...


REDACTED = "***"


def redact_url(url: str) -> str:
    """``url`` safe to show: every query value and any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            user, host = netloc.rsplit("@", 1)
            netloc = f"{user.split(':', 1)[0]}:{REDACTED}@{host}" if ":" in user else f"{user}@{host}"
        query = urlencode([(k, REDACTED) for k, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return "<unparseable url>"


def _scrub(exc: BaseException, *secrets: str) -> str:
    """An exception's text with any secret that a server or library echoed replaced by ``***``."""
    text = str(exc)
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    headers = {k: quote(v, safe="=,|:") for k, v in headers.items()}  # keys may hold Chinese contact names
    shown = redact_url(url)
    try:
        req = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8", **headers})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            if resp.status >= 300:
                raise DeliveryError(f"{shown}: HTTP {resp.status}")
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"{shown}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DeliveryError(f"{shown}: {exc.reason}") from None
    except ValueError:  # urllib's "unknown url type: <the whole url>"
        raise DeliveryError(f"{shown}: not a valid http(s) URL") from None
    except OSError as exc:
        raise DeliveryError(f"{shown}: {type(exc).__name__}: {exc.strerror or 'network error'}") from None


@dataclass
class WebhookChannel:
    name: str
    url: str
    secret: str = field(default="", repr=False)
    timeout: float = 5.0

    def __repr__(self) -> str:
        return f"WebhookChannel(name={self.name!r}, url={redact_url(self.url)!r}, signed={bool(self.secret)})"

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
    secret: str = field(default="", repr=False)
    timeout: float = 5.0

    def __repr__(self) -> str:
        return f"DingTalkChannel(name={self.name!r}, url={redact_url(self.url)!r}, signed={bool(self.secret)})"

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

    def __repr__(self) -> str:
        return f"WeComChannel(name={self.name!r}, url={redact_url(self.url)!r})"

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
    password: str = field(default="", repr=False)
    timeout: float = 10.0
    ca_file: str = ""  # CA bundle (PEM) to verify the server's certificate; default: the system's

    def tls_context(self) -> ssl.SSLContext:
        """Verifying context: certificate chain and host name are checked (never unverified STARTTLS)."""
        return ssl.create_default_context(cafile=self.ca_file or None)

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
                    smtp.starttls(context=self.tls_context())
                if self.username:
                    smtp.login(self.username, self.password)
                smtp.sendmail(self.sender, self.to, mail.as_string())
        except UnicodeEncodeError:
            raise DeliveryError(f"smtp {self.host}:{self.port}: the user name or password is not ASCII, which "
                                "SMTP AUTH (smtplib) cannot send; use an ASCII password") from None
        except (smtplib.SMTPException, OSError) as exc:  # ssl.SSLError is an OSError
            raise DeliveryError(f"smtp {self.host}:{self.port}: {type(exc).__name__}: {_scrub(exc, self.password)}"
                                ) from None


@dataclass
class PrintChannel:
    name: str = "console"

    def send(self, msg: Message, key: str) -> None:
        print(msg.text, flush=True)
