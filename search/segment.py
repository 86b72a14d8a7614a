"""Chinese word segmentation shared by every store, at index time and at query time.

Both the embedded store (FTS5) and the servers (a whitespace-analysed ``text_seg`` field) index the
same jieba tokens, produced here, so a query finds the same posts everywhere and no server plugin is
needed. Tokens are lower-cased runs of letters and digits; punctuation and spaces are dropped.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

import jieba

_WORD = re.compile(r"[^\W_]+")
_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None
_extra_words: set[str] = set()


def _get() -> jieba.Tokenizer:
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            _tokenizer = tokenizer
        return _tokenizer


def add_words(words: Iterable[str]) -> None:
    """Teach the segmenter names (e.g. registry platforms) so they stay one token.

    Call it before indexing and searching alike: the index and the queries must segment the same way.
    """
    tokenizer = _get()
    for word in words:
        word = word.strip()
        if word and word not in _extra_words:
            tokenizer.add_word(word, freq=100_000)
            _extra_words.add(word)


def tokens(text: str) -> list[str]:
    """The searchable tokens of ``text``, in order."""
    out: list[str] = []
    for piece in _get().cut(text, HMM=False):
        out.extend(_WORD.findall(piece.lower()))
    return out


def segment(text: str) -> str:
    """``text`` as space-separated tokens (the ``text_seg`` field)."""
    return " ".join(tokens(text))
