"""Yujing's record types: one frozen type per message, stdlib only.

Every stage imports this module; it imports nothing from Yujing back. Records cross the bus as
JSON (``to_json`` / ``from_json``), so adding a field means adding it to both directions here.

Tree of types::

    Post        one text as ingested (author already pseudonymised)
    Scores      the three signal probabilities of one text
    ScoredPost  a Post with its Scores, platforms and the model that scored it
    Alert       one warning about a platform and a signal (never about a person)
    DeadLetter  one input that could not be processed, with where it came from and why
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Signal(enum.StrEnum):
    """The three risk signals (definitions in the README and the classifier's dataset card)."""

    RUMOUR = "rumour"
    PANIC = "panic"
    GATHERING = "gathering"


SIGNALS: tuple[Signal, ...] = (Signal.RUMOUR, Signal.PANIC, Signal.GATHERING)


class Level(enum.StrEnum):
    """Warning levels, the colours of the Emergency Response Law art. 42 (蓝/黄/橙/红)."""

    BLUE = "blue"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"

    @property
    def rank(self) -> int:
        return _LEVEL_RANK[self]

    @property
    def chinese(self) -> str:
        return _LEVEL_ZH[self]


_LEVEL_RANK = {Level.BLUE: 1, Level.YELLOW: 2, Level.ORANGE: 3, Level.RED: 4}
_LEVEL_ZH = {Level.BLUE: "蓝色", Level.YELLOW: "黄色", Level.ORANGE: "橙色", Level.RED: "红色"}
LEVELS: tuple[Level, ...] = (Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED)


class Source(enum.StrEnum):
    WEIBO = "weibo"
    WECHAT = "wechat"
    FORUM = "forum"
    COMPLAINT = "complaint"
    NEWS = "news"
    OTHER = "other"


class Agency(enum.StrEnum):
    """Receiving offices. Routing (which signal reaches which office) is configuration."""

    STABILITY_OFFICE = "stability_office"  # 维稳办
    POLICE = "police"  # 公安
    PETITIONS_BUREAU = "petitions_bureau"  # 信访局
    FINANCE_OFFICE = "finance_office"  # 金融办


AGENCY_ZH: Mapping[Agency, str] = {
    Agency.STABILITY_OFFICE: "维稳办",
    Agency.POLICE: "公安",
    Agency.PETITIONS_BUREAU: "信访局",
    Agency.FINANCE_OFFICE: "金融办",
}


def _ts_to_str(ts: datetime) -> str:
    return ts.isoformat()


def _ts_from_str(value: str) -> datetime:
    ts = datetime.fromisoformat(value)
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no UTC offset")
    return ts


@dataclass(frozen=True, slots=True)
class Post:
    """One text as ingested. ``author`` is a keyed-hash pseudonym, never the raw account name."""

    id: str
    text: str
    ts: datetime
    source: Source = Source.OTHER
    author: str = ""
    url: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None:
            raise ValueError(f"post {self.id!r}: ts must be timezone-aware")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "ts": _ts_to_str(self.ts),
            "source": self.source.value,
            "author": self.author,
            "url": self.url,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Post:
        return cls(
            id=str(d["id"]),
            text=str(d["text"]),
            ts=_ts_from_str(d["ts"]),
            source=Source(d.get("source", "other")),
            author=str(d.get("author", "")),
            url=str(d.get("url", "")),
            extra=dict(d.get("extra") or {}),
        )


@dataclass(frozen=True, slots=True)
class Scores:
    """Probabilities in [0, 1] for each signal."""

    rumour: float = 0.0
    panic: float = 0.0
    gathering: float = 0.0

    def __post_init__(self) -> None:
        for name in ("rumour", "panic", "gathering"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"score {name}={value} is outside [0, 1]")

    def get(self, signal: Signal) -> float:
        return float(getattr(self, signal.value))

    def to_dict(self) -> dict[str, float]:
        return {"rumour": self.rumour, "panic": self.panic, "gathering": self.gathering}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Scores:
        return cls(float(d["rumour"]), float(d["panic"]), float(d["gathering"]))


@dataclass(frozen=True, slots=True)
class ScoredPost:
    """A post with its scores, the labels at/above threshold and the platforms it names."""

    post: Post
    scores: Scores
    labels: tuple[Signal, ...] = ()
    platforms: tuple[str, ...] = ()
    model: str = ""

    @property
    def id(self) -> str:
        return self.post.id

    @property
    def ts(self) -> datetime:
        return self.post.ts

    def to_dict(self) -> dict[str, Any]:
        return {
            "post": self.post.to_dict(),
            "scores": self.scores.to_dict(),
            "labels": [s.value for s in self.labels],
            "platforms": list(self.platforms),
            "model": self.model,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ScoredPost:
        return cls(
            post=Post.from_dict(d["post"]),
            scores=Scores.from_dict(d["scores"]),
            labels=tuple(Signal(s) for s in d.get("labels", ())),
            platforms=tuple(d.get("platforms", ())),
            model=str(d.get("model", "")),
        )


class AlertStatus(enum.StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Alert:
    """One warning about a platform and a signal. Aggregates only: no author appears here.

    ``key`` identifies the notification for idempotent delivery (platform, signal, level, episode).
    ``explanation`` carries the rule, window figures, supporting post ids and routing path.
    """

    key: str
    platform: str
    signal: Signal
    level: Level
    ts: datetime
    agencies: tuple[Agency, ...]
    posts: int
    status: AlertStatus = AlertStatus.FIRING
    rule: str = ""
    explanation: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None:
            raise ValueError(f"alert {self.key!r}: ts must be timezone-aware")

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "platform": self.platform,
            "signal": self.signal.value,
            "level": self.level.value,
            "ts": _ts_to_str(self.ts),
            "agencies": [a.value for a in self.agencies],
            "posts": self.posts,
            "status": self.status.value,
            "rule": self.rule,
            "explanation": dict(self.explanation),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Alert:
        return cls(
            key=str(d["key"]),
            platform=str(d["platform"]),
            signal=Signal(d["signal"]),
            level=Level(d["level"]),
            ts=_ts_from_str(d["ts"]),
            agencies=tuple(Agency(a) for a in d.get("agencies", ())),
            posts=int(d.get("posts", 0)),
            status=AlertStatus(d.get("status", "firing")),
            rule=str(d.get("rule", "")),
            explanation=dict(d.get("explanation") or {}),
        )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An input that could not be processed. ``origin`` is e.g. ``file.jsonl:12`` or
    ``kafka:topic/partition@offset``; ``raw`` keeps the original bytes (decoded lossily) so
    nothing is lost."""

    origin: str
    reason: str
    raw: str
    stage: str = "ingest"

    def to_dict(self) -> dict[str, str]:
        return {"origin": self.origin, "reason": self.reason, "raw": self.raw, "stage": self.stage}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DeadLetter:
        return cls(str(d["origin"]), str(d["reason"]), str(d["raw"]), str(d.get("stage", "ingest")))


def to_json(record: Post | ScoredPost | Alert | DeadLetter) -> bytes:
    return json.dumps(record.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()
