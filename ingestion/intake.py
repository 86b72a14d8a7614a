"""HTTP intake for complaint forms (信访 / 12345 hotline exports, tip-line reports).

``POST /intake/complaints`` takes one JSON form, ``POST /intake/complaints:batch`` JSON Lines.
A form goes through the same normalisation as file decoding (``post_from_obj``: markup stripped,
full-width alphanumerics folded, author pseudonymised before anything is stored) and is produced
to the bus with ``produce_posts`` (complaints land on ``raw.complaints``).

Receipt id: the post id, a content hash of text, ts, source and author (``decode._post_id``), so
resubmitting the same form gives the same receipt and redelivery stays idempotent downstream.
A form without ``ts`` is stamped with the clock's now (so two such forms differ by time).

The validation (``validate_form``) is pure; the router only reads bodies and talks to the bus.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from yujing.clock import Clock, SystemClock
from yujing.errors import BusError, InputError
from yujing.ingestion.bus import Bus, Consumer, Message, OutRecord
from yujing.ingestion.decode import EXTRA_KEYS, DecodeOptions, decode_bytes, detect_encoding, post_from_obj
from yujing.pipeline import produce_dead_letters, produce_posts
from yujing.privacy import redact_line
from yujing.records import DeadLetter, Post, Source

MAX_FORM_BYTES = 1_000_000
MAX_BATCH_BYTES = 50_000_000
FIELDS = ("text", "ts", "author", "source", "url", "extra")
_SOURCES = ", ".join(s.value for s in Source)
# post_from_obj's machine-stable reasons -> (field, fix)
_REASON_FIELD: dict[str, tuple[str, str]] = {
    "missing text": ("text", "send the complaint text as a non-empty string"),
    "empty text": ("text", "send text with at least one visible character (markup is removed)"),
    "bad ts": ("ts", "use ISO-8601 with a UTC offset, e.g. 2016-09-03T08:15:00+08:00, or omit ts"),
    "missing ts": ("ts", "use ISO-8601 with a UTC offset, e.g. 2016-09-03T08:15:00+08:00, or omit ts"),
    "future ts": ("ts", "send the time the complaint was made (not in the future), or omit ts"),
    "bad source": ("source", f"use one of {_SOURCES} (default complaint)"),
}


class ComplaintForm(BaseModel):
    """The form as documented in OpenAPI (validation itself is ``validate_form``)."""

    text: str = Field(description="the complaint text (required; markup is removed)")
    ts: str | None = Field(None, description="ISO-8601 with offset; default: time of receipt")
    author: str | None = Field(None, description="submitter; pseudonymised before storage")
    source: str = Field("complaint", description=f"one of {_SOURCES}")
    url: str = ""
    extra: dict[str, Any] = Field(default_factory=dict,
                                  description=f"case metadata, keys among {', '.join(EXTRA_KEYS)}; no personal data")


@dataclass(frozen=True, slots=True)
class FormError(Exception):
    """A form that cannot be accepted: which field, what is wrong, how to fix it."""

    field: str
    error: str
    fix: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "error": self.error, "fix": self.fix}

    def __str__(self) -> str:
        return f"{self.field}: {self.error}; {self.fix}"

    def reason(self) -> str:
        """Dead-letter reason; its prefix (a metrics label) names a known field only, never user input."""
        label = self.field if self.field in (*FIELDS, "body", "line") else "unknown field"
        return f"intake {label}: {self.field}: {self.error}; {self.fix}"


def validate_form(obj: Any, key: bytes, now: Clock) -> Post:
    """One decoded JSON form -> a normalised Post (author pseudonymised). Raises FormError."""
    if not isinstance(obj, dict):
        raise FormError("body", f"expected a JSON object, got {type(obj).__name__}",
                        "send one object such as {\"text\": \"...\"}")
    unknown = sorted(set(obj) - set(FIELDS))
    if unknown:
        raise FormError(unknown[0], "unknown field", f"remove it; allowed fields are {', '.join(FIELDS)}")
    for name in ("author", "url", "ts", "source"):
        if obj.get(name) is not None and not isinstance(obj[name], str):
            raise FormError(name, f"must be a string, got {type(obj[name]).__name__}", f"send {name} as a string")
    extra = obj.get("extra")
    if extra is not None and not isinstance(extra, dict):
        raise FormError("extra", f"must be an object, got {type(extra).__name__}", "send extra as a JSON object")
    unknown_extra = sorted(set(extra or {}) - set(EXTRA_KEYS))
    if unknown_extra:
        raise FormError(f"extra.{unknown_extra[0]}", "unknown metadata key",
                        f"remove it (personal data such as a caller's name or phone belongs in author, which is "
                        f"pseudonymised); allowed keys are {', '.join(EXTRA_KEYS)}")
    form = dict(obj)
    form["source"] = form.get("source") or Source.COMPLAINT.value
    if form.get("ts") in (None, ""):
        form["ts"] = now.now().isoformat()
    form.pop("extra", None)
    try:
        post = post_from_obj(form, DecodeOptions(key=key))
    except InputError as exc:
        field_name, fix = _REASON_FIELD.get(exc.reason, ("body", "check the form against /docs"))
        raise FormError(field_name, str(exc), fix) from None
    if extra:
        post = dataclasses.replace(post, extra={**extra, **post.extra})
    return post


def _validate_json(raw: bytes, key: bytes, clock: Clock) -> Post:
    try:
        obj = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormError("body", f"not JSON: {exc}", "send a JSON object with Content-Type application/json") from None
    return validate_form(obj, key, clock)


@dataclass(frozen=True, slots=True)
class BatchResult:
    posts: list[Post]
    rejected: list[tuple[int, FormError, str]]  # (line number, error, raw line)


def validate_batch(data: bytes, key: bytes, clock: Clock) -> BatchResult:
    """JSON Lines -> posts and rejected lines (1-based numbers; blank lines skipped)."""
    lines = data.split(b"\n")
    if lines and lines[0].startswith(b"\xef\xbb\xbf"):
        lines[0] = lines[0][3:]
    encoding = detect_encoding(lines)
    posts: list[Post] = []
    rejected: list[tuple[int, FormError, str]] = []
    for number, raw in enumerate(lines, start=1):
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue
        try:
            text = decode_bytes(raw, encoding)
        except InputError as exc:
            err = FormError("line", exc.detail.split("; ")[0], "re-save the file as UTF-8")
            rejected.append((number, err, raw.decode("utf-8", errors="backslashreplace")))
            continue
        try:
            posts.append(_validate_json(text.encode(), key, clock))
        except FormError as err:
            rejected.append((number, err, text))
    return BatchResult(posts, rejected)


class LazyBus:
    """A bus opened on first produce (so the API starts without a reachable broker)."""

    def __init__(self, opener: Callable[[], Bus]) -> None:
        self._opener = opener
        self._bus: Bus | None = None
        self._lock = threading.Lock()

    def _get(self) -> Bus:
        with self._lock:
            if self._bus is None:
                self._bus = self._opener()
            return self._bus

    def produce(self, topic: str, records: Sequence[OutRecord]) -> None:
        self._get().produce(topic, records)

    def consumer(self, topics: Sequence[str], group: str) -> Consumer:
        return self._get().consumer(topics, group)

    def read_all(self, topic: str) -> list[Message]:
        return self._get().read_all(topic)

    def close(self) -> None:
        with self._lock:
            if self._bus is not None:
                self._bus.close()
                self._bus = None


def _unprocessable(errors: Sequence[FormError]) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": [e.to_dict() for e in errors]})


def _unavailable(exc: BusError) -> JSONResponse:
    return JSONResponse(status_code=503, content={"detail": f"{exc}; the bus is unavailable, retry later"})


async def _body(request: Request, limit: int) -> bytes | JSONResponse:
    data = await request.body()
    if len(data) > limit:
        return JSONResponse(status_code=413, content={"detail": f"body is {len(data)} bytes; the limit is {limit}"})
    return data


def make_router(
    bus: Bus,
    key: bytes,
    clock: Clock | None = None,
    *,
    close_on_shutdown: bool | None = None,
    authorize: Callable[..., Any] | None = None,
) -> APIRouter:
    """The intake router. ``close_on_shutdown`` closes ``bus`` when the app stops; by default only a
    ``LazyBus`` (which the router's requests opened) is closed, a bus handed in stays the caller's.
    ``authorize``: a FastAPI dependency every request must pass (the app passes the token check,
    :func:`yujing.search.api.intake_writer`); None leaves the router open, for embedding behind
    another gate."""
    clock = clock or SystemClock()
    if close_on_shutdown is None:
        close_on_shutdown = isinstance(bus, LazyBus)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if close_on_shutdown:
                await run_in_threadpool(bus.close)

    deps = [Depends(authorize)] if authorize else []
    router = APIRouter(prefix="/intake", tags=["intake"], lifespan=lifespan, dependencies=deps)
    schema = {"requestBody": {"required": True, "content": {
        "application/json": {"schema": ComplaintForm.model_json_schema()}}}}

    @router.post("/complaints", status_code=202, openapi_extra=schema)
    async def post_complaint(request: Request) -> Any:
        """One complaint form; 202 with the receipt id, 422 naming the field and the fix."""
        data = await _body(request, MAX_FORM_BYTES)
        if isinstance(data, JSONResponse):
            return data
        try:
            post = _validate_json(data, key, clock)
        except FormError as err:
            return _unprocessable([err])
        try:
            await run_in_threadpool(produce_posts, bus, [post])
        except BusError as exc:
            return _unavailable(exc)
        return JSONResponse(status_code=202, content={"receipt": post.id, "ts": post.to_dict()["ts"]})

    batch_schema = {"requestBody": {"required": True, "content": {
        "application/x-ndjson": {"schema": {"type": "string", "description": "one complaint form per line"}}}}}

    @router.post("/complaints:batch", status_code=202, openapi_extra=batch_schema)
    async def post_batch(request: Request) -> Any:
        """JSON Lines of forms; good lines are produced, bad ones dead-lettered and listed by line."""
        data = await _body(request, MAX_BATCH_BYTES)
        if isinstance(data, JSONResponse):
            return data
        result = validate_batch(data, key, clock)
        if not result.posts and not result.rejected:
            return _unprocessable([FormError("body", "no forms", "send one JSON object per line")])
        letters = [DeadLetter(origin=f"intake:batch:{n}", reason=err.reason(), raw=redact_line(raw, key))
                   for n, err, raw in result.rejected]
        try:
            await run_in_threadpool(produce_posts, bus, result.posts)
            await run_in_threadpool(produce_dead_letters, bus, letters)
        except BusError as exc:
            return _unavailable(exc)
        return JSONResponse(status_code=202, content={
            "accepted": len(result.posts),
            "receipts": [p.id for p in result.posts],
            "rejected": [{"line": n, **err.to_dict()} for n, err, _ in result.rejected],
        })

    return router
