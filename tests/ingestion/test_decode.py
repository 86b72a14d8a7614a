from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from yujing.errors import InputError
from yujing.ingestion.decode import DecodeOptions, clean_text, decode_jsonl, parse_ts, post_from_obj
from yujing.records import DeadLetter, Post, Source

OPTS = DecodeOptions(key=b"k")


def _line(**fields: object) -> bytes:
    return json.dumps(fields, ensure_ascii=False).encode()


def test_clean_text_strips_html_and_normalises_fullwidth() -> None:
    raw = "<div>鑫盛贷&amp;<b>ＸＳＤ</b>　提现１２３<script>alert(1)</script></div>"
    assert clean_text(raw) == "鑫盛贷& XSD 提现123"


@pytest.mark.parametrize("raw,clean", [
    ("收益<5%，亏损>3%就跑", "收益<5%，亏损>3%就跑"),  # comparison signs are text, not a tag
    ("【转】&lt;转&gt; 鑫盛贷出事了", "【转】<转> 鑫盛贷出事了"),
    ("<p>第一段</p><!-- 注释 --><br/>第二段", "第一段 第二段"),
    ("&lt;b&gt;加粗&lt;/b&gt;", "加粗"),  # escaped markup is markup
])
def test_clean_text_strips_markup_only_and_clean_text_stays_as_it_is(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean and clean_text(clean) == clean


def test_clean_text_keeps_chinese_punctuation_and_caps_length() -> None:
    assert clean_text("怎么办？！，。") == "怎么办？！，。"
    assert clean_text("字" * 50, max_chars=10) == "字" * 10


@pytest.mark.parametrize("value", ["2016-09-03T08:00:00", "yesterday", "", None, 5])
def test_stream_timestamps_need_an_offset(value: object) -> None:
    with pytest.raises(InputError, match="bad ts"):
        parse_ts(value)


def test_timestamp_with_offset_and_z() -> None:
    assert parse_ts("2016-09-03T08:00:00+08:00") == datetime(2016, 9, 3, tzinfo=UTC) + timedelta(hours=0)
    assert parse_ts("2016-09-03T00:00:00Z") == datetime(2016, 9, 3, tzinfo=UTC)


def test_post_is_pseudonymised_and_validated() -> None:
    post = post_from_obj({"id": "1", "text": "提现不到账", "ts": "2016-09-03T08:00:00+08:00",
                          "source": "Weibo", "author": "张三", "url": "u"}, OPTS)
    assert post.source is Source.WEIBO
    assert post.author.startswith("u_") and "张三" not in post.author
    assert post_from_obj({"id": "2", "text": "x", "ts": "2016-09-03T08:00:00+08:00", "author": "张三"},
                         OPTS).author == post.author


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ({"id": "1", "ts": "2016-09-03T08:00:00+08:00"}, "missing text"),
        ({"id": "1", "text": "  <br> ", "ts": "2016-09-03T08:00:00+08:00"}, "empty text"),
        ({"id": "1", "text": "x", "ts": "2016-09-03T08:00:00+08:00", "source": "tiktok"}, "bad source"),
        ({"id": "1", "text": "x"}, "missing ts"),
        ({"id": "1", "text": "x", "ts": "2061-09-03T08:00:00+08:00"}, "future ts"),
        (["not", "an", "object"], "not an object"),
    ],
)
def test_bad_records_raise_named_reasons(obj: object, reason: str) -> None:
    with pytest.raises(InputError) as info:
        post_from_obj(obj, OPTS)
    assert info.value.reason == reason


def test_missing_ts_allowed_when_not_a_stream() -> None:
    now = datetime(2020, 1, 1, tzinfo=UTC)
    post = post_from_obj({"text": "x"}, DecodeOptions(key=b"k", require_ts=False, now=now))
    assert post.ts == now
    assert post.id.startswith("h")  # content-derived id keeps redelivery idempotent


def test_every_bad_line_is_dead_lettered_with_file_line_and_reason() -> None:
    good = _line(id="ok", text="正常", ts="2016-09-03T08:00:00+08:00")
    data = b"\n".join([good, b"{broken", _line(id="x", ts="2016-09-03T08:00:00+08:00"), b"",
                       b"\xff\xfe\xfa", b"x" * 1_000_001, good])
    out = list(decode_jsonl(data, "in.jsonl", OPTS))
    posts = [o for o in out if isinstance(o, Post)]
    dead = [o for o in out if isinstance(o, DeadLetter)]
    assert len(posts) == 2
    assert [(d.origin, d.reason.split(":")[0]) for d in dead] == [
        ("in.jsonl:2", "bad json"), ("in.jsonl:3", "missing text"), ("in.jsonl:5", "bad encoding"),
        ("in.jsonl:6", "oversize"),
    ]
    assert dead[0].raw == "{broken"
    assert len(dead[3].raw.encode()) < 70_000 and dead[3].raw.endswith("]") and "1000001 bytes in all" in dead[3].raw


def test_gb18030_files_are_decoded() -> None:
    lines = [json.dumps({"id": str(i), "text": f"鑫盛贷提现困难{i}", "ts": "2016-09-03T08:00:00+08:00"},
                        ensure_ascii=False).encode("gb18030") for i in range(3)]
    out = list(decode_jsonl(b"\r\n".join(lines), "gbk.jsonl", OPTS))
    assert [o.text for o in out if isinstance(o, Post)] == [f"鑫盛贷提现困难{i}" for i in range(3)]


def test_utf8_lines_in_a_gbk_file_are_read_as_utf8() -> None:
    gbk = [json.dumps({"id": str(i), "text": f"鑫盛贷提现困难{i}", "ts": "2016-09-03T08:00:00+08:00"},
                      ensure_ascii=False).encode("gb18030") for i in range(3)]
    pasted = json.dumps({"id": "u", "text": "你好，提现到账了", "ts": "2016-09-03T08:00:00+08:00"},
                        ensure_ascii=False).encode("utf-8")
    out = list(decode_jsonl(b"\n".join([*gbk, pasted]), "mixed.jsonl", OPTS))
    expected = [*(f"鑫盛贷提现困难{i}" for i in range(3)), "你好，提现到账了"]
    assert [o.text for o in out if isinstance(o, Post)] == expected


def test_utf8_bom_is_accepted() -> None:
    out = list(decode_jsonl(b"\xef\xbb\xbf" + _line(id="1", text="好", ts="2016-09-03T08:00:00+08:00"), "f", OPTS))
    assert isinstance(out[0], Post)


def test_oversize_text_is_truncated_and_flagged() -> None:
    post = post_from_obj({"id": "1", "text": "长" * 50, "ts": "2016-09-03T08:00:00+08:00"},
                         DecodeOptions(key=b"k", max_text_chars=20))
    assert post.text == "长" * 20
    assert post.extra == {"truncated": True}
