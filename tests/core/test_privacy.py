"""Pseudonymisation reaches every place a raw author could hide: the id, the link, the dead letter."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

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


def test_a_raw_topic_record_is_checked_as_an_ingested_line_is(tmp_path: Path) -> None:
    """A crawler producing straight to the raw topic skips `yujing ingest`: the scorer pseudonymises its author
    and link, cleans and caps its text, and dead-letters (author pseudonymised) what ingest would refuse: a
    record with no value, no text, a timestamp in the future or personal data in its metadata. Records Yujing's
    own producers wrote come out unchanged."""
    from yujing.ingestion.bus import DEAD_LETTERS, RAW_POSTS, SCORED_POSTS, Message
    from yujing.ingestion.sqlite_bus import SqliteBus
    from yujing.models.attribution import PlatformMatcher
    from yujing.models.lexicon import LexiconScorer
    from yujing.pipeline import ScoreStage
    from yujing.records import ScoredPost
    from yujing.registry import Platform, Registry

    ingested = post_from_obj({"id": "i1", "text": "听说要暂停兑付了 &lt;转&gt;", "ts": "2016-09-01T08:00:00+08:00",
                              "author": "someone"}, DecodeOptions(key=KEY, max_text_chars=40))
    ingested = dataclasses.replace(ingested, extra={"case": "A-1", "truncated": True})
    ts = "2016-09-01T08:00:00+08:00"
    records = [
        ingested.to_dict(),
        {"text": "<p>鑫盛贷　今天　提不了现</p>" + "啊" * 60, "ts": ts, "source": "weibo", "author": "1234567890",
         "url": "https://weibo.example/1234567890/AbCd", "extra": {"district": "城东区"}},
        {"id": "c3", "text": ["not", "a", "string"], "ts": ts, "author": "张三"},
        {"id": "c4", "text": "明天集合", "ts": "2061-01-01T00:00:00+08:00", "author": "张三"},
        {"id": "c5", "text": "明天集合", "ts": ts, "author": "张三", "extra": {"phone": "13900000000"}},
        None,
    ]
    batch = [Message(RAW_POSTS, 0, i, None, None if r is None else json.dumps(r, ensure_ascii=False).encode())
             for i, r in enumerate(records)]  # type: ignore[arg-type]
    bus = SqliteBus(tmp_path / "bus.db")
    registry = Registry((Platform("鑫盛贷", ("鑫盛",), "p2p", "城东区", "troubled"),))
    ScoreStage(bus, LexiconScorer(), PlatformMatcher(registry), KEY, max_text_chars=40).handle(batch)
    scored = [ScoredPost.from_dict(json.loads(m.value)) for m in bus.read_all(SCORED_POSTS)]
    assert scored[0].post == ingested  # Yujing's own record: unchanged
    crawled = scored[1].post
    assert crawled.author == pseudonymise("1234567890", KEY) and "1234567890" not in crawled.url
    assert crawled.text == "鑫盛贷 今天 提不了现 " + "啊" * 28 and len(crawled.text) == 40
    assert crawled.extra == {"district": "城东区", "truncated": True} and crawled.id.startswith("h")
    assert scored[1].platforms == ("鑫盛贷",)
    dead = [DeadLetter.from_dict(json.loads(m.value)) for m in bus.read_all(DEAD_LETTERS)]
    assert [d.origin for d in dead] == [f"{RAW_POSTS}/0@{i}" for i in (2, 3, 4, 5)]
    reasons = [d.reason for d in dead]
    assert "missing text" in reasons[0] and "future ts" in reasons[1] and "extra.phone" in reasons[2]
    assert reasons[3] == f"undecodable {RAW_POSTS} record: no value (null)"
    assert not any("张三" in d.raw for d in dead) and pseudonymise("张三", KEY) in dead[0].raw
