"""Receivers YAML: per agency, ordered contacts and their channels; validated with file:line.

``fan_out`` turns one warning into outbox items: each agency's contact at the warning's
``contact_step`` (the incident escalates to the next contact when not acknowledged in time)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from yujing.alerting._yaml import Fields
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

    def contact(self, agency: str, step: int) -> Contact | None:
        chain = self.contacts.get(agency, ())
        return chain[min(step, len(chain) - 1)] if chain else None


def _secret(f: Fields, name: str, env: Mapping[str, str]) -> str:
    var = f.raw(name)
    if var is None:
        return ""
    var = f.string(name)
    if var not in env:
        f.fail(name, f"environment variable {var} is not set; export it or remove {name}")
    return env[var]


def _channel(name: str, data: Any, path: str, env: Mapping[str, str]) -> Channel:
    f = Fields(data, path, f"channels.{name}", ("type", "url", "secret_env", "host", "port", "sender", "to",
                                                 "starttls", "username_env", "password_env"))
    kind = f.choice("type", TYPES)
    if kind == "print":
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
                        f.boolean("starttls", False), _secret(f, "username_env", env), _secret(f, "password_env", env))


def receivers_from_doc(doc: Any, source: str = "<memory>", env: Mapping[str, str] | None = None) -> Receivers:
    env = os.environ if env is None else env
    top = Fields(doc, source, "", ("ack_url", "channels", "receivers"))
    raw_channels = top.raw("channels") or {}
    if not isinstance(raw_channels, dict):
        top.fail("channels", "expected a mapping of channel name to settings")
    channels = {k: _channel(k, v, source, env) for k, v in raw_channels.items() if k != "__line__"}
    contacts: dict[str, tuple[Contact, ...]] = {}
    for i, entry in enumerate(top.mapping_list("receivers")):
        r = Fields(entry, source, f"receivers[{i}]", ("agency", "contacts"))
        agency = r.choice("agency", _AGENCIES)
        chain = []
        for j, c in enumerate(r.mapping_list("contacts")):
            cf = Fields(c, source, f"receivers[{i}].contacts[{j}]", ("name", "channels"), r.line)
            names = cf.strings("channels")
            for n in names:
                if n not in channels:
                    cf.fail("channels", f"unknown channel {n!r}; define it under channels: {sorted(channels)}")
            chain.append(Contact(cf.string("name"), names))
        if not chain:
            r.fail("contacts", "expected at least one contact")
        contacts[agency] = tuple(chain)
    return Receivers(str(top.raw("ack_url") or ""), channels, contacts, source)


def load_receivers(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> Receivers:
    path = Path(path) if path is not None else DEFAULT_RECEIVERS
    return receivers_from_doc(load_yaml_with_lines(path), str(path), env)


def fan_out(alert: Alert, receivers: Receivers, outbox: Outbox, now: datetime) -> int:
    """Enqueue the warning for each routed agency's current contact on each of its channels."""
    step = int(alert.explanation.get("contact_step", 0) or 0)
    added = 0
    for agency in alert.agencies:
        contact = receivers.contact(agency.value, step)
        if contact is None:
            continue
        for ch in contact.channels:
            added += outbox.enqueue(alert, f"{agency.value}:{contact.name}", ch, now)
    return added
