"""Near-duplicate detection: SimHash over character shingles.

Copy-paste spread of one rumour by many accounts should count as one story with its spreader
count. Chinese has no spaces, so shingles are overlapping character n-grams of the text with
punctuation, digits-runs and whitespace normalised away.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np

_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
_URL = re.compile(r"https?://\S+")
_MENTION = re.compile(r"@\S+")
_MASK64 = (1 << 64) - 1


def normalise(text: str) -> str:
    """NFKC, lower case, without URLs, @mentions, punctuation and whitespace."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _MENTION.sub("", _URL.sub("", text))
    return _NOISE.sub("", text)


def shingles(text: str, size: int = 3) -> list[str]:
    norm = normalise(text)
    if len(norm) <= size:
        return [norm] if norm else []
    return [norm[i : i + size] for i in range(len(norm) - size + 1)]


def _hash64(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "big")


_BITS = np.arange(64, dtype=np.uint64)


def simhash(text: str, size: int = 3) -> int:
    """64-bit SimHash of the text's character shingles (0 for an empty text).

    Bit b is set when more shingle hashes have bit b set than not (a vectorised count)."""
    hashes = [_hash64(token) for token in shingles(text, size)]
    if not hashes:
        return 0
    ones = ((np.array(hashes, dtype=np.uint64)[:, None] >> _BITS) & np.uint64(1)).sum(axis=0)
    return sum(1 << int(bit) for bit in np.flatnonzero(2 * ones > len(hashes))) & _MASK64


def simhash_reference(text: str, size: int = 3) -> int:
    """The plain per-bit loop :func:`simhash` is tested against."""
    weights = [0] * 64
    for token in shingles(text, size):
        h = _hash64(token)
        for bit in range(64):
            weights[bit] += 1 if (h >> bit) & 1 else -1
    return sum(1 << bit for bit in range(64) if weights[bit] > 0) & _MASK64


def distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


class Clusters:
    """Greedy online clustering: a text joins the first recent cluster within ``max_distance``."""

    def __init__(self, shingle: int = 3, max_distance: int = 6, capacity: int = 5000) -> None:
        self.shingle = shingle
        self.max_distance = max_distance
        self.capacity = capacity
        self._reps: dict[int, int] = {}  # cluster id -> representative fingerprint
        self._next = 0

    def assign(self, text: str) -> int:
        fp = simhash(text, self.shingle)
        for cid in reversed(self._reps):
            if distance(fp, self._reps[cid]) <= self.max_distance:
                return cid
        cid = self._next
        self._next += 1
        self._reps[cid] = fp
        if len(self._reps) > self.capacity:
            del self._reps[next(iter(self._reps))]
        return cid

    def state(self) -> dict[str, object]:
        return {"reps": [[k, v] for k, v in self._reps.items()], "next": self._next}

    def load(self, state: dict[str, object]) -> None:
        reps = state.get("reps", [])
        assert isinstance(reps, list)
        self._reps = {int(k): int(v) for k, v in reps}
        self._next = int(str(state.get("next", 0)))
