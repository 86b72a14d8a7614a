from __future__ import annotations

import random

from yujing.models.attribution import PlatformMatcher, name_variants
from yujing.registry import registry_from_entries


def _matcher(*entries: dict[str, object]) -> PlatformMatcher:
    return PlatformMatcher(registry_from_entries(list(entries)))


def test_names_and_aliases_longest_match_wins() -> None:
    m = _matcher({"name": "鑫盛贷", "aliases": ["鑫盛", "XSD"]}, {"name": "鑫盛贷理财"})
    assert m.platforms("鑫盛贷理财暂停兑付") == ("鑫盛贷理财",)
    assert m.platforms("鑫盛贷又出事了，xsd提不出来") == ("鑫盛贷",)
    assert m.platforms("鑫盛和鑫盛贷理财都不行") == ("鑫盛贷", "鑫盛贷理财")


def test_homophone_typos_attribute_but_unnamed_platforms_do_not() -> None:
    m = _matcher({"name": "金汇宝"}, {"name": "汇融宝"})
    assert m.platforms("金汇保提现不到账") == ("金汇宝",)
    assert m.platforms("今天去银行存了钱") == ()
    assert m.platforms("汇融宝正常") == ("汇融宝",)


def test_variant_shared_by_two_platforms_is_dropped() -> None:
    m = _matcher({"name": "金汇宝"}, {"name": "金会保"})  # 金会宝 would be one edit from both
    assert m.platforms("金会宝") == ()
    assert m.platforms("金会保") == ("金会保",)


def test_short_names_get_no_variants() -> None:
    assert list(name_variants("宝")) == []
    assert "金汇保" in set(name_variants("金汇宝"))


def test_scales_to_thousands_of_platforms() -> None:
    rng = random.Random(7)
    alphabet = "鑫盛汇融金桥安信易付通聚财猫恒普惠盈家宝达服丰瑞宜诚源泰鼎投银联众利华贷网理"
    names = sorted({"".join(rng.choice(alphabet) for _ in range(rng.randint(3, 5))) for _ in range(6000)})[:5000]
    matcher = PlatformMatcher(registry_from_entries([{"name": n} for n in names]))
    for name in rng.sample(names, 200):
        found = matcher.platforms(f"听说{name}出事了")
        assert found and len(found[0]) >= 3
    exact = sum(matcher.platforms(f"“{n}”") == (n,) for n in names)
    assert exact / len(names) > 0.97


def test_latin_and_digit_names_do_not_match_inside_longer_runs() -> None:
    m = _matcher({"name": "19贷"}, {"name": "PPmoney"}, {"name": "e租宝"})
    assert m.platforms("支付宝2019贷款口子") == ()
    assert m.platforms("19贷暂停兑付") == ("19贷",)
    assert m.platforms("ppmoney回应") == ("PPmoney",)
    assert m.platforms("xppmoneyx") == ()
    assert m.platforms("E租宝案") == ("e租宝",)


def test_attribution_scoring_counts_exact_sets_and_unnamed_posts() -> None:
    from yujing.models.attribution_eval import Post, score

    registry = frozenset({"金汇宝", "鑫盛贷"})
    m = PlatformMatcher(registry_from_entries([{"name": n} for n in sorted(registry)]))
    posts = [
        Post("a", "金汇保提现不到账", frozenset({"金汇宝"})),  # homophone typo, right
        Post("b", "鑫盛贷和金汇宝都逾期", frozenset({"鑫盛贷"})),  # extra mention: a false positive for the gold
        Post("c", "今天天气不错", frozenset()),  # names nothing, predicts nothing: exact
        Post("d", "某银行理财", frozenset({"某银行"})),  # gold outside the registry is ignored
    ]
    r = score(m, posts, registry)
    assert r["exact_set_accuracy"] == 0.75
    assert r["mention_precision"] == 2 / 3 and r["mention_recall"] == 1.0
    assert r["fuzzy_mentions"] == 1 and r["posts_naming_a_platform"] == 2
    assert [e["id"] for e in r["errors"]] == ["b"]
