"""Platform attribution measured on real posts: ``yujing eval --attribution ../shared/data``.

Gold: the FinNSP posts (``finance_texts/finnsp/{train,eval}_list.json``, rows ``[id, title, text,
entities, negative, key_entity]``) list the financial entities each post names. The registry is the
5,085 real platform names of ``p2p_platforms/p2peye_platform_names.csv``; a post's gold set is its
annotated entities that are registry platforms, and the prediction is what ``PlatformMatcher`` finds
in title + text. Exact-set accuracy counts posts whose predicted set equals the gold set (posts
naming no registry platform included: they test that nothing is attributed to an unnamed platform).

Caveat, visible in the errors it lists: FinNSP annotators listed the entities a news item is *about*,
not every one it names (weekly round-ups name a dozen platforms and list two), so part of what
counts as a false positive here is a true mention. The figure is a lower bound.

The texts are read from the shared data folder at run time and never copied into the repository.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yujing.errors import InputError
from yujing.models.attribution import PlatformMatcher
from yujing.registry import registry_from_entries

FINNSP = ("finance_texts/finnsp/train_list.json", "finance_texts/finnsp/eval_list.json")
REGISTRY = "p2p_platforms/p2peye_platform_names.csv"


@dataclass(frozen=True, slots=True)
class Post:
    id: str
    text: str
    entities: frozenset[str]


def score(matcher: PlatformMatcher, posts: Sequence[Post], registry: frozenset[str], show: int = 10) -> dict[str, Any]:
    """Exact-set accuracy, mention precision/recall and the first ``show`` disagreements."""
    exact = tp = fp = fn = fuzzy = 0
    errors: list[dict[str, Any]] = []
    for post in posts:
        gold = post.entities & registry
        mentions = matcher.mentions(post.text)
        pred = {m.platform for m in mentions}
        fuzzy += sum(not m.exact for m in mentions)
        tp, fp, fn = tp + len(pred & gold), fp + len(pred - gold), fn + len(gold - pred)
        if pred == gold:
            exact += 1
        elif len(errors) < show:
            errors.append(
                {"id": post.id, "gold": sorted(gold), "predicted": sorted(pred), "text": post.text[:80]}
            )
    n = len(posts)
    return {
        "posts": n,
        "posts_naming_a_platform": sum(bool(p.entities & registry) for p in posts),
        "exact_set_accuracy": exact / n if n else 0.0,
        "mention_precision": tp / (tp + fp) if tp + fp else 0.0,
        "mention_recall": tp / (tp + fn) if tp + fn else 0.0,
        "fuzzy_mentions": fuzzy,
        "registry_size": len(registry),
        "errors": errors,
    }


def _need(path: Path) -> Path:
    if not path.is_file():
        raise InputError(
            "no_shared_data",
            f"{path} not found; pass the shared data folder (the one holding finance_texts/ and p2p_platforms/), "
            "e.g. --attribution ../shared/data",
        )
    return path


def read_registry(shared: Path) -> frozenset[str]:
    path = _need(shared / REGISTRY)
    with path.open(encoding="utf-8", newline="") as f:
        names = {row["platform_name"].strip() for row in csv.DictReader(f)}
    return frozenset(n for n in names if n)


def read_posts(shared: Path) -> list[Post]:
    posts: list[Post] = []
    for rel in FINNSP:
        path = _need(shared / rel)
        rows = json.loads(path.read_text(encoding="utf-8"))
        for i, row in enumerate(rows):
            if not (isinstance(row, list) and len(row) >= 4):
                raise InputError("bad_finnsp_row", f"{path}: row {i} is not [id, title, text, entities, ...]")
            ident, title, text, entities = (str(x or "") for x in row[:4])
            names = frozenset(e.strip() for e in entities.split(";") if e.strip())
            posts.append(Post(ident, f"{title}\n{text}".strip(), names))
    return posts


def evaluate(shared: Path, *, fuzzy: Sequence[bool] = (True, False), show: int = 10) -> list[dict[str, Any]]:
    """One report per matcher setting (with / without homophone variants), on the same posts and registry."""
    registry, posts = read_registry(shared), read_posts(shared)
    entries = registry_from_entries([{"name": n} for n in sorted(registry)], REGISTRY)
    return [{**score(PlatformMatcher(entries, fuzzy=f), posts, registry, show), "fuzzy": f} for f in fuzzy]


def human(reports: Sequence[dict[str, Any]]) -> str:
    lines = []
    for r in reports:
        lines.append(
            f"attribution ({'with' if r['fuzzy'] else 'without'} homophone variants): {r['posts']} FinNSP posts, "
            f"{r['posts_naming_a_platform']} naming one of {r['registry_size']} registry platforms\n"
            f"  exact-set accuracy {r['exact_set_accuracy']:.3f}   mention precision {r['mention_precision']:.3f}   "
            f"recall {r['mention_recall']:.3f}   fuzzy mentions {r['fuzzy_mentions']}"
        )
    for r in reports[:1]:
        if r["errors"]:
            lines.append("  first disagreements (gold | predicted | text):")
            lines += [f"    {e['gold']} | {e['predicted']} | {e['text'][:50]}" for e in r["errors"]]
    return "\n".join(lines)
