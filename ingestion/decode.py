"""Decoding JSON Lines input into Posts: encodings, cleaning, validation, dead letters.

Pure apart from reading bytes handed in. Every line becomes exactly one ``Post`` or one
``DeadLetter`` naming ``file:line`` and the reason, so nothing is lost and nothing crashes a run.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from yujing.errors import InputError
from yujing.privacy import pseudonymise, redact_line, scrub_url
from yujing.records import DeadLetter, Post, Source

MAX_LINE_BYTES = 1_000_000
DEAD_LETTER_BYTES = 64_000
DEFAULT_MAX_TEXT_CHARS = 2000
_SOURCES = ", ".join(s.value for s in Source)

# markup: a script or style element whole, or a tag, a closing tag, a comment or a doctype; a "<" not followed by
# a letter, "/" or "!" is text (收益<5%，亏损>3%, <转>)
_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<[a-zA-Z/!][^<>]{0,500}>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"[ \t\r\f\v\u3000\u00a0]+")
# Full-width ASCII letters, digits and signs (U+FF01..U+FF5E) map to ASCII; Chinese punctuation
# such as ，。！？ is kept as people wrote it, because it carries tone the classifier uses.
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF1A)}
_FULLWIDTH.update({cp: cp - 0xFEE0 for cp in range(0xFF21, 0xFF3B)})
_FULLWIDTH.update({cp: cp - 0xFEE0 for cp in range(0xFF41, 0xFF5B)})
_FULLWIDTH.update({0xFF20: ord("@"), 0xFF03: ord("#"), 0xFF05: ord("%"), 0xFF06: ord("&")})


def clean_text(text: str, max_chars: int = DEFAULT_MAX_TEXT_CHARS) -> str:
    """Unescape entities, strip HTML, normalise full-width alphanumerics and spaces, cap length. Cleaning clean
    text changes nothing (the scorer checks records again that ``yujing ingest`` has already cleaned), except for
    entities escaped twice in the source (``&amp;lt;``)."""
    text = _TAG.sub(" ", html.unescape(text))
    text = text.translate(_FULLWIDTH)
    text = _SPACE.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n") if line.strip())
    return text[:max_chars]


def parse_ts(value: Any, *, require_offset: bool = True) -> datetime:
    """ISO-8601 with a UTC offset. A missing offset is an error, never silently UTC."""
    if not isinstance(value, str) or not value.strip():
        raise InputError("bad ts", f"expected an ISO-8601 string, got {value!r}")
    try:
        ts = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError("bad ts", f"{value!r} is not ISO-8601 (e.g. 2016-09-03T08:15:00+08:00)") from None
    if ts.tzinfo is None:
        if require_offset:
            raise InputError("bad ts", f"{value!r} has no UTC offset; add one, e.g. +08:00")
        ts = ts.replace(tzinfo=UTC)
    return ts


def _source(value: Any) -> Source:
    if value is None or value == "":
        return Source.OTHER
    try:
        return Source(str(value).strip().lower())
    except ValueError:
        raise InputError("bad source", f"{value!r} is not one of {_SOURCES}") from None


def _post_id(obj: Mapping[str, Any], text: str, author: str, key: bytes) -> str:
    raw = obj.get("id")
    if raw is not None and str(raw).strip():
        return str(raw).strip()
    # No id: derive one from the content so redelivery stays idempotent. Keyed, and over the pseudonym: an
    # unkeyed hash of the raw author would let anyone holding a post test guesses of who wrote it.
    basis = json.dumps([text, obj.get("ts"), obj.get("source"), author], ensure_ascii=False)
    return "h" + hmac.new(key, basis.encode(), hashlib.sha256).hexdigest()[:16]


FUTURE_TOLERANCE = timedelta(days=1)  # clock skew and time zones; a later ts is a wrong one


@dataclass(frozen=True, slots=True)
class DecodeOptions:
    key: bytes
    require_ts: bool = True
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    now: datetime | None = None  # ts for inputs without one when require_ts is False


def post_from_obj(obj: Any, opts: DecodeOptions) -> Post:
    """Validate one decoded JSON object into a Post (author pseudonymised). Raises InputError."""
    if not isinstance(obj, dict):
        raise InputError("not an object", f"expected a JSON object per line, got {type(obj).__name__}")
    raw_text = obj.get("text")
    if not isinstance(raw_text, str):
        raise InputError("missing text", "field 'text' is required and must be a string")
    cleaned = clean_text(raw_text, opts.max_text_chars + 1)
    text = cleaned[: opts.max_text_chars]
    if not text:
        raise InputError("empty text", "field 'text' is empty after removing markup and spaces")
    if "ts" in obj and obj["ts"] not in (None, ""):
        ts = parse_ts(obj["ts"], require_offset=opts.require_ts)
        if ts > datetime.now(UTC) + FUTURE_TOLERANCE:
            # event time only moves forward: one post from 2061 would make every real post "late" and resolve
            # every open incident, and the checkpoint would keep it so
            raise InputError("future ts", f"{obj['ts']!r} is more than {FUTURE_TOLERANCE.days} day ahead of this "
                             "machine's clock; fix the timestamp (or the clock)")
    elif opts.require_ts:
        raise InputError("missing ts", "field 'ts' is required for streams (ISO-8601 with offset)")
    else:
        ts = opts.now or datetime.now(UTC)
    extra = {"truncated": True} if len(cleaned) > opts.max_text_chars else {}
    raw_author = str(obj.get("author") or "")
    author = pseudonymise(raw_author, opts.key)
    return Post(
        id=_post_id(obj, text, author, opts.key),
        text=text,
        ts=ts,
        source=_source(obj.get("source")),
        author=author,
        url=scrub_url(str(obj.get("url") or ""), raw_author, opts.key),  # a Weibo link holds the author's uid
        extra=extra,
    )


# Metadata a post may carry besides the decoder's own ``truncated`` flag: what a complaint form may send (the
# case's office, district, ...). Anything else (a caller's name or phone number) would be stored unpseudonymised.
EXTRA_KEYS = ("case", "office", "district", "channel", "category", "platform")


def raw_record_post(obj: Any, opts: DecodeOptions) -> Post:
    """A record on a raw topic -> a Post, checked as a line of ``yujing ingest`` is. Yujing's own producers
    (``yujing ingest``, the intake endpoint) write records that come out unchanged; a crawler that writes to the
    topic itself gets its text cleaned and capped, its author and link pseudonymised, its timestamp checked and
    its metadata limited to :data:`EXTRA_KEYS`. Raises InputError naming the field."""
    if not isinstance(obj, dict):
        raise InputError("not an object", f"expected a JSON object per record, got {type(obj).__name__}")
    extra = obj.get("extra") or {}
    if not isinstance(extra, dict):
        raise InputError("bad extra", f"field 'extra' must be an object, got {type(extra).__name__}")
    unknown = sorted(set(extra) - {*EXTRA_KEYS, "truncated"})
    if unknown:
        raise InputError("unknown extra", f"extra.{unknown[0]} is not accepted (personal data belongs in "
                         f"'author', which is pseudonymised); allowed keys are {', '.join(EXTRA_KEYS)}")
    post = post_from_obj({k: v for k, v in obj.items() if k != "extra"}, opts)
    kept = {k: v for k, v in extra.items() if k != "truncated"}
    if extra.get("truncated") is True:
        kept["truncated"] = True
    return replace(post, extra={**kept, **post.extra}) if kept else post


def _lossy(raw: bytes) -> str:
    """The line as a dead letter keeps it: at most ``DEAD_LETTER_BYTES`` of it (a dead letter is one bus record,
    and Kafka's default record limit is 1 MiB), with the full length and a digest when cut."""
    if len(raw) <= DEAD_LETTER_BYTES:
        return raw.decode("utf-8", errors="backslashreplace")
    head = raw[:DEAD_LETTER_BYTES].decode("utf-8", errors="ignore")
    return f"{head}…[cut: {len(raw)} bytes in all, sha256 {hashlib.sha256(raw).hexdigest()[:16]}]"


def detect_encoding(lines: Iterable[bytes], sample: int = 2000) -> str:
    """'utf-8' unless most lines with non-ASCII bytes fail UTF-8 (then 'gb18030', which covers GBK)."""
    good = bad = 0
    for raw in lines:
        if raw.isascii():
            continue
        try:
            raw.decode("utf-8")
            good += 1
        except UnicodeDecodeError:
            bad += 1
        if good + bad >= sample:
            break
    return "gb18030" if bad > good else "utf-8"


def decode_bytes(raw: bytes, encoding: str) -> str:
    """One line: UTF-8 if it is valid UTF-8, else the file's detected ``encoding``. Per line, because a mostly
    GBK file may hold UTF-8 lines (pasted from elsewhere), which GB18030 would turn into mojibake."""
    error: UnicodeDecodeError | None = None
    for name in dict.fromkeys(("utf-8", encoding)):
        try:
            return raw.decode(name)
        except UnicodeDecodeError as exc:
            error = error or exc
    assert error is not None
    raise InputError("bad encoding", f"not valid UTF-8 (nor {encoding}) at byte {error.start}; re-save as UTF-8")


def decode_line(raw: bytes, encoding: str, opts: DecodeOptions) -> Post:
    if len(raw) > MAX_LINE_BYTES:
        raise InputError("oversize", f"line is {len(raw)} bytes; the limit is {MAX_LINE_BYTES}")
    line = decode_bytes(raw, encoding)
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError("bad json", f"{exc.msg} at column {exc.colno}") from None
    return post_from_obj(obj, opts)


def decode_jsonl(data: bytes, origin: str, opts: DecodeOptions) -> Iterator[Post | DeadLetter]:
    """Decode a whole JSON Lines payload; yields a Post or a DeadLetter for every non-blank line."""
    lines = data.split(b"\n")
    if lines and lines[0].startswith(b"\xef\xbb\xbf"):
        lines[0] = lines[0][3:]
    encoding = detect_encoding(lines)
    for number, raw in enumerate(lines, start=1):
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue
        try:
            yield decode_line(raw, encoding, opts)
        except InputError as exc:  # the line is kept to be fixed and re-ingested, its author pseudonymised
            yield DeadLetter(origin=f"{origin}:{number}", reason=str(exc), raw=redact_line(_lossy(raw), opts.key))
