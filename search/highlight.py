"""Highlights computed from the raw text and the query's phrases: identical on every store. Pure."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

_GAP = r"[\W_]*"


def _pattern(phrases: Sequence[tuple[str, ...]]) -> re.Pattern[str] | None:
    alts = [_GAP.join(re.escape(w) for w in words) for words in phrases if words]
    if not alts:
        return None
    alts.sort(key=len, reverse=True)
    return re.compile("|".join(alts), re.IGNORECASE)


def highlight(text: str, phrases: Sequence[tuple[str, ...]], width: int = 120,
              pre: str = "<em>", post: str = "</em>") -> str:
    """A snippet of ``text`` around the first match, matches wrapped in ``pre``/``post``.

    The text is HTML-escaped when the markers are HTML tags. Empty when nothing matches.
    """
    pattern = _pattern(phrases)
    if pattern is None:
        return ""
    first = pattern.search(text)
    if first is None:
        return ""
    start = max(0, first.start() - width // 3)
    end = min(len(text), start + width)
    snippet = text[start:end]
    escape = html.escape if pre.startswith("<") else (lambda s: s)
    out: list[str] = []
    pos = 0
    for m in pattern.finditer(snippet):
        out.append(escape(snippet[pos:m.start()]))
        out.append(pre + escape(m.group(0)) + post)
        pos = m.end()
    out.append(escape(snippet[pos:]))
    return ("…" if start > 0 else "") + "".join(out) + ("…" if end < len(text) else "")
