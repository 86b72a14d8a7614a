"""The composition root: turns settings and URLs into adapters and wires the stages. Wiring only."""

from __future__ import annotations

import logging
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from yujing import metrics
from yujing.errors import ConfigError
from yujing.ingestion.bus import Bus
from yujing.ingestion.decode import DecodeOptions, decode_jsonl
from yujing.models.attribution import PlatformMatcher, registry_findings
from yujing.models.scorer import Scorer
from yujing.pipeline import (
    AlertStage,
    IndexStage,
    NotifyStage,
    ScoreStage,
    Stage,
    StageRunner,
    produce_dead_letters,
    produce_posts,
)
from yujing.records import Alert, DeadLetter, Post
from yujing.registry import Registry, load_registry
from yujing.search.store import Store
from yujing.settings import Settings

if TYPE_CHECKING:
    from yujing.alerting.outbox import DeliveryWorker
    from yujing.alerting.service import Alerting

log = logging.getLogger(__name__)


def open_bus(url: str) -> Bus:
    """``sqlite:///PATH`` (embedded) or ``kafka://host:port[,host:port]``."""
    if url.startswith("sqlite:///"):
        from yujing.ingestion.sqlite_bus import SqliteBus

        return SqliteBus(Path(url.removeprefix("sqlite:///")))
    if url.startswith("kafka://"):
        from yujing.ingestion.kafka_bus import KafkaBus

        return KafkaBus.from_url(url)
    raise ConfigError("--bus", "url", f"unsupported bus {url!r}; use sqlite:///PATH or kafka://host:port")


def open_store(url: str) -> Store:
    from yujing.search.open import open_store as _open

    return _open(url)


def load_scorer(name: str | None) -> Scorer:
    """A scorer by name (``lexicon``, ``transformer``, ...); None means the default fine-tuned model."""
    from yujing.models.zoo import load_scorer as _load

    return _load(name)


def build_alerting(settings: Settings, registry: Registry, rules: Path | None = None, *,
                   history: bool = False) -> Alerting:
    """The alerting engine; ``history``: record warnings and acks in ``<data_dir>/alerts.db`` (the live service)."""
    from yujing.alerting.receivers import load_receivers
    from yujing.alerting.service import build_alerting as _build
    from yujing.alerting.store import AlertStore

    receivers = load_receivers(settings.receivers, deliver=history)  # a replay needs no channel secrets
    store = AlertStore(settings.data_dir / "alerts.db") if history else None
    ack = (receivers.ack_url, settings.key) if history else ("", b"")  # signed links
    return _build(registry, rules_path=rules or settings.rules, routes_path=settings.routes, store=store,
                  ack_url=ack[0], ack_secret=ack[1],  # live: live_delivery pages on the wall clock instead
                  event_time_paging=None if history else receivers)


@dataclass
class Delivery:
    """The live service's notification path: warnings → durable outbox → channels (a background worker)."""

    sink: Callable[[Sequence[Alert]], None]
    worker: DeliveryWorker

    def close(self) -> None:
        self.worker.stop()
        self.worker.step()  # one last try for what is due; the rest stays in the outbox for the next start


def live_delivery(settings: Settings, echo: Callable[[Sequence[Alert]], None] | None = None) -> Delivery:
    """Warnings are fanned out to each routed agency's current contact into ``<data_dir>/outbox.db``;
    the worker delivers with retries, and a restart resends what was not confirmed."""
    from yujing.alerting.escalation import Escalator
    from yujing.alerting.outbox import DeliveryWorker, Outbox
    from yujing.alerting.receivers import fan_out, load_receivers
    from yujing.alerting.store import AlertStore
    from yujing.clock import SystemClock

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    receivers = load_receivers(settings.receivers)
    outbox = Outbox(settings.data_dir / "outbox.db")
    clock = SystemClock()
    # Escalation on the acknowledgement timer (wall clock): acks come from alerts.db (API, link, CLI).
    escalator = Escalator(outbox, receivers, AlertStore(settings.data_dir / "alerts.db").acked_incidents,
                          on_escalate=lambda e: print(f"yujing: {e.incident}: {e.because}; notifying {e.agency} "
                                                      f"contact {e.step + 1}", file=sys.stderr))
    worker = DeliveryWorker(outbox, receivers.channels, clock, escalate=escalator.run,
                            on_error=lambda idem, err: print(f"yujing: delivery of {idem} failed, will retry: {err}",
                                                             file=sys.stderr))

    def sink(alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            fan_out(alert, receivers, outbox, clock.now())
        if echo is not None:
            echo(alerts)

    worker.start()
    return Delivery(sink, worker)


@dataclass
class Decoded:
    posts: list[Post] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


def read_input(path: str, settings: Settings, *, require_ts: bool = True) -> tuple[bytes, str]:
    if path == "-":
        return sys.stdin.buffer.read(), "<stdin>"
    try:
        return Path(path).read_bytes(), path
    except FileNotFoundError:
        raise ConfigError(path, "FILE", "not found; give a JSON Lines file or - for standard input") from None


def decode_file(path: str, settings: Settings, *, require_ts: bool = True) -> Decoded:
    data, origin = read_input(path, settings)
    out = Decoded()
    opts = DecodeOptions(key=settings.key, require_ts=require_ts, max_text_chars=settings.max_text_chars)
    for item in decode_jsonl(data, origin, opts):
        (out.posts if isinstance(item, Post) else out.dead).append(item)  # type: ignore[arg-type]
    return out


def ingest(bus: Bus, decoded: Decoded, *, sort_by_time: bool = False,
           progress: Callable[[int], None] | None = None, batch: int = 500) -> None:
    posts = sorted(decoded.posts, key=lambda p: p.ts) if sort_by_time else decoded.posts
    for start in range(0, len(posts), batch):
        chunk = posts[start:start + batch]
        produce_posts(bus, chunk)
        for post in chunk:
            metrics.posts_ingested(post.source.value)
        if progress is not None:
            progress(len(chunk))
    produce_dead_letters(bus, decoded.dead)


@dataclass
class Wiring:
    """Everything the stages need, built once."""

    settings: Settings
    registry: Registry
    bus: Bus
    store: Store | None
    scorer: Scorer | None
    sink: Callable[[Sequence[Alert]], None]
    rules: Path | None = None
    history: bool = False  # record warnings and acks in <data_dir>/alerts.db (the live service)

    def stages(self, role: str) -> list[Stage]:
        stages: list[Stage] = []
        if role in ("scorer", "all"):
            assert self.scorer is not None
            stages.append(ScoreStage(self.bus, self.scorer, PlatformMatcher(self.registry), self.settings.key,
                                     self.settings.max_text_chars))
        if role in ("indexer", "all"):
            assert self.store is not None
            stages.append(IndexStage(self.bus, self.store))
        if role in ("alerter", "all"):
            from yujing.ingestion.reorder import ReorderBuffer, slack_of

            stages.append(AlertStage(self.bus, build_alerting(self.settings, self.registry, self.rules,
                                                                 history=self.history),
                                     ReorderBuffer(slack_of(self.bus))))
            stages.append(NotifyStage(self.bus, self.sink))
        if not stages:
            raise ConfigError("--role", "role", f"unknown role {role!r}; use scorer, indexer, alerter or all")
        return stages


def registry_for(settings: Settings, path: Path | None) -> Registry:
    """The registry, with one warning when it holds names attribution will misread."""
    registry = load_registry(path or settings.registry_path)
    findings = registry_findings(registry)
    if findings:
        kinds = sorted({f.kind for f in findings})
        log.warning("registry %s: %d names attribution will misread (%s); `yujing registry check %s` lists them and "
                    "what to do", registry.source, len(findings), ", ".join(kinds), registry.source)
    return registry


@dataclass
class ReplayResult:
    alerts: list[Alert]
    posts: int
    dead: list[DeadLetter]
    store_url: str


@contextmanager
def replay_workspace(store_url: str | None) -> Iterator[tuple[Path, str]]:
    with tempfile.TemporaryDirectory(prefix="yujing-replay-") as tmp:
        yield Path(tmp), store_url or f"sqlite:///{Path(tmp) / 'store.db'}"


def replay_file(path: str | Path, *, registry: Registry, model: str | None = "lexicon", rules: Path | None = None,
                store_url: str | None = None, settings: Settings | None = None,
                on_alerts: Callable[[Sequence[Alert]], None] | None = None) -> ReplayResult:
    """The whole pipeline over a recorded stream, in event time, on a fresh embedded bus/store."""
    settings = settings or Settings()
    decoded = decode_file(str(path), settings)
    fired: list[Alert] = []

    def sink(alerts: Sequence[Alert]) -> None:
        fired.extend(alerts)
        if on_alerts is not None:
            on_alerts(alerts)

    with replay_workspace(store_url) as (tmp, url):
        bus = open_bus(f"sqlite:///{tmp / 'bus.db'}")
        store = open_store(url)
        try:
            ingest(bus, decoded, sort_by_time=True)
            wiring = Wiring(settings, registry, bus, store, load_scorer(model), sink, rules)
            runner = StageRunner(bus, wiring.stages("all"), poll_timeout_s=0.0)
            runner.open()
            runner.drain()
            runner.close_out()  # the last warnings' group wait runs out, as it would have live
            runner.close()
        finally:
            store.close()
            bus.close()
    return ReplayResult(fired, len(decoded.posts), decoded.dead, url)
