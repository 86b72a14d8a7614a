from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

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
        found = matcher.platforms(f"听说，{name}出事了")
        assert found and len(found[0]) >= 3
    exact = sum(matcher.platforms(f"“{n}”") == (n,) for n in names)
    assert exact / len(names) > 0.97


def test_a_name_inside_another_word_or_name_is_not_a_mention() -> None:
    m = _matcher({"name": "华夏信"}, {"name": "合金融"}, {"name": "乐投资"}, {"name": "钱爸爸"}, {"name": "华夏万家"})
    assert m.platforms("华夏信财P2P网贷平台数据") == ()  # another platform's name
    assert m.platforms("华夏信暂停兑付") == ("华夏信",)
    assert m.platforms("依托综合金融服务平台") == ()  # 综合 is a word: 合金融 is not named
    assert m.platforms("市政府与赛伯乐投资集团签约") == ()
    assert m.platforms("听说合金融跑路了") == ("合金融",)
    # generic words after a name keep it: 理财, 金服
    assert m.platforms("钱爸爸理财发布兑付公告；华夏万家金服也危险") == ("钱爸爸", "华夏万家")
    m = _matcher({"name": "鑫盛汇"}, {"name": "宜人贷"})
    assert m.platforms("鑫盛汇出事了") == ("鑫盛汇",)  # 汇出 is a word, but only a match's start is checked
    assert m.platforms("宜人贷获高盛投资") == ("宜人贷",)
    assert _matcher({"name": "华夏信"}).platforms("华夏信财") == ()
    unchecked = PlatformMatcher(registry_from_entries([{"name": "华夏信"}]), word_edges=False)
    assert unchecked.platforms("华夏信财") == ("华夏信",)


def test_bank_products_loans_and_conjunctions_are_not_platforms() -> None:
    m = _matcher({"name": "好享贷"}, {"name": "网络贷"}, {"name": "和信贷"}, {"name": "小金库"}, {"name": "蜂融网"})
    # a bank's or a large company's product of the same name, and the same name later in that text
    assert m.platforms("交通银行好享贷怎么取现？好享贷是一种消费信贷") == ()
    assert m.platforms("交通银行的“好享贷”额度") == ()
    assert m.platforms("京东小金库收益") == ()
    assert m.platforms("好享贷暂停兑付") == ("好享贷",)
    assert m.platforms("@某某银行 好享贷跑路") == ("好享贷",)  # a space separates: not the bank's product
    # an owner's name at the end of a longer word, or an owner used as a verb, is not an owner
    for text in ("发扬光大好享贷", "国计民生好享贷平台", "推广发好享贷", "新兴业好享贷", "百度好享贷发现是骗子"):
        assert m.platforms(text) == ("好享贷",), text
    assert m.platforms("关注蜂融网官方微信蜂融网") == ("蜂融网",)  # a WeChat account, not a product of WeChat
    # 贷 + 款 reads as 贷款 (loans)
    assert m.platforms("涉嫌网络贷款诈骗") == ()
    assert m.platforms("网络贷逾期了") == ("网络贷",)
    # 和 between two words is the conjunction; after 投了 it starts the name
    assert m.platforms("完成评选和信贷支持计划") == ()
    assert m.platforms("在风车理财投了和信贷的钱") == ("和信贷",)
    assert m.platforms("和信贷暂停兑付") == ("和信贷",)


def test_loan_word_tails_publishers_and_longer_quoted_names_are_not_platforms() -> None:
    m = _matcher({"name": "贷理财"}, {"name": "优财网"}, {"name": "盈天下"}, {"name": "陆金所"}, {"name": "鑫盛贷"})
    # 网贷 / 车贷 + 理财: the name starts inside a loan word
    assert m.platforms("P2P网贷理财正处于备案期，车贷理财也是") == ()
    for head in "房借放信":
        assert m.platforms(f"{head}贷理财") == (), head
    assert m.platforms("贷理财暂停兑付，投资人去了网贷之家") == ("贷理财",)
    # a news site's disclaimer names the publisher: none of its mentions in that text count
    site = "优财网：中信银行与麦当劳合作\n原标题：优财网：中信银行与麦当劳合作 声明：优财网所提供的信息仅供参考！"
    assert m.platforms(site) == ()
    assert m.platforms("优财网：平台暂停兑付，请投资人登记") == ("优财网",)
    assert m.platforms("鑫盛贷提供的信息显示逾期率上升") == ("鑫盛贷",)  # no disclaimer: the platform's own data
    # reporting that merely contains the words is not a disclaimer (no 所, or punctuation before 仅供参考)
    assert m.platforms("据鑫盛贷提供的内容，平台称仅供参考") == ("鑫盛贷",)
    assert m.platforms("鑫盛贷所提供的信息真实性存疑，仅供参考。鑫盛贷已暂停兑付") == ("鑫盛贷",)
    assert m.platforms("优财网\n\n所提供的信息仅供参考") == ("优财网",)
    # a quoted name one character longer is another name; a longer head is a modifier
    assert m.platforms("“隆盈天下”会员“死不退”，声称隆盈天下不是传销") == ()
    assert m.platforms("“盈天下”会员") == ("盈天下",)
    assert m.platforms("以“西部陆金所”为目标") == ("陆金所",)
    assert m.platforms('"隆盈天下"会员，盈天下') == ()  # ASCII and corner quotes too
    assert m.platforms("「隆盈天下」会员，盈天下") == ()
    # the quoted occurrence counts even where the segmenter already rejects it (“大陆金所”: 大陆 + 金所)
    assert m.platforms("“大陆金所”出事，陆金所回应") == ()


def test_a_name_listed_twice_in_the_registry_names_both_entries() -> None:
    m = _matcher({"name": "PPmoney"}, {"name": "Ppmoney"}, {"name": "积木盒子"})
    assert m.platforms("ppmoney回应质疑，积木盒子未回应") == ("PPmoney", "Ppmoney", "积木盒子")


def test_offsets_survive_characters_that_lower_case_to_two() -> None:
    m = _matcher({"name": "优财网"})
    (mention,) = m.mentions("İ优财网出事")
    assert mention.surface == "优财网"


def test_latin_and_digit_names_do_not_match_inside_longer_runs() -> None:
    m = _matcher({"name": "19贷"}, {"name": "PPmoney"}, {"name": "e租宝"})
    assert m.platforms("支付宝2019贷款口子") == ()
    assert m.platforms("19贷暂停兑付") == ("19贷",)
    assert m.platforms("ppmoney回应") == ("PPmoney",)
    assert m.platforms("xppmoneyx") == ()
    assert m.platforms("E租宝案") == ("e租宝",)


def test_attribution_scoring_counts_exact_sets_and_unnamed_posts() -> None:
    from yujing.models.attribution_eval import Post, predict, score

    registry = frozenset({"金汇宝", "鑫盛贷"})
    m = PlatformMatcher(registry_from_entries([{"name": n} for n in sorted(registry)]))
    posts = [
        Post("a", "金汇保提现不到账", frozenset({"金汇宝"})),  # homophone typo, right
        Post("b", "鑫盛贷和金汇宝都逾期", frozenset({"鑫盛贷"})),  # extra mention: a false positive for the gold
        Post("c", "今天天气不错", frozenset()),  # names nothing, predicts nothing: exact
        Post("d", "某银行理财", frozenset({"某银行"})),  # gold outside the registry is ignored
    ]
    r = score(predict(m, posts), posts, registry)
    assert r["exact_set_accuracy"] == 0.75
    assert r["mention_precision"] == 2 / 3 and r["mention_recall"] == 1.0
    assert r["fuzzy_mentions"] == 1 and r["posts_naming_a_platform"] == 2
    assert [e["id"] for e in r["errors"]] == ["b"]


def _write_shared(root: Path, posts: dict[str, str], registry: list[str]) -> Path:
    finnsp = root / "finance_texts" / "finnsp"
    finnsp.mkdir(parents=True)
    rows = [[i, "", t, "", "0", ""] for i, t in posts.items()]
    (finnsp / "train_list.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    (finnsp / "eval_list.json").write_text("[]", encoding="utf-8")
    reg = root / "p2p_platforms" / "p2peye_platform_names.csv"
    reg.parent.mkdir(parents=True)
    reg.write_text("platform_name\n" + "\n".join(registry) + "\n", encoding="utf-8")
    return root


def _gold_line(post: str, named: list[str], not_named: list[str]) -> str:
    from yujing.models.attribution_eval import FINNSP, platform_key

    row = {"source": FINNSP[0], "id": post, "named": [platform_key(n) for n in named]}
    return json.dumps({**row, "not_named": [platform_key(n) for n in not_named]}) + "\n"


def test_team_gold_is_scored_beside_finnsp_and_flags_unjudged_predictions(tmp_path: Path) -> None:
    from yujing.models.attribution_eval import evaluate, human

    shared = _write_shared(
        tmp_path / "shared",
        {"p1": "华夏信，财务逾期了", "p2": "鑫盛贷和华夏信都在名单上", "p3": "今天天气不错", "p4": "鑫盛贷暂停"},
        ["华夏信", "鑫盛贷"],
    )
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        _gold_line("p1", [], ["华夏信"]) + _gold_line("p2", ["鑫盛贷", "华夏信"], []), encoding="utf-8"
    )  # p3 names nothing; p4 was never judged (a stale gold)
    reports = evaluate(shared, team_gold=gold, settings=["without homophone variants"])
    finnsp, team = reports
    assert (finnsp["gold"], team["gold"]) == ("finnsp", "team")
    # The team says p1 does not name 华夏信 (say, a typo for another name); p4's 鑫盛贷 was never judged.
    assert team["exact_set_accuracy"] == 0.5 and team["unjudged_predictions"] == 1
    assert team["mention_recall"] == 1.0 and team["mention_precision"] == 2 / 4
    assert "the team's judgement" in human(reports) and "unjudged predictions 1" in human(reports)


def test_team_gold_rows_are_checked(tmp_path: Path) -> None:
    from yujing.errors import InputError
    from yujing.models.attribution_eval import read_team_gold

    bad = tmp_path / "gold.jsonl"
    bad.write_text('{"source": "x", "id": "1"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"gold.jsonl:1: expected \{source, id, named, not_named\}"):
        read_team_gold(bad)
    bad.write_text(_gold_line("p1", ["鑫盛贷"], ["鑫盛贷"]), encoding="utf-8")
    with pytest.raises(InputError, match="both named and not named"):
        read_team_gold(bad)
    with pytest.raises(InputError, match="restore it from git"):
        read_team_gold(tmp_path / "missing.jsonl")


def test_shipped_team_gold_is_well_formed() -> None:
    from yujing.models.attribution_eval import FINNSP, TEAM_GOLD, read_team_gold

    gold = read_team_gold(TEAM_GOLD)
    assert len(gold) >= 1000 and {source for source, _ in gold} <= set(FINNSP)
    assert all(j.judged and len(k) == 12 for j in gold.values() for k in j.judged)  # keys, never names


SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "finance_texts").is_dir(), reason="needs ../shared/data (not in a fresh clone)")
def test_team_gold_covers_every_prediction_on_the_real_posts() -> None:
    from yujing.models.attribution_eval import evaluate

    shipped, *_ = (r for r in evaluate(SHARED, settings=["as shipped"]) if r["gold"] == "team")
    assert shipped["unjudged_predictions"] == 0  # else the gold is stale for this registry or matcher
    assert shipped["posts"] == 4500


def test_registry_findings_name_shared_one_character_and_ordinary_word_names() -> None:
    from yujing.models.attribution import registry_findings

    registry = registry_from_entries([
        {"name": "聚宝盆", "aliases": ["聚宝盆理财"]},  # an ordinary word (a treasure bowl) as the name
        {"name": "鑫盛贷", "aliases": ["鑫盛", "XSD"]},
        {"name": "鑫盛金服", "aliases": ["鑫盛", "盛"]},  # 鑫盛 shared with 鑫盛贷; 盛 one character
        {"name": "PPmoney"}, {"name": "ppmoney"},  # the same surface in two entries, case aside
    ])
    found = {(f.kind, f.surface, f.platforms) for f in registry_findings(registry)}
    assert found == {
        ("common_word", "聚宝盆", ("聚宝盆",)),
        ("shared", "鑫盛", ("鑫盛贷", "鑫盛金服")),
        ("one_char", "盛", ("鑫盛金服",)),
        ("shared", "PPmoney", ("PPmoney", "ppmoney")),
    }


def test_registry_check_reports_counts_and_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from yujing.cli import main

    path = tmp_path / "registry.csv"
    path.write_text("名称,别名,类型,所在区,状态\n聚宝盆,,网贷,城东区,风险\n鑫盛贷,鑫盛;XSD,网贷,城东区,正常\n"
                    "汇金宝,,众筹,,正常\n", encoding="utf-8")
    assert main(["registry", "check", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["platforms"], report["names"]) == (3, 5)
    assert report["kinds"] == {"p2p": 2, "crowdfunding": 1} and report["statuses"] == {"operating": 2, "troubled": 1}
    assert report["districts"] == {"城东区": 2, "(none)": 1}
    assert [(f["kind"], f["surface"]) for f in report["findings"]] == [("common_word", "聚宝盆")]
    assert main(["registry", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "3 platforms, 5 names and aliases" in out and "1 names attribution will misread:" in out
    assert "common_word  聚宝盆 (聚宝盆): is also an ordinary word" in out
    path.write_text("名称,备注\nA,x\n", encoding="utf-8")
    assert main(["registry", "check", str(path)]) == 2
    assert "unknown column" in capsys.readouterr().err
