"""Records <-> index documents, the same for every store. Pure.

``districts`` and ``kinds`` of a post come from ``post.extra`` when the producer set them, else from
the registry entries of the platforms it names.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from yujing.records import Alert, Post, ScoredPost, Scores, Signal, Source
from yujing.registry import Registry
from yujing.search.mapping import SIGNAL_FIELDS
from yujing.search.segment import segment


def ts_ms(ts: datetime) -> int:
    """Epoch milliseconds, the sort value both stores use for time."""
    return int(ts.timestamp() * 1000)


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _facts(sp: ScoredPost, registry: Registry | None) -> tuple[list[str], list[str]]:
    extra = sp.post.extra
    districts = [str(d) for d in extra.get("districts", ()) if d]
    kinds = [str(k) for k in extra.get("kinds", ()) if k]
    if registry is not None:
        for name in sp.platforms:
            platform = registry.get(name)
            if platform is not None:
                if platform.district and platform.district not in districts:
                    districts.append(platform.district)
                if platform.kind not in kinds:
                    kinds.append(platform.kind)
    return districts, kinds


def post_doc(sp: ScoredPost, registry: Registry | None = None) -> dict[str, Any]:
    districts, kinds = _facts(sp, registry)
    post = sp.post
    return {
        "id": post.id,
        "ts": post.ts.isoformat(),
        "text": post.text,
        "text_seg": segment(post.text),
        "source": post.source.value,
        "author": post.author,
        "url": post.url,
        "platforms": list(sp.platforms),
        "districts": districts,
        "kinds": kinds,
        "scores": sp.scores.to_dict(),
        "labels": [s.value for s in sp.labels],
        "model": sp.model,
        "extra": dict(post.extra),
    }


def signal_doc(post: Mapping[str, Any]) -> dict[str, Any]:
    """A post document (:func:`post_doc`) as Grafana may see it: no text, author, link or metadata."""
    return {k: v for k, v in post.items() if k in SIGNAL_FIELDS or k == "scores"}


def post_from_doc(doc: Mapping[str, Any]) -> ScoredPost:
    post = Post(
        id=str(doc["id"]),
        text=str(doc["text"]),
        ts=datetime.fromisoformat(doc["ts"]),
        source=Source(doc.get("source", "other")),
        author=str(doc.get("author", "")),
        url=str(doc.get("url", "")),
        extra=dict(doc.get("extra") or {}),
    )
    return ScoredPost(
        post=post,
        scores=Scores.from_dict(doc["scores"]),
        labels=tuple(Signal(s) for s in doc.get("labels", ())),
        platforms=tuple(doc.get("platforms", ())),
        model=str(doc.get("model", "")),
    )


def _flatten(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in [str(k), *_flatten(v)]]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _flatten(v)]
    return [str(value)]


def alert_doc(alert: Alert, registry: Registry | None = None) -> dict[str, Any]:
    platform = registry.get(alert.platform) if registry is not None else None
    explanation = dict(alert.explanation)
    return {
        "key": alert.key,
        "ts": alert.ts.isoformat(),
        "platform": alert.platform,
        "district": str(explanation.get("district") or (platform.district if platform else "")),
        "kind": str(explanation.get("kind") or (platform.kind if platform else "")),
        "signal": alert.signal.value,
        "level": alert.level.value,
        "level_rank": alert.level.rank,
        "status": alert.status.value,
        "agencies": [a.value for a in alert.agencies],
        "posts": alert.posts,
        "rule": alert.rule,
        "explanation": explanation,
        "explanation_text": segment(" ".join(_flatten(explanation))),
    }


def alert_from_doc(doc: Mapping[str, Any]) -> Alert:
    return Alert.from_dict(doc)


def supporting_post_ids(alert: Alert) -> list[str]:
    """The post ids a warning was based on, as its explanation lists them: ``top_posts`` (the alerting
    service's stories, each with ``post_id`` and ``post_ids``) or a plain ``post_ids`` list."""
    ids: list[str] = []
    for story in alert.explanation.get("top_posts") or ():
        if isinstance(story, Mapping):
            ids.extend(str(i) for i in [story.get("post_id"), *(story.get("post_ids") or ())] if i)
    plain = alert.explanation.get("post_ids")
    if isinstance(plain, list | tuple):
        ids.extend(str(i) for i in plain)
    return list(dict.fromkeys(ids))
