"""The HTTP API: one FastAPI app composed of each package's router. Wiring only.

Routers: search and incidents (yujing.search.api), warnings, acknowledgements and silences
(yujing.alerting.api), complaint intake (yujing.ingestion.intake), the situation page for the
embedded deployment (yujing.dashboards.situation) and Prometheus ``/metrics``.
OpenAPI documentation is served at ``/docs``.
"""

from __future__ import annotations

import argparse
import threading
import time

import uvicorn
from fastapi import FastAPI

from yujing import __version__, metrics
from yujing.alerting.api import make_router as make_alerts_router
from yujing.alerting.store import AlertStore
from yujing.app import open_bus
from yujing.dashboards.situation import make_situation_router
from yujing.ingestion.intake import LazyBus
from yujing.ingestion.intake import make_router as make_intake_router
from yujing.search.access import log_heads
from yujing.search.api import intake_writer, shared_access
from yujing.search.api import make_router as make_search_router
from yujing.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(title="Yujing 预警 API", version=__version__,
                  description="Search, warnings, acknowledgements, intake and metrics of Yujing.")
    app.include_router(metrics.make_metrics_router())
    access = shared_access(settings)  # the search API's tokens, shared by every router that checks one
    app.include_router(make_situation_router(lambda: settings.store_url, lambda: settings.registry_path,
                                             access=access))
    app.include_router(make_search_router(settings, access=access))
    app.include_router(make_intake_router(LazyBus(lambda: open_bus(settings.bus_url)), settings.key,
                                          authorize=intake_writer(access)))
    app.include_router(make_alerts_router(AlertStore(settings.data_dir / "alerts.db"), settings.key, access),
                       prefix="/api")

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app


def start_server(settings: Settings, host: str = "127.0.0.1", port: int = 8765) -> uvicorn.Server:
    """Serve the API in a background thread; returns once it accepts connections."""
    log_heads()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True, name="yujing-http")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    return server


def _cmd_api(args: argparse.Namespace) -> int:
    settings = Settings()
    log_heads()
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("api", help="serve the HTTP API (search, warnings, acks, intake, /metrics, /docs)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.set_defaults(func=_cmd_api)
