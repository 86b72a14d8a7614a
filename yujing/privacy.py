"""Author pseudonymisation: a keyed hash applied before anything is stored.

The key lives in settings (``YUJING_PSEUDONYM_KEY``); without it the raw author cannot be recovered,
and with a rotated key pseudonyms are unlinkable to earlier ones.
"""

from __future__ import annotations

import hashlib
import hmac


def pseudonymise(author: str, key: bytes) -> str:
    """Return a stable pseudonym for ``author`` (empty stays empty)."""
    if not author:
        return ""
    digest = hmac.new(key, author.strip().encode("utf-8"), hashlib.sha256).hexdigest()
    return f"u_{digest[:20]}"
