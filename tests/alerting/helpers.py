"""Builders shared by the alerting tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from yujing.records import Post, ScoredPost, Scores, Source
from yujing.registry import Platform, Registry

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def sp(i: int, minutes: float, *, platform: str = "鑫盛贷", author: str | None = None, text: str | None = None,
       rumour: float = 0.0, panic: float = 0.0, gathering: float = 0.0, start: datetime = T0) -> ScoredPost:
    """A scored post ``minutes`` after ``start``; distinct author and text unless given."""
    post = Post(id=f"p{i}", text=text if text is not None else f"第{i}条：关于平台的讨论 编号{i * 7919 % 1000}",
                ts=start + timedelta(minutes=minutes), source=Source.WEIBO,
                author=author if author is not None else f"u_{i:04d}")
    return ScoredPost(post, Scores(rumour, panic, gathering), (), (platform,) if platform else (), "test")


def make_registry() -> Registry:
    return Registry((Platform("鑫盛贷", ("鑫盛",), "p2p", "城东区", "troubled"),
                     Platform("安和财富", (), "wealth", "城西区", "operating")))
