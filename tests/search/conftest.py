from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from osmem_server import OsmemServer

sys.path.insert(0, str(Path(__file__).parent))

FLAVOURS = {
    "opensearch": "opensearch://{host}?retries=0",
    # the official Elasticsearch client, speaking plain JSON to the OpenSearch-compatible server
    "elasticsearch": "elasticsearch://{host}?retries=0&compat=opensearch",
}


@pytest.fixture(params=sorted(FLAVOURS), scope="module")
def server_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh clone of the session's osmem server per module and adapter flavour."""
    server = request.getfixturevalue("osmem_server")
    clone = server.clone()
    host = clone.url.split("://", 1)[1]
    yield FLAVOURS[request.param].format(host=host)
    clone.close()


@pytest.fixture(scope="session")
def osmem_server() -> Iterator[OsmemServer]:
    """The plugin's session server, but closing the process pipes (filterwarnings=error)."""
    server = OsmemServer.start()
    yield server
    stop_osmem(server)


def stop_osmem(server: OsmemServer) -> None:
    server.close()
    if server.process.stdout is not None:
        server.process.stdout.close()
