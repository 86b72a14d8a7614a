"""Receivers YAML: per agency, ordered contacts and their channels; validated with file:line.

``fan_out`` turns one warning into outbox items: each routed agency's contact at the alert's ``contact_step``
(0, the first contact, for a warning); an agency that does not acknowledge in time is paged at its next contact
(:mod:`yujing.alerting.escalation`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from yujing.alerting._yaml import Fields, parse_duration
from yujing.alerting.channels import Channel, DingTalkChannel, EmailChannel, PrintChannel, WebhookChannel, WeComChannel
from yujing.alerting.outbox import Outbox
from yujing.records import Agency, Alert
from yujing.registry import load_yaml_with_lines

DEFAULT_RECEIVERS = Path(__file__).parent / "defaults" / "receivers.yaml"
TYPES = ("print", "webhook", "email", "dingtalk", "wecom")
_AGENCIES = tuple(a.value for a in Agency)


@dataclass(frozen=True)
class Contact:
    name: str
    channels: tuple[str, ...]


@dataclass(frozen=True)
class Receivers:
    ack_url: str
    channels: Mapping[str, Channel]
    contacts: Mapping[str, tuple[Contact, ...]]
    source: str
    ack_timeouts: Mapping[str, timedelta | None] = field(default_factory=dict)  # per agency; None: no escalation

    def contact(self, agency: str, step: int) -> Contact | None:
        chain = self.contacts.get(agency, ())
        return chain[min(step, len(chain) - 1)] if chain else None

    def ack_timeout(self, agency: str) -> timedelta | None:
        """How long a contact of ``agency`` has to acknowledge before the next contact is notified."""
        return self.ack_timeouts.get(agency)

    def chain_length(self, agency: str) -> int:
        """How many contacts ``agency`` has, in escalation order."""
        return len(self.contacts.get(agency, ()))

    def longest_ack_timeout(self) -> timedelta | None:
        """The longest timeout of any agency with contacts (None: nobody escalates)."""
        return max((t for t in map(self.ack_timeout, self.contacts) if t is not None), default=None)


def _secret(f: Fields, name: str, env: Mapping[str, str]) -> str:
    var = f.raw(name)
    if var is None:
        return ""
    var = f.string(name)
    if var not in env:
        f.fail(name, f"environment variable {var} is not set; export it or remove {name}")
    return env[var]


def _ca_file(f: Fields, path: str) -> str:
    """``ca_file``: a PEM bundle to verify the SMTP server, relative to the receivers file."""
    if f.raw("ca_file") is None:
        return ""
    ca = Path(f.string("ca_file"))
    if not ca.is_absolute() and not path.startswith("<"):
        ca = Path(path).parent / ca
    if not ca.is_file():
        f.fail("ca_file", f"{ca} not found; give the PEM file of the CA that signed the mail server's certificate")
    return str(ca)


def _channel(name: str, data: Any, path: str, env: Mapping[str, str], deliver: bool = True) -> Channel:
    f = Fields(data, path, f"channels.{name}", ("type", "url", "secret_env", "host", "port", "sender", "to",
                                                 "starttls", "username_env", "password_env", "ca_file"))
    kind = f.choice("type", TYPES)
    if kind == "print" or not deliver:
        return PrintChannel(name)
    if kind == "webhook":
        return WebhookChannel(name, f.string("url"), _secret(f, "secret_env", env))
    if kind == "dingtalk":
        return DingTalkChannel(name, f.string("url"), _secret(f, "secret_env", env))
    if kind == "wecom":
        return WeComChannel(name, f.string("url"))
    to = f.strings("to")
    if not to:
        f.fail("to", "expected at least one recipient address")
    return EmailChannel(name, f.string("host"), f.integer("port", 25, 1), f.string("sender"), list(to),
                        f.boolean("starttls", False), _secret(f, "username_env", env), _secret(f, "password_env", env),
                        ca_file=_ca_file(f, path))


DEFAULT_ACK_TIMEOUT = "30m"


def _timeout(f: Fields, name: str, default: timedelta | str | None) -> timedelta | None:
    """A duration like 30m, or ``off`` (never escalate); the default when absent."""
    value = f.raw(name)
    if value is None:
        return parse_duration(default) if isinstance(default, str) else default
    if str(value).strip().lower() in ("off", "false", "none"):
        return None
    delta = f.duration(name, DEFAULT_ACK_TIMEOUT)
    if delta <= timedelta(0):
        f.fail(name, "expected a positive duration like 30m, or off")
    return delta


def receivers_from_doc(doc: Any, source: str = "<memory>", env: Mapping[str, str] | None = None,
                       deliver: bool = True) -> Receivers:
    """``deliver=False``: for paging decisions only (replay): contacts and timeouts are read and checked, every
    channel is a print channel, so no secret, password or CA file is needed."""
    env = os.environ if env is None else env
    top = Fields(doc, source, "", ("ack_url", "ack_timeout", "channels", "receivers"))
    default_timeout = _timeout(top, "ack_timeout", DEFAULT_ACK_TIMEOUT)
    raw_channels = top.raw("channels") or {}
    if not isinstance(raw_channels, dict):
        top.fail("channels", "expected a mapping of channel name to settings")
    channels = {k: _channel(k, v, source, env, deliver) for k, v in raw_channels.items() if k != "__line__"}
    contacts: dict[str, tuple[Contact, ...]] = {}
    timeouts: dict[str, timedelta | None] = {}
    for i, entry in enumerate(top.mapping_list("receivers")):
        r = Fields(entry, source, f"receivers[{i}]", ("agency", "contacts", "ack_timeout"))
        agency = r.choice("agency", _AGENCIES)
        timeouts[agency] = _timeout(r, "ack_timeout", default_timeout)
        chain = []
        for j, c in enumerate(r.mapping_list("contacts")):
            cf = Fields(c, source, f"receivers[{i}].contacts[{j}]", ("name", "channels"), r.line)
            names = cf.strings("channels")
            if not names:  # a contact nobody can reach would stall the agency's chain at that step
                cf.fail("channels", f"expected at least one channel, e.g. channels: [{next(iter(channels), 'print')}]")
            for n in names:
                if n not in channels:
                    cf.fail("channels", f"unknown channel {n!r}; define it under channels: {sorted(channels)}")
            chain.append(Contact(cf.string("name"), names))
        if not chain:
            r.fail("contacts", "expected at least one contact")
        contacts[agency] = tuple(chain)
    return Receivers(str(top.raw("ack_url") or ""), channels, contacts, source, timeouts)


def load_receivers(path: Path | str | None = None, env: Mapping[str, str] | None = None,
                   deliver: bool = True) -> Receivers:
    path = Path(path) if path is not None else DEFAULT_RECEIVERS
    return receivers_from_doc(load_yaml_with_lines(path), str(path), env, deliver)


def enqueue_step(alert: Alert, agency: str, step: int, receivers: Receivers, outbox: Outbox, now: datetime) -> int:
    """Enqueue the warning for ``agency``'s contact at ``step`` on each of its channels; returns items added."""
    contact = receivers.contact(agency, step)
    if contact is None:
        return 0
    return sum(outbox.enqueue(alert, f"{agency}:{contact.name}", ch, now, agency=agency, step=step)
               for ch in contact.channels)


def fan_out(alert: Alert, receivers: Receivers, outbox: Outbox, now: datetime) -> int:
    """Enqueue the warning for each routed agency's contact on each of its channels.

    The contact is the alert's ``contact_step``: 0 for every warning (the first contact); a page of the
    event-time pager (replay) names the contact it reached. The live service pages the next contacts on the
    acknowledgement timer (:mod:`yujing.alerting.escalation`)."""
    step = int(alert.explanation.get("contact_step", 0) or 0)
    return sum(enqueue_step(alert, agency.value, step, receivers, outbox, now) for agency in alert.agencies)
