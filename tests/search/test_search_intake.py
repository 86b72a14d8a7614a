"""Backpressure and outages: a real osmem-server stopped and restarted, and a real loopback HTTP
server answering 429. Nothing submitted is lost; intake pauses and drains when the store is back."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from osmem_server import OsmemServer

from tests.search.search_corpus import T0, posts
from tests.search.search_servers import FLAVOURS, stop_osmem
from yujing.clock import ManualClock
from yujing.errors import BackpressureError, StoreError
from yujing.search.intake import Intake, pause_for
from yujing.search.open import open_store, server_options
from yujing.search.server_store import ServerStore
from yujing.search.store import SearchQuery

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_pause_for() -> None:
    assert pause_for(BackpressureError("x", retry_after=7), 1) == 7
    assert [pause_for(StoreError("x", retryable=True), n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert pause_for(StoreError("x", retryable=True), 30) == 60


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_outage_pauses_intake_and_drains_when_back(flavour: str) -> None:
    addr = f"127.0.0.1:{_free_port()}"
    server = OsmemServer.start(addr=addr)
    store = open_store(FLAVOURS[flavour].format(host=addr) + "&timeout=15")
    assert isinstance(store, ServerStore)
    intake, clock = Intake(store), ManualClock(T0)
    batch = posts()
    intake.submit_posts(batch[:6])
    assert intake.drain(clock.now()).written == 6
    stop_osmem(server)

    intake.submit_posts(batch[6:])
    report = intake.drain(clock.now())
    assert (report.written, report.pending) == (0, 6)
    assert report.paused_until is not None and intake.paused(clock.now())
    assert "unreachable" in report.error
    clock.advance(timedelta(seconds=1))
    assert intake.drain(clock.now()).pending == 6  # still down: still queued, paused longer

    server = OsmemServer.start(addr=addr)  # back, empty (in-memory): templates must be put again
    try:
        clock.advance(timedelta(seconds=60))
        report = intake.drain(clock.now())
        assert (report.written, report.pending, report.paused_until) == (6, 0, None)
        store.refresh()
        ids = [h.post.id for h in store.search(SearchQuery(size=50)).hits]
        assert sorted(ids) == sorted(p.id for p in batch[6:])
        assert [h.post.id for h in store.search(SearchQuery(text="维权")).hits] == ["p09"]  # mapping is back
    finally:
        store.close()
        stop_osmem(server)


class _Stub:
    """A loopback HTTP server that answers like a search server, with 429s on demand."""

    def __init__(self) -> None:
        self.mode = "429"  # "429": the whole bulk; "item429": per item; "ok"
        self.bulk_calls = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send(200, [])

            def do_PUT(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                self._send(200, {"acknowledged": True})

            def do_POST(self) -> None:
                lines = self.rfile.read(int(self.headers.get("content-length", 0))).decode().splitlines()
                stub.bulk_calls += 1
                if stub.mode == "429":
                    self._send(429, {"error": {"type": "es_rejected_execution_exception", "reason": "queue full"},
                                     "status": 429}, {"Retry-After": "7"})
                    return
                status = 429 if stub.mode == "item429" else 201
                items = [{"index": {"_id": json.loads(a)["index"]["_id"], "status": status}} for a in lines[::2]]
                self._send(200, {"errors": status != 201, "items": items})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.host = f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[_Stub]:
    s = _Stub()
    yield s
    s.close()


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_429_pauses_intake_with_retry_after_and_nothing_is_dropped(stub: _Stub, flavour: str) -> None:
    store = open_store(FLAVOURS[flavour].format(host=stub.host))
    intake, clock = Intake(store), ManualClock(T0)
    intake.submit_posts(posts())
    report = intake.drain(clock.now())
    assert (report.written, report.pending) == (0, len(posts()))
    assert report.paused_until == T0 + timedelta(seconds=7 if flavour == "elasticsearch" else 1)
    assert intake.drain(clock.now()).written == 0  # paused: no request made
    assert stub.bulk_calls == 1
    stub.mode = "ok"
    clock.advance(timedelta(seconds=7))
    assert intake.drain(clock.now()).written == len(posts())
    store.close()


def test_item_level_429_is_retried_then_raises_backpressure(stub: _Stub) -> None:
    slept: list[float] = []
    store = ServerStore(server_options(f"opensearch://{stub.host}?retries=2", {}), sleep=slept.append)
    stub.mode = "item429"
    with pytest.raises(BackpressureError) as err:
        store.index_posts(posts())
    assert stub.bulk_calls == 3 and slept == [0.2, 0.4]
    assert "24 of 24 documents refused with 429" in str(err.value)  # each post and its text-free copy
    store.close()
