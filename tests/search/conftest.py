from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from osmem_server import OsmemServer

sys.path.insert(0, str(Path(__file__).parent))

from tests.search.search_servers import FLAVOURS, cloned, stop_osmem


@pytest.fixture(scope="session")
def osmem_server() -> Iterator[OsmemServer]:
    """The plugin's session server, but closing the process pipes (filterwarnings=error)."""
    server = OsmemServer.start()
    yield server
    stop_osmem(server)


@pytest.fixture(params=sorted(FLAVOURS), scope="module")
def server_url(request: pytest.FixtureRequest, osmem_server: OsmemServer) -> Iterator[str]:
    """A fresh clone per module and adapter flavour."""
    with cloned(osmem_server, request.param) as url:
        yield url
