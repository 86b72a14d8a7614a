"""E-mail channel against a real aiosmtpd server on loopback: plain, and STARTTLS + AUTH with a verified certificate."""

from __future__ import annotations

import email
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

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


# ---- STARTTLS + AUTH against aiosmtpd with a self-signed certificate made here --------------------

USER, PASSWORD = "yujing-duty", "pa55-WORD-b8c1"


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (``openssl`` CLI; the venv has no ``cryptography``)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed; it makes the test's self-signed certificate")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return d / "cert.pem", d / "key.pem"


class AuthSink(Sink):
    def __init__(self) -> None:
        super().__init__()
        self.sessions: list[tuple[bool, bool, bytes]] = []  # (tls, authenticated, login) per accepted mail

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sessions.append((session.ssl is not None, bool(session.authenticated), session.auth_data.login))
        return await super().handle_DATA(server, session, envelope)


def _check_password(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() and \
        auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


@pytest.fixture
def tls_server(cert: tuple[Path, Path]) -> Iterator[tuple[AuthSink, int]]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    sink = AuthSink()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # STARTTLS required, AUTH only after TLS, and no mail without AUTH.
    ctl = Controller(sink, hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True,
                     auth_required=True, auth_require_tls=True, authenticator=_check_password)
    ctl.start()
    yield sink, port
    ctl.stop()


def _mail(port: int, cert: Path | None, *, password: str = PASSWORD, starttls: bool = True) -> EmailChannel:
    return EmailChannel("mail", "127.0.0.1", port, "yujing@example.invalid", ["duty@example.invalid"], starttls,
                        USER, password, timeout=5, ca_file=str(cert) if cert else "")


def test_starttls_and_auth_deliver(tmp_path: Path, tls_server: tuple[AuthSink, int], cert: tuple[Path, Path]
                                   ) -> None:
    sink, port = tls_server
    clock = ManualClock(T0)
    box = Outbox(tmp_path / "o.sqlite")
    box.enqueue(_alert(), "值班员", "mail", clock.now())
    assert DeliveryWorker(box, {"mail": _mail(port, cert[0])}, clock).step() == 1
    assert sink.sessions == [(True, True, USER.encode())]
    msg = email.message_from_bytes(sink.messages[0])
    assert str(make_header(decode_header(msg["Subject"]))) == "【红色预警】星河贷 聚集"


@pytest.mark.parametrize(("kind", "says"), [
    ("wrong-password", "SMTPAuthenticationError"),
    ("unverified-cert", "CERTIFICATE_VERIFY_FAILED"),  # system CAs do not trust the self-signed certificate
    ("no-starttls", "SMTP"),  # the server refuses AUTH/MAIL on a plain connection
    ("non-ascii-password", "not ASCII"),  # smtplib cannot send it: a clear error, retried, not a crash
])
def test_refused_without_tls_trust_or_password(tmp_path: Path, tls_server: tuple[AuthSink, int],
                                              cert: tuple[Path, Path], kind: str, says: str) -> None:
    sink, port = tls_server
    ch = {"wrong-password": _mail(port, cert[0], password="wrong-" + PASSWORD),
          "unverified-cert": _mail(port, None),
          "no-starttls": _mail(port, cert[0], starttls=False),
          "non-ascii-password": _mail(port, cert[0], password=PASSWORD + "不外传")}[kind]
    clock = ManualClock(T0)
    box = Outbox(tmp_path / "o.sqlite")
    box.enqueue(_alert(), "值班员", "mail", clock.now())
    errors: list[str] = []
    assert DeliveryWorker(box, {"mail": ch}, clock, on_error=lambda i, e: errors.append(e)).step() == 0
    assert box.pending() == 1  # held for a retry, not lost
    assert sink.messages == []
    assert len(errors) == 1 and says in errors[0]
    assert PASSWORD not in errors[0]
