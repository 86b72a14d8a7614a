"""A small fictional corpus and the query suite every store must answer identically.

Platform names are fictional (鑫盛贷, 汇金宝, 安信通). Expected ids are written by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from yujing.records import Agency, Alert, Level, Post, ScoredPost, Scores, Signal, Source
from yujing.search.store import SearchQuery

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

_ROWS = [
    # id, minutes after T0, source, text, platforms, (rumour, panic, gathering), labels
    ("p01", 0, Source.WEIBO, "鑫盛贷无法提现了，大家快去报警！", ("鑫盛贷",), (0.1, 0.9, 0.3), ("panic",)),
    ("p02", 5, Source.FORUM, "听说鑫盛贷老板跑路了，不知真假", ("鑫盛贷",), (0.8, 0.6, 0.1), ("rumour", "panic")),
    ("p03", 10, Source.WECHAT, "明天上午九点在区政府门口集合，鑫盛贷的投资人都来", ("鑫盛贷",), (0.1, 0.4, 0.95),
     ("gathering",)),
    ("p04", 20, Source.NEWS, "官方辟谣：鑫盛贷老板跑路系谣言，平台正常运营", ("鑫盛贷",), (0.3, 0.1, 0.0), ()),
    ("p05", 30, Source.WEIBO, "汇金宝提现一直显示处理中，已经三天了", ("汇金宝",), (0.1, 0.7, 0.1), ("panic",)),
    ("p06", 45, Source.COMPLAINT, "投诉汇金宝：本金逾期不兑付，客服电话打不通", ("汇金宝",), (0.05, 0.75, 0.2),
     ("panic",)),
    ("p07", 60, Source.FORUM, "安信通今天正常兑付，大家不要慌", ("安信通",), (0.05, 0.05, 0.0), ()),
    ("p08", 90, Source.WEIBO, "鑫盛贷和汇金宝都无法提现，是不是要暴雷", ("鑫盛贷", "汇金宝"), (0.5, 0.85, 0.2),
     ("panic", "rumour")),
    ("p09", 130, Source.WECHAT, "汇金宝的投资人下午去信访局，一起维权", ("汇金宝",), (0.1, 0.5, 0.9),
     ("gathering",)),
    ("p10", 200, Source.FORUM, "今天天气不错，去公园散步", (), (0.0, 0.0, 0.0), ()),
    ("p11", 240, Source.WEIBO, "Huijinbao 提现 failed again，汇金宝 APP 打不开", ("汇金宝",), (0.2, 0.8, 0.1),
     ("panic",)),
    ("p12", 1500, Source.NEWS, "鑫盛贷暂停提现的传言不实，提现功能已恢复", ("鑫盛贷",), (0.4, 0.2, 0.0), ()),
]

DISTRICTS = {"鑫盛贷": "城东区", "汇金宝": "城西区", "安信通": "高新区"}


def posts() -> list[ScoredPost]:
    out = []
    for pid, minutes, source, text, platforms, (r, p, g), labels in _ROWS:
        post = Post(id=pid, text=text, ts=T0 + timedelta(minutes=minutes), source=source,
                    author=f"u_{pid}", url=f"https://example.invalid/{pid}",
                    extra={"districts": sorted({DISTRICTS[x] for x in platforms})})
        out.append(ScoredPost(post=post, scores=Scores(r, p, g), labels=tuple(Signal(s) for s in labels),
                              platforms=platforms, model="lexicon-test"))
    return out


def alerts() -> list[Alert]:
    return [
        Alert(key="a1", platform="鑫盛贷", signal=Signal.PANIC, level=Level.ORANGE, ts=T0 + timedelta(minutes=95),
              agencies=(Agency.FINANCE_OFFICE, Agency.STABILITY_OFFICE), posts=3, rule="panic-burst",
              explanation={"post_ids": ["p01", "p02", "p08"], "window": "1h", "district": "城东区",
                           "summary": "提现 恐慌 帖子 激增"}),
        Alert(key="a2", platform="汇金宝", signal=Signal.GATHERING, level=Level.RED, ts=T0 + timedelta(minutes=135),
              agencies=(Agency.POLICE, Agency.PETITIONS_BUREAU), posts=1, rule="gathering-any",
              explanation={"post_ids": ["p09"], "district": "城西区", "summary": "投资人 计划 去 信访局 维权"}),
        Alert(key="a3", platform="汇金宝", signal=Signal.PANIC, level=Level.BLUE, ts=T0 + timedelta(minutes=50),
              agencies=(Agency.FINANCE_OFFICE,), posts=2, rule="panic-burst",
              explanation={"post_ids": ["p05", "p06"], "district": "城西区"}),
    ]


def _after(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


# (name, query, expected ids in order)
SUITE: list[tuple[str, SearchQuery, list[str]]] = [
    ("all newest first", SearchQuery(size=50),
     ["p12", "p11", "p10", "p09", "p08", "p07", "p06", "p05", "p04", "p03", "p02", "p01"]),
    ("word", SearchQuery(text="提现"), ["p12", "p11", "p08", "p05", "p01"]),
    ("phrase", SearchQuery(text='"无法提现"'), ["p08", "p01"]),
    ("and", SearchQuery(text="鑫盛贷 AND 跑路"), ["p04", "p02"]),
    ("not", SearchQuery(text="跑路 NOT 辟谣"), ["p02"]),
    ("minus", SearchQuery(text="跑路 -辟谣"), ["p02"]),
    ("or", SearchQuery(text="集合 OR 维权"), ["p09", "p03"]),
    ("precedence", SearchQuery(text='"无法提现" AND 汇金宝 OR 跑路 NOT 辟谣'), ["p08", "p02"]),
    ("parens", SearchQuery(text="(提现 OR 兑付) 汇金宝"), ["p11", "p08", "p06", "p05"]),
    ("negative only", SearchQuery(text="NOT 提现", platforms=("鑫盛贷",)), ["p04", "p03", "p02"]),
    ("latin lower", SearchQuery(text="HUIJINBAO"), ["p11"]),
    ("platform", SearchQuery(platforms=("汇金宝",)), ["p11", "p09", "p08", "p06", "p05"]),
    ("two platforms", SearchQuery(platforms=("安信通", "鑫盛贷"), text="兑付 OR 集合"), ["p07", "p03"]),
    ("signal default min", SearchQuery(signal=Signal.GATHERING), ["p09", "p03"]),
    ("signal min", SearchQuery(signal=Signal.PANIC, min_score=0.8), ["p11", "p08", "p01"]),
    ("source", SearchQuery(sources=(Source.WECHAT.value, Source.NEWS.value)), ["p12", "p09", "p04", "p03"]),
    ("district", SearchQuery(districts=("城西区",), text="投资人"), ["p09"]),
    ("time range", SearchQuery(since=_after(20), until=_after(90)), ["p07", "p06", "p05", "p04"]),
    ("oldest", SearchQuery(text="鑫盛贷", sort="oldest"), ["p01", "p02", "p03", "p04", "p08", "p12"]),
    ("by score", SearchQuery(signal=Signal.PANIC, sort="score", min_score=0.6),
     ["p01", "p08", "p11", "p06", "p05", "p02"]),
    ("combined", SearchQuery(text="提现", platforms=("鑫盛贷",), signal=Signal.PANIC, min_score=0.5,
                             since=_after(0), until=_after(2000)), ["p08", "p01"]),
    ("no match", SearchQuery(text="区块链"), []),
]
