"""Prometheus metrics of every Yujing role, on one module-level registry.

The registry is ours (``REGISTRY``), not prometheus_client's global default, so tests read
values with ``REGISTRY.get_sample_value(...)`` without seeing other libraries' metrics.
Names follow the Prometheus conventions: ``yujing_`` prefix, base units (seconds), counters end
in ``_total``, label values are bounded sets (stages, signals, levels, channels, outcomes).

Stages call the helpers below (``stage_records("score", n)``, ``dead_letter("ingest", reason)``);
``make_metrics_router()`` serves ``/metrics`` from the HTTP API and ``serve_metrics(port)`` from a
worker role that has no HTTP server. The dashboards validate their queries against ``SPECS``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal
from wsgiref.simple_server import WSGIServer

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    start_http_server,
)

STAGES: tuple[str, ...] = ("ingest", "score", "index", "alert", "deliver")
OUTCOMES: tuple[str, ...] = ("sent", "failed", "retried", "dropped")
LEVELS: tuple[str, ...] = ("blue", "yellow", "orange", "red")
SIGNALS: tuple[str, ...] = ("rumour", "panic", "gathering")
SCORING_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Kind = Literal["counter", "gauge", "histogram"]


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric as declared once: its family name (without ``_total``), kind, help and labels."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()

    @property
    def series(self) -> tuple[str, ...]:
        """The sample names Prometheus stores for this metric (what a query may reference)."""
        if self.kind == "counter":
            return (f"{self.name}_total", f"{self.name}_created")
        if self.kind == "histogram":
            return tuple(f"{self.name}_{s}" for s in ("bucket", "sum", "count", "created"))
        return (self.name,)


SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("yujing_posts_ingested", "counter", "Posts and complaints accepted at ingestion.", ("source",)),
    MetricSpec("yujing_stage_records", "counter", "Records a pipeline stage finished.", ("stage",)),
    MetricSpec("yujing_scoring_seconds", "histogram", "Seconds to score one batch of texts.", ("model",)),
    MetricSpec("yujing_dead_letters", "counter", "Inputs sent to the dead-letter store.", ("stage", "reason")),
    MetricSpec("yujing_consumer_lag", "gauge", "Messages not yet committed by a consumer group.", ("group", "topic")),
    MetricSpec("yujing_outbox_pending", "gauge", "Notifications waiting in the outbox."),
    MetricSpec("yujing_notifications", "counter", "Notification attempts by outcome.", ("channel", "outcome")),
    MetricSpec("yujing_alerts", "counter", "Warnings raised.", ("signal", "level")),
    MetricSpec("yujing_store_backpressure", "counter", "Times the store asked intake to slow down."),
    MetricSpec("yujing_build_info", "gauge", "Always 1; labels say the version and role.", ("version", "role")),
)
SPEC_BY_NAME: Mapping[str, MetricSpec] = {s.name: s for s in SPECS}

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)


def _make(spec: MetricSpec) -> Counter | Gauge | Histogram:
    if spec.kind == "counter":
        return Counter(spec.name, spec.help, spec.labels, registry=REGISTRY)
    if spec.kind == "histogram":
        return Histogram(spec.name, spec.help, spec.labels, registry=REGISTRY, buckets=SCORING_BUCKETS)
    return Gauge(spec.name, spec.help, spec.labels, registry=REGISTRY)


_METRICS: dict[str, Counter | Gauge | Histogram] = {s.name: _make(s) for s in SPECS}


def _counter(name: str) -> Counter:
    metric = _METRICS[name]
    assert isinstance(metric, Counter)
    return metric


def _gauge(name: str) -> Gauge:
    metric = _METRICS[name]
    assert isinstance(metric, Gauge)
    return metric


def _histogram(name: str) -> Histogram:
    metric = _METRICS[name]
    assert isinstance(metric, Histogram)
    return metric


def _check(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"metrics: {what} {value!r} is not one of {', '.join(allowed)}")
    return value


def _nonempty(value: str, what: str) -> str:
    if not value:
        raise ValueError(f"metrics: {what} must be a non-empty short name")
    return value


# --- helpers the stages call ------------------------------------------------------------------


def posts_ingested(source: str, n: int = 1) -> None:
    _counter("yujing_posts_ingested").labels(_nonempty(source, "source")).inc(n)


def stage_records(stage: str, n: int = 1) -> None:
    _counter("yujing_stage_records").labels(_check(stage, STAGES, "stage")).inc(n)


def observe_scoring(model: str, seconds: float) -> None:
    _histogram("yujing_scoring_seconds").labels(_nonempty(model, "model")).observe(seconds)


@contextmanager
def time_scoring(model: str) -> Iterator[None]:
    """``with time_scoring(scorer.name): scores = scorer.score(texts)``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        observe_scoring(model, time.perf_counter() - start)


def dead_letter(stage: str, reason: str, n: int = 1) -> None:
    """``reason`` is short and machine-stable (``InputError.reason``), never free text."""
    _counter("yujing_dead_letters").labels(_check(stage, STAGES, "stage"), _nonempty(reason, "reason")).inc(n)


def set_consumer_lag(group: str, topic: str, lag: int) -> None:
    _gauge("yujing_consumer_lag").labels(_nonempty(group, "group"), _nonempty(topic, "topic")).set(lag)


def set_outbox_pending(n: int) -> None:
    _gauge("yujing_outbox_pending").set(n)


def notification(channel: str, outcome: str) -> None:
    labels = (_nonempty(channel, "channel"), _check(outcome, OUTCOMES, "outcome"))
    _counter("yujing_notifications").labels(*labels).inc()


def alert_raised(signal: str, level: str) -> None:
    _counter("yujing_alerts").labels(_check(signal, SIGNALS, "signal"), _check(level, LEVELS, "level")).inc()


def store_backpressure() -> None:
    _counter("yujing_store_backpressure").inc()


def set_build_info(role: str) -> None:
    from yujing import __version__

    _gauge("yujing_build_info").labels(__version__, _nonempty(role, "role")).set(1)


# --- exposition -------------------------------------------------------------------------------


def exposition() -> bytes:
    """The registry in the Prometheus text format."""
    return generate_latest(REGISTRY)


def make_metrics_router() -> APIRouter:
    """A router serving ``GET /metrics``; the API includes it with ``app.include_router``."""
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(content=exposition(), media_type=CONTENT_TYPE_LATEST)

    return router


def serve_metrics(port: int, addr: str = "0.0.0.0") -> tuple[WSGIServer, threading.Thread]:
    """Serve ``/metrics`` on ``addr:port`` from a daemon thread (worker roles without an API).

    Returns the server and its thread; ``server.shutdown()`` stops it. Port 0 picks a free port
    (``server.server_port`` says which)."""
    return start_http_server(port, addr=addr, registry=REGISTRY)


def start_role_metrics(role: str, env: dict[str, str] | None = None) -> WSGIServer | None:
    """For worker roles (not ``api``, which serves ``/metrics`` itself): record the build info and
    serve ``/metrics`` on ``YUJING_METRICS_PORT`` when it is set. Returns the server, or None."""
    import os

    set_build_info(role)
    value = (env if env is not None else dict(os.environ)).get("YUJING_METRICS_PORT", "").strip()
    if role == "api" or not value:
        return None
    try:
        port = int(value)
    except ValueError as exc:
        from yujing.errors import ConfigError

        raise ConfigError("environment", "YUJING_METRICS_PORT", f"{value!r} is not a port; e.g. 9100") from exc
    server, _thread = serve_metrics(port)
    return server
