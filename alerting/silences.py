"""Silences: an officer mutes matching warnings until an expiry, with their name on it.

Pure decisions only; durable storage is :mod:`yujing.alerting.store`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from yujing.alerting.routing import LABELS, Matcher
from yujing.errors import InputError
from yujing.records import LEVELS, SIGNALS


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: Mapping[str, tuple[str, ...]]
    creator: str
    comment: str
    starts: datetime
    ends: datetime
    expired_by: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def active(self, now: datetime) -> bool:
        return self.starts <= now < self.ends

    def matches(self, labels: Mapping[str, str]) -> bool:
        return Matcher(tuple(self.matchers.items())).matches(labels)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "matchers": {k: list(v) for k, v in self.matchers.items()}, "creator": self.creator,
                "comment": self.comment, "starts": self.starts.isoformat(), "ends": self.ends.isoformat(),
                "expired_by": self.expired_by}


def parse_matchers(pairs: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """``["platform=鑫盛贷", "signal=rumour,panic"]`` → matchers; InputError says what is wrong."""
    out: dict[str, tuple[str, ...]] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        values = tuple(v.strip() for v in value.split(",") if v.strip())
        if not sep or name not in LABELS or not values:
            raise InputError("bad_matcher", f"{pair!r}: expected LABEL=VALUE[,VALUE] with LABEL one of {list(LABELS)}")
        _check_values(name, values)
        out[name] = values
    if not out:
        raise InputError("no_matchers", "a silence needs at least one matcher, e.g. platform=鑫盛贷")
    return out


def _check_values(name: str, values: Sequence[str]) -> None:
    allowed = {"signal": [s.value for s in SIGNALS], "level": [lv.value for lv in LEVELS]}.get(name)
    bad = [v for v in values if allowed is not None and v not in allowed]
    if bad:
        raise InputError("bad_matcher", f"{name}={bad[0]!r}: expected one of {allowed}")


def validate(creator: str, starts: datetime, ends: datetime) -> None:
    if not creator.strip():
        raise InputError("no_creator", "a silence needs its creator's name (--by)")
    if starts.tzinfo is None or ends.tzinfo is None:
        raise InputError("naive_time", "silence times need a UTC offset")
    if ends <= starts:
        raise InputError("bad_expiry", f"the silence ends ({ends.isoformat()}) before it starts ({starts.isoformat()})")


def silenced_by(silences: Iterable[Silence], labels: Mapping[str, str], now: datetime) -> Silence | None:
    """Pure: the first active silence matching these labels, if any."""
    return next((s for s in silences if s.active(now) and s.matches(labels)), None)
