"""The metrics registry: names by Prometheus conventions, helpers validate labels, /metrics serves."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from yujing import metrics
from yujing.metrics import REGISTRY, SPECS


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_names_follow_prometheus_conventions() -> None:
    for spec in SPECS:
        assert spec.name.startswith("yujing_"), spec.name
        assert not spec.name.endswith("_total"), f"{spec.name}: counters get _total from the client"
        assert spec.name == spec.name.lower()
        if spec.kind == "histogram":
            assert spec.name.endswith("_seconds"), f"{spec.name}: durations are in base unit seconds"


def test_helpers_increment_the_registry() -> None:
    before = _value("yujing_stage_records_total", stage="score")
    metrics.stage_records("score", 3)
    assert _value("yujing_stage_records_total", stage="score") == before + 3
    metrics.dead_letter("ingest", "bad_json")
    assert _value("yujing_dead_letters_total", stage="ingest", reason="bad_json") >= 1
    metrics.alert_raised("panic", "red")
    assert _value("yujing_alerts_total", signal="panic", level="red") >= 1
    metrics.notification("webhook", "failed")
    assert _value("yujing_notifications_total", channel="webhook", outcome="failed") >= 1
    metrics.set_consumer_lag("scorer", "yujing.raw.posts", 42)
    assert _value("yujing_consumer_lag", group="scorer", topic="yujing.raw.posts") == 42
    metrics.set_outbox_pending(7)
    assert _value("yujing_outbox_pending") == 7
    count = _value("yujing_scoring_seconds_count", model="lexicon")
    with metrics.time_scoring("lexicon"):
        pass
    assert _value("yujing_scoring_seconds_count", model="lexicon") == count + 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: metrics.stage_records("scoring"), "stage 'scoring' is not one of ingest"),
        (lambda: metrics.notification("smtp", "ok"), "outcome 'ok' is not one of sent"),
        (lambda: metrics.alert_raised("panic", "purple"), "level 'purple'"),
        (lambda: metrics.posts_ingested(""), "source must be a non-empty"),
    ],
)
def test_unbounded_or_unknown_label_values_are_refused(call: Callable[[], None], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_router_serves_text_exposition() -> None:
    metrics.store_backpressure()
    app = FastAPI()
    app.include_router(metrics.make_metrics_router())
    response = TestClient(app).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "yujing_store_backpressure_total" in response.text
    assert "process_cpu_seconds_total" in response.text or "python_info" in response.text


@pytest.mark.integration
def test_serve_metrics_on_a_free_loopback_port() -> None:
    metrics.set_build_info("scorer")
    server, thread = metrics.serve_metrics(0, addr="127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5) as resp:
            body = resp.read().decode()
        assert 'yujing_build_info{role="scorer",version="0.1.0"} 1.0' in body
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_role_metrics_served_on_the_configured_port() -> None:
    import urllib.request

    from yujing import metrics
    from yujing.errors import ConfigError

    assert metrics.start_role_metrics("scorer", {}) is None
    assert metrics.start_role_metrics("api", {"YUJING_METRICS_PORT": "0"}) is None
    server = metrics.start_role_metrics("alerter", {"YUJING_METRICS_PORT": "0"})
    assert server is not None
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5) as resp:
            assert 'yujing_build_info{' in resp.read().decode() and resp.status == 200
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(ConfigError, match="YUJING_METRICS_PORT"):
        metrics.start_role_metrics("scorer", {"YUJING_METRICS_PORT": "x"})
