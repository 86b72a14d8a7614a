from __future__ import annotations

import pytest

from yujing.errors import InputError
from yujing.search.highlight import highlight
from yujing.search.query import And, Not, Or, Phrase, compile_dsl, compile_fts5, is_negative, matches, parse, terms


def test_precedence_not_and_or() -> None:
    node = parse('"无法提现" AND 汇金宝 OR 跑路 NOT 辟谣')
    assert node == Or((And((Phrase(("无法", "提现")), Phrase(("汇", "金", "宝")))),
                       And((Phrase(("跑", "路")), Not(Phrase(("辟谣",)))))))


def test_implicit_and_parens_and_minus() -> None:
    node = parse("(提现 OR 兑付) 报警 -辟谣")
    assert node == And((Or((Phrase(("提现",)), Phrase(("兑付",)))), Phrase(("报警",)), Not(Phrase(("辟谣",)))))


def test_chinese_quotes_and_parens() -> None:
    assert parse("“无法提现”") == Phrase(("无法", "提现"))
    assert parse("（提现）") == Phrase(("提现",))


def test_fts5_compilation() -> None:
    assert compile_fts5(parse("(提现 OR 兑付) 报警 -辟谣")) == '((("提现" OR "兑付") AND "报警") NOT "辟谣")'  # type: ignore[arg-type]


def test_dsl_compilation() -> None:
    assert compile_dsl(parse("提现 -辟谣")) == {  # type: ignore[arg-type]
        "bool": {"must": [{"match_phrase": {"text_seg": "提现"}}], "must_not": [{"match_phrase": {"text_seg": "辟谣"}}]}
    }


def test_negative_only_query() -> None:
    node = parse("NOT 辟谣")
    assert node is not None and is_negative(node)
    assert compile_fts5(node) == '"辟谣"'


@pytest.mark.parametrize("bad", ["提现 OR NOT 辟谣", "(提现", "提现)", "AND 提现", "提现 OR", "NOT", "NOT NOT 辟谣",
                                 "提现 OR (NOT 辟谣 NOT 谣言)"])
def test_bad_queries_say_how_to_write_them(bad: str) -> None:
    with pytest.raises(InputError) as err:
        parse(bad)
    assert err.value.reason == "bad_query"
    assert "write e.g." in str(err.value)


def test_empty_and_punctuation_only() -> None:
    assert parse("") is None
    assert parse("！！ ，") is None


def test_terms_and_matches() -> None:
    node = parse("(提现 OR 兑付) 报警 -辟谣")
    assert node is not None
    assert terms(node) == [("提现",), ("兑付",), ("报警",)]
    assert matches(node, ["无法", "提现", "快", "报警"])
    assert not matches(node, ["提现", "报警", "辟谣"])


def test_highlight_marks_matches_across_punctuation_and_case() -> None:
    text = "Huijinbao 无法，提现了"
    assert highlight(text, [("无法", "提现"), ("huijinbao",)]) == "<em>Huijinbao</em> <em>无法，提现</em>了"
    assert highlight("a<b> 提现", [("提现",)]) == "a&lt;b&gt; <em>提现</em>"
    assert highlight("没有", [("提现",)]) == ""


def test_highlight_snippet_is_bounded() -> None:
    text = "前" * 300 + "提现" + "后" * 300
    out = highlight(text, [("提现",)], width=60)
    assert out.startswith("…") and out.endswith("…") and "<em>提现</em>" in out
    assert len(out) < 90


def test_signals_page_body_reads_only_what_grafana_may_see_oldest_first() -> None:
    from datetime import UTC, datetime

    from yujing.search.dsl import signals_page_body
    from yujing.search.mapping import SIGNAL_FIELDS

    first = signals_page_body(size=3)
    assert first["sort"] == [{"ts": {"order": "asc"}}, {"id": {"order": "asc"}}] and first["size"] == 3
    assert "search_after" not in first and first["query"] == {"bool": {"filter": []}}
    read = set(first["_source"]["includes"])
    assert read == {*SIGNAL_FIELDS, "scores"} and not read & {"text", "text_seg", "author", "url", "extra"}
    since = datetime(2026, 11, 21, tzinfo=UTC)
    later = signals_page_body(since, None, 3, (1763683200000, "p12"))
    assert later["search_after"] == [1763683200000, "p12"]
    assert later["query"]["bool"]["filter"] == [
        {"range": {"ts": {"gte": int(since.timestamp() * 1000), "format": "epoch_millis"}}}]
