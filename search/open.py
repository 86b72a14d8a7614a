"""``open_store(url)``: the one place a store URL becomes a store.

    sqlite:///data/store.db          embedded store, relative path (sqlite:////abs/store.db: absolute)
    data/store.db                    the same (a bare path)
    opensearch://host:9200           OpenSearch over HTTP (opensearch-py)
    opensearch+https://user:pw@host:9200?ca=/etc/ca.pem
    elasticsearch://host:9200        Elasticsearch (official client)
    elasticsearch+https://host:9200?api_key=...&verify=false

Server options also come from the environment (``YUJING_STORE_USER``, ``YUJING_STORE_PASSWORD``,
``YUJING_STORE_API_KEY``, ``YUJING_STORE_CA``); the URL wins. ``compat=opensearch`` makes the
Elasticsearch client speak plain JSON to an OpenSearch-compatible server (used by the tests).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from yujing.errors import ConfigError
from yujing.registry import Registry
from yujing.search.store import Store

SCHEMES = ("sqlite", "opensearch", "opensearch+https", "elasticsearch", "elasticsearch+https")
_OPTIONS = ("ca", "verify", "api_key", "compat", "analyzer", "timeout", "retries", "refresh")
_EXAMPLES = "sqlite:///data/store.db, opensearch://127.0.0.1:9200 or elasticsearch+https://user:pw@host:9200"


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """Where and how to reach a search server. Pure data parsed from the URL and environment."""

    flavour: str  # "opensearch" | "elasticsearch"
    url: str  # http(s)://host:port, no credentials
    user: str = ""
    password: str = ""
    api_key: str = ""
    ca: str = ""
    verify: bool = True
    compat: str = ""  # "opensearch": the ES client sends plain JSON (see elastic_store)
    analyzer: str = ""  # Chinese analyzer for raw text; "" = IK when installed, else cjk
    timeout: float = 10.0
    retries: int = 3
    refresh: str = "false"  # bulk ?refresh=: false (near-real-time), true or wait_for

    def redacted(self) -> str:
        return f"{self.flavour}:{self.url.split(':', 1)[1]}"


def _bad(url: str, message: str) -> ConfigError:
    """The error names the URL without its credentials: no user:password, and no query (where an api_key or
    token may be)."""
    parts = urlsplit(url)
    shown = parts._replace(netloc=parts.hostname or "" if "@" in parts.netloc else parts.netloc,
                           query="…" if parts.query else "").geturl()
    return ConfigError("--store", "url", f"{shown!r}: {message}; e.g. {_EXAMPLES}")


def sqlite_path(url: str) -> Path:
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):])
    if url.startswith("sqlite:"):
        raise _bad(url, "an embedded store URL has three slashes before the path")
    return Path(url)


def server_options(url: str, env: Mapping[str, str]) -> ServerOptions:
    """Parse a server store URL (credentials may come from ``env``)."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES[1:]:
        raise _bad(url, f"unknown scheme {parts.scheme!r}; use one of {', '.join(SCHEMES)}")
    try:
        port = parts.port or 9200
    except ValueError:
        raise _bad(url, "the port is not a number") from None
    if not parts.hostname:
        raise _bad(url, "no host")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - set(_OPTIONS))
    if unknown:
        raise _bad(url, f"unknown option {unknown[0]!r}; options are {', '.join(_OPTIONS)}")
    flavour, _, tls = parts.scheme.partition("+")
    try:
        timeout, retries = float(query.get("timeout", 10)), int(query.get("retries", 3))
    except ValueError:
        raise _bad(url, "timeout and retries must be numbers") from None
    return ServerOptions(
        flavour=flavour,
        url=f"{'https' if tls else 'http'}://{parts.hostname}:{port}",
        user=unquote(parts.username or "") or env.get("YUJING_STORE_USER", ""),
        password=unquote(parts.password or "") or env.get("YUJING_STORE_PASSWORD", ""),
        api_key=query.get("api_key", env.get("YUJING_STORE_API_KEY", "")),
        ca=query.get("ca", env.get("YUJING_STORE_CA", "")),
        verify=query.get("verify", "true").lower() not in ("false", "0", "no"),
        compat=query.get("compat", ""),
        analyzer=query.get("analyzer", ""),
        timeout=timeout,
        retries=retries,
        refresh=_refresh(url, query.get("refresh", "false")),
    )


def _refresh(url: str, value: str) -> str:
    if value not in ("false", "true", "wait_for"):
        raise _bad(url, f"refresh={value!r}; use false, true or wait_for")
    return value


def open_store(url: str, registry: Registry | None = None, env: Mapping[str, str] | None = None) -> Store:
    """Open the store a URL names. Raises ConfigError naming the URL and the fix."""
    url = url.strip()
    if not url:
        raise _bad(url, "empty store URL")
    if "://" not in url or url.startswith("sqlite:"):
        from yujing.search.sqlite_store import SqliteStore

        return SqliteStore(sqlite_path(url), registry=registry)
    options = server_options(url, os.environ if env is None else env)
    from yujing.search.server_store import ServerStore

    return ServerStore(options, registry=registry)
