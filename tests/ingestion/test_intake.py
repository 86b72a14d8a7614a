"""Complaint intake over HTTP, against the real embedded bus and the real Kafka broker (tansu)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.kafka_fixtures import Broker
from yujing.clock import ManualClock
from yujing.http import create_app
from yujing.ingestion.bus import DEAD_LETTERS, RAW_COMPLAINTS, RAW_POSTS, Bus, Message
from yujing.ingestion.intake import LazyBus, make_router, validate_form
from yujing.ingestion.kafka_bus import KafkaBus
from yujing.ingestion.kafka_settings import KafkaSettings
from yujing.ingestion.sqlite_bus import SqliteBus
from yujing.privacy import pseudonymise
from yujing.records import DeadLetter, Post, Source
from yujing.search.access import AccessStore
from yujing.search.api import access_path
from yujing.settings import Settings

KEY = b"intake-key"
NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def read_back(bus: Bus, topic: str, n: int, timeout_s: float = 20.0) -> list[Message]:
    consumer = bus.consumer([topic], f"reader-{topic}-{time.monotonic_ns()}")
    got: list[Message] = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(got) < n and time.monotonic() < deadline:
            got += consumer.poll(max_records=100, timeout_s=0.3)
        got += consumer.poll(max_records=100, timeout_s=0.1)  # nothing beyond n
    finally:
        consumer.close()
    return got


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[SqliteBus]:
    bus = SqliteBus(tmp_path / "bus.db", poll_interval_s=0.01)
    yield bus
    bus.close()


@pytest.fixture
def client(bus: SqliteBus) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(make_router(bus, KEY, ManualClock(NOW)))
    with TestClient(app) as client:
        yield client


def test_form_is_normalised_pseudonymised_and_produced(client: TestClient, bus: SqliteBus) -> None:
    form = {"text": "<p>ＡＢＣ理财  不能提现了，</p>大家去信访局", "ts": "2026-02-28T20:00:00+08:00",
            "author": "张三 13800000000", "url": "https://example.invalid/case/1", "extra": {"case": "XF-1"}}
    resp = client.post("/intake/complaints", json=form)
    assert resp.status_code == 202, resp.text
    receipt = resp.json()["receipt"]

    [msg] = read_back(bus, RAW_COMPLAINTS, 1)
    post = Post.from_dict(json.loads(msg.value))
    assert post.id == receipt and msg.key == receipt.encode()
    assert post.text == "ABC理财 不能提现了， 大家去信访局"
    assert post.author == pseudonymise("张三 13800000000", KEY)
    assert "张三" not in msg.value.decode() and "13800000000" not in msg.value.decode()
    assert post.source is Source.COMPLAINT
    assert post.ts == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert post.url == form["url"] and post.extra == {"case": "XF-1"}
    assert read_back(bus, RAW_POSTS, 0, timeout_s=0.1) == []


def test_defaults_ts_from_clock_and_same_form_same_receipt(client: TestClient, bus: SqliteBus) -> None:
    first = client.post("/intake/complaints", json={"text": "平台逾期三个月"})
    second = client.post("/intake/complaints", json={"text": "平台逾期三个月"})
    assert first.status_code == second.status_code == 202
    assert first.json()["receipt"] == second.json()["receipt"]
    posts = [Post.from_dict(json.loads(m.value)) for m in read_back(bus, RAW_COMPLAINTS, 2)]
    assert [p.ts for p in posts] == [NOW, NOW]
    assert posts[0].author == ""


def test_tip_line_source_goes_to_raw_posts(client: TestClient, bus: SqliteBus) -> None:
    resp = client.post("/intake/complaints", json={"text": "听说老板跑路了", "source": "forum"})
    assert resp.status_code == 202
    [msg] = read_back(bus, RAW_POSTS, 1)
    assert json.loads(msg.value)["id"] == resp.json()["receipt"]


@pytest.mark.parametrize(
    ("form", "field", "fix_has"),
    [
        ({"ts": "2026-02-28T20:00:00+08:00"}, "text", "non-empty string"),
        ({"text": "<br>  "}, "text", "visible character"),
        ({"text": "x", "ts": "2026-02-28T20:00:00"}, "ts", "UTC offset"),
        ({"text": "x", "ts": "yesterday"}, "ts", "ISO-8601"),
        ({"text": "x", "ts": "2061-09-03T08:00:00+08:00"}, "ts", "not in the future"),
        ({"text": "x", "source": "tiktok"}, "source", "complaint"),
        ({"text": "x", "author": 42}, "author", "string"),
        ({"text": "x", "extra": [1]}, "extra", "object"),
        ({"text": "x", "extra": {"case": "XF-1", "来访人": "张三"}}, "extra.来访人", "allowed keys are case"),
        ({"text": "x", "platfrom": "A"}, "platfrom", "allowed fields"),
        (["text"], "body", "object"),
    ],
)
def test_invalid_forms_are_422_naming_field_and_fix(
    client: TestClient, bus: SqliteBus, form: object, field: str, fix_has: str
) -> None:
    resp = client.post("/intake/complaints", json=form)
    assert resp.status_code == 422
    [detail] = resp.json()["detail"]
    assert detail["field"] == field
    assert fix_has in detail["fix"]
    assert read_back(bus, RAW_COMPLAINTS, 0, timeout_s=0.05) == []


def test_non_json_body_is_422(client: TestClient) -> None:
    resp = client.post("/intake/complaints", content=b"text=hello", headers={"content-type": "text/plain"})
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["field"] == "body"


def test_batch_produces_good_lines_and_dead_letters_bad_ones(client: TestClient, bus: SqliteBus) -> None:
    lines = [
        json.dumps({"text": "无法提现", "ts": "2026-02-28T10:00:00+08:00", "author": "李四"}, ensure_ascii=False),
        "{not json",
        "",
        json.dumps({"text": "明天上午去金融办门口", "author": "王五"}, ensure_ascii=False),
        json.dumps({"text": "x", "ts": "2026-02-28", "author": "赵六 13800000000"}, ensure_ascii=False),
    ]
    resp = client.post("/intake/complaints:batch", content="\n".join(lines).encode(),
                       headers={"content-type": "application/x-ndjson"})
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["accepted"] == 2
    assert [(r["line"], r["field"]) for r in body["rejected"]] == [(2, "body"), (5, "ts")]

    posts = [Post.from_dict(json.loads(m.value)) for m in read_back(bus, RAW_COMPLAINTS, 2)]
    assert [p.id for p in posts] == body["receipts"]
    assert [p.author for p in posts] == [pseudonymise("李四", KEY), pseudonymise("王五", KEY)]
    letters = [DeadLetter.from_dict(json.loads(m.value)) for m in read_back(bus, DEAD_LETTERS, 2)]
    assert [d.origin for d in letters] == ["intake:batch:2", "intake:batch:5"]
    assert letters[0].raw == "{not json" and "UTC offset" in letters[1].reason
    # the rejected line is kept to be fixed and re-sent, with its author pseudonymised
    redacted = {"text": "x", "ts": "2026-02-28", "author": pseudonymise("赵六 13800000000", KEY)}
    assert json.loads(letters[1].raw) == redacted
    assert [d.reason.split(":")[0] for d in letters] == ["intake body", "intake ts"]


def test_empty_batch_is_422(client: TestClient) -> None:
    resp = client.post("/intake/complaints:batch", content=b"\n\n")
    assert resp.status_code == 422


def test_validate_form_is_pure_and_keeps_extra() -> None:
    post = validate_form({"text": "a", "extra": {"office": "12345"}}, KEY, ManualClock(NOW))
    assert post.ts == NOW and post.extra == {"office": "12345"} and post.source is Source.COMPLAINT


def test_create_app_wires_intake_to_settings_bus(yujing_env: Path) -> None:
    settings = Settings()
    access = AccessStore(access_path(settings))
    _, intake = access.create_token("hotline-export", "intake", NOW)
    _, analyst = access.create_token("analyst-1", "analyst", NOW)
    access.close()
    form = {"text": "投资款拿不回来", "author": "赵六"}
    with TestClient(create_app(settings)) as client:
        assert client.post("/intake/complaints", json=form).status_code == 401
        refused = client.post("/intake/complaints", json=form, headers={"Authorization": f"Bearer {analyst}"})
        assert refused.status_code == 403 and "intake" in refused.json()["detail"]
        as_intake = {"Authorization": f"Bearer {intake}"}
        assert client.get("/search/posts", params={"q": "提现"}, headers=as_intake).status_code == 403
        assert client.get("/api/alerts", headers=as_intake).status_code == 403
        assert client.get("/situation.json", headers=as_intake).status_code == 403
        resp = client.post("/intake/complaints", json=form, headers=as_intake)
        assert resp.status_code == 202
        paths = client.get("/openapi.json").json()["paths"]
        assert {"/intake/complaints", "/intake/complaints:batch"} <= set(paths)
    bus = SqliteBus(Path(settings.bus_url.removeprefix("sqlite:///")))
    try:
        [msg] = read_back(bus, RAW_COMPLAINTS, 1)
    finally:
        bus.close()
    post = Post.from_dict(json.loads(msg.value))
    assert post.id == resp.json()["receipt"]
    assert post.author == pseudonymise("赵六", settings.key)


class ClosingSqliteBus(SqliteBus):
    closed = 0

    def close(self) -> None:
        ClosingSqliteBus.closed += 1
        super().close()


def test_lazy_bus_opens_on_first_produce_and_closes_on_shutdown(tmp_path: Path) -> None:
    opened: list[SqliteBus] = []

    def opener() -> SqliteBus:
        opened.append(ClosingSqliteBus(tmp_path / "lazy.db"))
        return opened[-1]

    ClosingSqliteBus.closed = 0
    app = FastAPI()
    app.include_router(make_router(LazyBus(opener), KEY))
    with TestClient(app) as client:
        assert opened == []
        assert client.post("/intake/complaints", json={"text": "a"}).status_code == 202
        assert client.post("/intake/complaints", json={"text": "b"}).status_code == 202
        assert len(opened) == 1 and ClosingSqliteBus.closed == 0
    assert ClosingSqliteBus.closed == 1
    reopened = SqliteBus(tmp_path / "lazy.db")
    try:
        assert len(read_back(reopened, RAW_COMPLAINTS, 2)) == 2
    finally:
        reopened.close()


@pytest.mark.integration
def test_complaint_lands_on_kafka_raw_complaints(kafka_broker: Broker, kafka_settings: KafkaSettings) -> None:
    bus = KafkaBus.from_url(kafka_broker.url, kafka_settings)
    try:
        app = FastAPI()
        app.include_router(make_router(bus, KEY, ManualClock(NOW)))
        with TestClient(app) as client:
            resp = client.post("/intake/complaints", json={"text": "12345热线：平台暴雷", "author": "孙七"})
        assert resp.status_code == 202
        [msg] = read_back(bus, RAW_COMPLAINTS, 1)
        post = Post.from_dict(json.loads(msg.value))
        assert post.id == resp.json()["receipt"] and msg.key == post.id.encode()
        assert post.author == pseudonymise("孙七", KEY) and post.ts == NOW
    finally:
        bus.close()


def test_bus_that_cannot_open_is_503(tmp_path: Path) -> None:
    app = FastAPI()
    app.include_router(make_router(LazyBus(lambda: SqliteBus(tmp_path)), KEY))  # a directory: sqlite fails
    with TestClient(app) as client:
        resp = client.post("/intake/complaints", json={"text": "a"})
    assert resp.status_code == 503
    assert "cannot open embedded bus" in resp.json()["detail"] and "retry" in resp.json()["detail"]
