"""Pseudonymisation reaches every place a raw author could hide: the id, the link, the dead letter."""

from __future__ import annotations

import hashlib
import json

from yujing.ingestion.decode import DecodeOptions, decode_jsonl, post_from_obj
from yujing.privacy import is_pseudonym, pseudonymise, redact_line, scrub_url
from yujing.records import DeadLetter

KEY = b"k1"


def test_blank_authors_have_no_pseudonym_and_names_are_trimmed() -> None:
    assert pseudonymise("   ", KEY) == "" and pseudonymise("", KEY) == ""
    assert pseudonymise(" 张三 ", KEY) == pseudonymise("张三", KEY) != pseudonymise("张三", b"k2")
    assert is_pseudonym(pseudonymise("张三", KEY)) and not is_pseudonym("张三") and not is_pseudonym("u_12")


def test_scrub_url_replaces_the_raw_author_as_written_and_percent_encoded() -> None:
    p = pseudonymise("1234567890", KEY)
    assert scrub_url("https://weibo.example/1234567890/AbCd", "1234567890", KEY) == f"https://weibo.example/{p}/AbCd"
    q = pseudonymise("张三", KEY)
    assert scrub_url("https://bbs.example/u/%E5%BC%A0%E4%B8%89?x=1", "张三", KEY) == f"https://bbs.example/u/{q}?x=1"
    assert scrub_url("https://bbs.example/t/1", "", KEY) == "https://bbs.example/t/1"


def test_redact_line_pseudonymises_json_and_text_that_is_not_json() -> None:
    line = json.dumps({"text": "x", "author": "张三", "url": "https://w.example/张三/1"}, ensure_ascii=False)
    out = json.loads(redact_line(line, KEY))
    p = pseudonymise("张三", KEY)
    assert out == {"text": "x", "author": p, "url": f"https://w.example/{p}/1"}
    broken = '{"text": "x", "author": "张三 138", "ts": '
    assert "张三" not in redact_line(broken, KEY) and pseudonymise("张三 138", KEY) in redact_line(broken, KEY)
    assert "12345" not in redact_line('{"author": 12345, "text": oops}', KEY)
    assert redact_line("{not json", KEY) == "{not json"


def test_a_derived_post_id_is_keyed_and_the_link_loses_the_uid() -> None:
    obj = {"text": "平台逾期三个月", "ts": "2016-09-01T08:00:00+08:00", "source": "weibo", "author": "1234567890",
           "url": "https://weibo.example/1234567890/AbCd"}
    post = post_from_obj(obj, DecodeOptions(key=KEY))
    other = post_from_obj(obj, DecodeOptions(key=b"k2"))
    assert post.id.startswith("h") and post.id != other.id  # without the key nobody can recompute it
    unkeyed = json.dumps([obj["text"], obj["ts"], obj["source"], obj["author"]], ensure_ascii=False)
    assert post.id != "h" + hashlib.sha1(unkeyed.encode()).hexdigest()[:16]
    assert post_from_obj(obj, DecodeOptions(key=KEY)).id == post.id  # redelivery stays idempotent
    assert "1234567890" not in json.dumps(post.to_dict())


def test_a_dead_letter_keeps_the_line_but_not_the_author() -> None:
    data = '{"text": "无法提现", "ts": "2016-09-01", "author": "李四 13900000000"}\n'.encode()
    [letter] = list(decode_jsonl(data, "in.jsonl", DecodeOptions(key=KEY)))
    assert isinstance(letter, DeadLetter) and "李四" not in letter.raw and "13900000000" not in letter.raw
    fixed = json.loads(letter.raw)
    assert fixed["author"] == pseudonymise("李四 13900000000", KEY) and fixed["text"] == "无法提现"
    fixed["ts"] = "2016-09-01T08:00:00+08:00"  # the fix; re-ingested, the author keeps its pseudonym
    assert post_from_obj(fixed, DecodeOptions(key=KEY)).author == pseudonymise("李四 13900000000", KEY)


def test_a_raw_topic_record_with_a_raw_author_or_no_value_is_handled_by_the_scorer() -> None:
    """A crawler producing straight to the raw topic skips `yujing ingest`: the scorer pseudonymises its
    author and link; a record with no value is dead-lettered instead of crashing the stage."""
    from yujing.ingestion.bus import RAW_POSTS, Message
    from yujing.pipeline import decode_pairs, ensure_pseudonymous
    from yujing.records import Post

    post = Post.from_dict({"id": "c1", "text": "x", "ts": "2016-09-01T08:00:00+08:00", "source": "weibo",
                           "author": "1234567890", "url": "https://weibo.example/1234567890/AbCd"})
    safe = ensure_pseudonymous(post, KEY)
    assert safe.author == pseudonymise("1234567890", KEY) and "1234567890" not in safe.url
    assert ensure_pseudonymous(safe, KEY) == safe  # already pseudonymous: unchanged
    tombstone = Message(RAW_POSTS, 0, 7, b"k", None)  # type: ignore[arg-type]
    ok, dead = decode_pairs([tombstone], Post.from_dict, "score")
    assert ok == [] and [d.reason for d in dead] == [f"undecodable {RAW_POSTS} record: no value (null)"]
