"""Helpers for the search tests that talk to osmem-server (imported by conftest and tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from osmem_server import OsmemServer

FLAVOURS = {
    "opensearch": "opensearch://{host}?retries=0",
    # the official Elasticsearch client, speaking plain JSON to the OpenSearch-compatible server
    "elasticsearch": "elasticsearch://{host}?retries=0&compat=opensearch",
}


@contextmanager
def cloned(server: OsmemServer, flavour: str) -> Iterator[str]:
    """A store URL for a fresh clone of the session's osmem server."""
    clone = server.clone()
    try:
        yield FLAVOURS[flavour].format(host=clone.url.split("://", 1)[1])
    finally:
        clone.close()


def stop_osmem(server: OsmemServer) -> None:
    server.close()
    if server.process.stdout is not None:
        server.process.stdout.close()
