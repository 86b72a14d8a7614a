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
