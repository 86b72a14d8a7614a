"""Near-duplicate check between splits: character n-gram Jaccard similarity.

``nearest(queries, corpus)`` gives, for each query text, the highest Jaccard similarity of its
character 5-gram set to any corpus text (exact, through an inverted index). The dataset card reports
the maximum between test/dev and train, and a test keeps it under ``MAX_CROSS_SIMILARITY``.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence

N = 5
MAX_CROSS_SIMILARITY = 0.5
_SKIP = re.compile(r"[\s\W_]+")


def shingles(text: str, n: int = N) -> frozenset[str]:
    """Character n-grams of the text without spaces and punctuation (whole text when shorter than n)."""
    s = _SKIP.sub("", text)
    if len(s) <= n:
        return frozenset([s])
    return frozenset(s[i : i + n] for i in range(len(s) - n + 1))


def nearest(queries: Sequence[str], corpus: Sequence[str], n: int = N) -> list[tuple[float, int]]:
    """For each query: (best Jaccard similarity, index of that corpus text; -1 if nothing shared)."""
    sets = [shingles(t, n) for t in corpus]
    index: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(sets):
        for g in s:
            index[g].append(i)
    out = []
    for q in queries:
        qs = shingles(q, n)
        shared: Counter[int] = Counter()
        for g in qs:
            shared.update(index.get(g, ()))
        best, where = 0.0, -1
        for i, inter in shared.items():
            jac = inter / (len(qs) + len(sets[i]) - inter)
            if jac > best:
                best, where = jac, i
        out.append((best, where))
    return out
