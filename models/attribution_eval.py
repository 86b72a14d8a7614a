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

Hence a second gold, written by the team for what the matcher is meant to do (``ATTRIBUTION_GOLD.md``):
in every one of the 4,500 posts, each registry name found anywhere as a substring or homophone variant
was judged "the post names this platform" or not (华夏信 inside 华夏信财, 校园贷 as a loan category: not).
``models/data/attribution_gold.jsonl`` stores post ids and keyed hashes of the platform names only.

The texts are read from the shared data folder at run time and never copied into the repository.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yujing.errors import InputError
from yujing.models.attribution import Mention, PlatformMatcher
from yujing.registry import registry_from_entries

FINNSP = ("finance_texts/finnsp/train_list.json", "finance_texts/finnsp/eval_list.json")
REGISTRY = "p2p_platforms/p2peye_platform_names.csv"


TEAM_GOLD = Path(__file__).resolve().parent / "data" / "attribution_gold.jsonl"


@dataclass(frozen=True, slots=True)
class Post:
    id: str
    text: str
    entities: frozenset[str]
    source: str = ""


def platform_key(name: str) -> str:
    """The hash a gold file stores instead of a platform name (the registry's names stay out of the repo)."""
    return hashlib.sha256(f"yujing-platform:{name}".encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Judged:
    named: frozenset[str]  # platform keys the post names
    judged: frozenset[str]  # every platform key an annotator looked at for this post (named or not)


NOT_JUDGED = Judged(frozenset(), frozenset())  # a post absent from the gold file: it had no candidate name


def read_team_gold(path: Path = TEAM_GOLD) -> dict[tuple[str, str], Judged]:
    """(source, post id) -> the team's judgement; a post that is absent had no candidate name at all."""
    out: dict[tuple[str, str], Judged] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError("no_gold", f"{path}: cannot read ({exc}); restore it from git") from exc
    for n, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
            named, rejected = frozenset(row["named"]), frozenset(row["not_named"])
            key = (str(row["source"]), str(row["id"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(
                "bad_gold_row", f"{path}:{n}: expected {{source, id, named, not_named}} ({exc}); fix or remove the line"
            ) from exc
        if named & rejected:
            raise InputError("bad_gold_row", f"{path}:{n}: a platform is both named and not named; keep one")
        out[key] = Judged(named, named | rejected)
    return out


def with_team_gold(
    posts: Sequence[Post], registry: frozenset[str], gold: Mapping[tuple[str, str], Judged]
) -> list[Post]:
    """The same posts with the team's gold as their entities."""
    by_key = {platform_key(name): name for name in registry}
    out = []
    for p in posts:
        named = gold.get((p.source, p.id), NOT_JUDGED).named
        out.append(Post(p.id, p.text, frozenset(by_key[k] for k in named if k in by_key), p.source))
    return out


def predict(matcher: PlatformMatcher, posts: Sequence[Post]) -> list[list[Mention]]:
    """The matcher's mentions in every post, computed once and scored against each gold."""
    return [matcher.mentions(p.text) for p in posts]


def unjudged(
    found: Sequence[Sequence[Mention]], posts: Sequence[Post], gold: Mapping[tuple[str, str], Judged]
) -> int:
    """Predictions nobody judged (the gold is stale for this registry or matcher): should be 0."""
    return sum(
        platform_key(name) not in gold.get((p.source, p.id), NOT_JUDGED).judged
        for p, mentions in zip(posts, found, strict=True)
        for name in {m.platform for m in mentions}
    )


def score(
    found: Sequence[Sequence[Mention]], posts: Sequence[Post], registry: frozenset[str], show: int = 10
) -> dict[str, Any]:
    """Exact-set accuracy, mention precision/recall and the first ``show`` disagreements of the mentions
    ``found`` in ``posts`` (see :func:`predict`)."""
    exact = tp = fp = fn = fuzzy = 0
    errors: list[dict[str, Any]] = []
    for post, mentions in zip(posts, found, strict=True):
        gold = post.entities & registry
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
            posts.append(Post(ident, f"{title}\n{text}".strip(), names, rel))
    return posts


GOLDS = {
    "finnsp": "FinNSP's entity lists (what a post is about; incomplete for round-ups)",
    "team": "the team's judgement of every registry name a post contains (ATTRIBUTION_GOLD.md)",
}


SETTINGS: dict[str, dict[str, bool]] = {
    "as shipped": {"fuzzy": True, "word_edges": True},
    "without homophone variants": {"fuzzy": False, "word_edges": True},
    "without the word-edge check": {"fuzzy": True, "word_edges": False},
}


def evaluate(
    shared: Path,
    *,
    settings: Sequence[str] = tuple(SETTINGS),
    show: int = 10,
    team_gold: Path | None = TEAM_GOLD,
) -> list[dict[str, Any]]:
    """One report per gold (FinNSP's, the team's) and matcher setting (``SETTINGS``), on the same posts and
    registry. The team-gold reports also give the figure on FinNSP's eval file alone (``eval_posts``): the
    word-edge rules were developed looking at errors in the train file only."""
    registry, posts = read_registry(shared), read_posts(shared)
    entries = registry_from_entries([{"name": n} for n in sorted(registry)], REGISTRY)
    golds: dict[str, list[Post]] = {"finnsp": posts}
    judged = read_team_gold(team_gold) if team_gold is not None else None
    if judged is not None:
        golds["team"] = with_team_gold(posts, registry, judged)
    held = [i for i, p in enumerate(posts) if p.source == FINNSP[1]]
    reports: dict[str, list[dict[str, Any]]] = {name: [] for name in golds}
    for setting in settings:
        found = predict(PlatformMatcher(entries, **SETTINGS[setting]), posts)
        for name, gold_posts in golds.items():
            report = {**score(found, gold_posts, registry, show), "setting": setting, "gold": name}
            report["gold_is"] = GOLDS[name]
            if judged is not None and name == "team":
                report["unjudged_predictions"] = unjudged(found, gold_posts, judged)
                held_score = score([found[i] for i in held], [gold_posts[i] for i in held], registry, 0)
                report["eval_posts"] = {k: v for k, v in held_score.items() if k != "errors"}
            reports[name].append(report)
    return [report for per_gold in reports.values() for report in per_gold]


def human(reports: Sequence[dict[str, Any]]) -> str:
    lines = []
    for gold in dict.fromkeys(r["gold"] for r in reports):
        group = [r for r in reports if r["gold"] == gold]
        lines.append(f"gold: {group[0]['gold_is']}")
        for r in group:
            lines.append(
                f"  {r['setting']}: {r['posts']} FinNSP posts, "
                f"{r['posts_naming_a_platform']} naming one of {r['registry_size']} registry platforms\n"
                f"    exact-set accuracy {r['exact_set_accuracy']:.3f}   mention precision "
                f"{r['mention_precision']:.3f}   recall {r['mention_recall']:.3f}   "
                f"fuzzy mentions {r['fuzzy_mentions']}"
                + (f"   unjudged predictions {r['unjudged_predictions']}" if "unjudged_predictions" in r else "")
            )
            if "eval_posts" in r:
                e = r["eval_posts"]
                lines.append(
                    f"    FinNSP eval file only ({e['posts']} posts): exact-set accuracy {e['exact_set_accuracy']:.3f}"
                    f"   mention precision {e['mention_precision']:.3f}   recall {e['mention_recall']:.3f}"
                )
        if group[0]["errors"]:
            lines.append("    first disagreements (gold | predicted | text):")
            lines += [
                f"      {e['gold']} | {e['predicted']} | {' '.join(e['text'][:50].split())}" for e in group[0]["errors"]
            ]
    return "\n".join(lines)
