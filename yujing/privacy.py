"""Author pseudonymisation: a keyed hash applied before anything is stored.

The key lives in settings (``YUJING_PSEUDONYM_KEY``); without it the raw author cannot be recovered,
and with a rotated key pseudonyms are unlinkable to earlier ones.

Besides the ``author`` field itself, three other places could carry the raw author and are scrubbed here:
a post's ``url`` (a Weibo link holds the author's uid), a dead letter's copy of the rejected input line, and
records that a producer wrote straight to a raw Kafka topic without pseudonymising (see
:func:`ensure_pseudonymous`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any
from urllib.parse import quote

PSEUDONYM = re.compile(r"u_[0-9a-f]{20}")
# "author": "…" or "author": 123 in a line that is not valid JSON (so it cannot be parsed and rewritten)
_AUTHOR_IN_TEXT = re.compile(r'("author"\s*:\s*)("(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*)')


def pseudonymise(author: str, key: bytes) -> str:
    """Return a stable pseudonym for ``author`` (empty or blank stays empty; a pseudonym stays itself, so a
    dead letter's redacted line can be fixed and re-ingested under the same pseudonym)."""
    author = author.strip()
    if not author or is_pseudonym(author):
        return author
    digest = hmac.new(key, author.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"u_{digest[:20]}"


def is_pseudonym(value: str) -> bool:
    return PSEUDONYM.fullmatch(value) is not None


def scrub_url(url: str, author: str, key: bytes) -> str:
    """``url`` with the raw author (as written or percent-encoded) replaced by its pseudonym."""
    author = author.strip()
    if not url or not author:
        return url
    pseudonym = pseudonymise(author, key)
    for form in {author, quote(author, safe="")}:
        url = url.replace(form, pseudonym)
    return url


def redact_line(raw: str, key: bytes) -> str:
    """A rejected input line as a dead letter may keep it: the author pseudonymised (and scrubbed from the url),
    everything else as sent, so the line can still be fixed and re-ingested."""
    try:
        obj: Any = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        obj = None
    if isinstance(obj, dict):
        if "author" not in obj:
            return raw
        author = "" if obj["author"] is None else str(obj["author"])
        obj["author"] = pseudonymise(author, key)
        if isinstance(obj.get("url"), str):
            obj["url"] = scrub_url(obj["url"], author, key)
        return json.dumps(obj, ensure_ascii=False)

    def replace(m: re.Match[str]) -> str:
        value = m.group(2)
        author = value[1:-1] if value.startswith('"') else value
        return m.group(1) + json.dumps(pseudonymise(author, key))

    return _AUTHOR_IN_TEXT.sub(replace, raw)
