"""Signed one-click acknowledgement links (pure).

A message carries ``<base>?ref=<incident>&sig=<hex>``, where ``sig`` is HMAC-SHA256 over the exact
incident id under the deployment's secret (the pseudonym key) with a purpose prefix, so the same key
never signs anything else with the same meaning. The signature binds one incident: a forwarded or
edited link cannot acknowledge another incident, and a link cannot be forged without the key.
It does not say *who* clicked: the API records the self-declared ``by`` (default "一键确认链接").
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

_PURPOSE = b"yujing-ack-link-v1\x00"


def sign(secret: bytes, ref: str) -> str:
    return hmac.new(secret, _PURPOSE + ref.encode(), hashlib.sha256).hexdigest()


def verify(secret: bytes, ref: str, sig: str) -> bool:
    return hmac.compare_digest(sign(secret, ref), sig.strip().lower())


def link(base: str, ref: str, secret: bytes) -> str:
    """The one-click link for ``ref`` under ``base`` (e.g. ``http://host/api/alerts/ack``)."""
    return f"{base}?{urlencode({'ref': ref, 'sig': sign(secret, ref)})}"
