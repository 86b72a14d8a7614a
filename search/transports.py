"""The two official clients behind one method: ``call(method, path, body, params) -> JSON``.

Each transport builds its client from ``ServerOptions`` and translates the client's errors at this
boundary: 429 -> BackpressureError; connection failures, timeouts and 5xx -> retryable StoreError;
other 4xx -> StoreError(retryable=False). Client-side retries are off: ``ServerStore`` retries.

Elasticsearch and OpenSearch-compatible servers: the ``elasticsearch`` 8/9 client sends
``application/vnd.elasticsearch+json; compatible-with=N`` and refuses responses without
``X-Elastic-Product: Elasticsearch``. With ``compat=opensearch`` the client gets a node class that
sends plain ``application/json`` and accepts the response; every request still goes through the
official client's API. The test suite uses it to run the Elasticsearch adapter against a real
OpenSearch-compatible server; against a real Elasticsearch leave ``compat`` unset.
"""

from __future__ import annotations

import json
import re
from typing import Any, Protocol

from yujing.errors import BackpressureError, StoreError
from yujing.search.open import ServerOptions

NDJSON = "application/x-ndjson"
_JSON_HEADERS = {"accept": "application/json", "content-type": "application/json"}


class Transport(Protocol):
    def call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        """One request; ``body`` a dict (JSON) or a str (NDJSON for _bulk). Returns the decoded JSON."""
        ...

    def close(self) -> None: ...


def translate(where: str, status: int | None, detail: str, retry_after: float = 1.0) -> StoreError:
    """The StoreError for a failed request (status None: no HTTP response at all)."""
    if status == 429:
        return BackpressureError(f"{where}: the server is overloaded (429): {detail}; intake paused", retry_after)
    if status is None or status >= 500 or status == 408:
        return StoreError(f"{where}: unreachable or failing ({status or 'no response'}): {detail}; "
                          "check the server is up; writes are retried", retryable=True)
    return StoreError(f"{where}: rejected ({status}): {detail}", retryable=False)


def _body(body: Any) -> Any:
    return body if body is None or isinstance(body, str) else json.dumps(body, ensure_ascii=False)


def _retry_after(headers: Any) -> float:
    try:
        return max(0.0, float(headers.get("retry-after", 1.0)))
    except (TypeError, ValueError, AttributeError):
        return 1.0


class OpenSearchTransport:
    def __init__(self, options: ServerOptions) -> None:
        from opensearchpy import OpenSearch

        self.where = options.redacted()
        headers = {"Authorization": f"ApiKey {options.api_key}"} if options.api_key else None
        self.client = OpenSearch(
            hosts=[options.url],
            http_auth=(options.user, options.password) if options.user else None,
            verify_certs=options.verify,
            ssl_show_warn=False,
            ca_certs=options.ca or None,
            timeout=options.timeout,
            max_retries=0,
            retry_on_timeout=False,
            headers=headers,
        )

    def call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        from opensearchpy.exceptions import ConnectionError as OSConnectionError
        from opensearchpy.exceptions import TransportError

        headers = {"content-type": NDJSON} if isinstance(body, str) else _JSON_HEADERS
        try:
            return self.client.transport.perform_request(method, path, params=params, body=_body(body),
                                                         headers=headers)
        except OSConnectionError as exc:
            raise translate(self.where, None, str(exc.info or exc)) from exc
        except TransportError as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else None
            raise translate(self.where, status, str(exc.error)) from exc

    def close(self) -> None:
        self.client.close()


_COMPAT = re.compile(r"application/vnd\.elasticsearch\+([\w-]+);\s*compatible-with=\d+")


def _compat_node_class() -> Any:
    from elastic_transport import Urllib3HttpNode

    class PlainJsonNode(Urllib3HttpNode):
        """Plain JSON media types out, the product header in: ES client -> OpenSearch-compatible server."""

        def perform_request(self, method: str, target: str, body: Any = None, headers: Any = None,
                            request_timeout: Any = None) -> Any:
            if headers:
                headers = headers.copy()
                for name in ("accept", "content-type"):
                    if name in headers:
                        headers[name] = _COMPAT.sub(r"application/\1", headers[name])
            resp = super().perform_request(method, target, body=body, headers=headers,
                                           request_timeout=request_timeout)
            resp.meta.headers["x-elastic-product"] = "Elasticsearch"
            return resp

    return PlainJsonNode


class ElasticsearchTransport:
    def __init__(self, options: ServerOptions) -> None:
        from elasticsearch import Elasticsearch

        self.where = options.redacted()
        kwargs: dict[str, Any] = {
            "verify_certs": options.verify,
            "request_timeout": options.timeout,
            "max_retries": 0,
            "retry_on_status": (),
            "retry_on_timeout": False,
        }
        if options.user:
            kwargs["basic_auth"] = (options.user, options.password)
        if options.api_key:
            kwargs["api_key"] = options.api_key
        if options.ca:
            kwargs["ca_certs"] = options.ca
        if not options.verify:
            kwargs["ssl_show_warn"] = False
        if options.compat == "opensearch":
            kwargs["node_class"] = _compat_node_class()
        elif options.compat:
            raise StoreError(f"{self.where}: unknown compat={options.compat!r}; use compat=opensearch or leave it out",
                             retryable=False)
        self.client = Elasticsearch(options.url, **kwargs)

    def call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        from elastic_transport import ConnectionError as ESConnectionError
        from elastic_transport import ConnectionTimeout
        from elasticsearch import ApiError

        headers = {"accept": "application/json",
                   "content-type": NDJSON if isinstance(body, str) else "application/json"}
        target = path + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")
        try:
            return self.client.perform_request(method, target, headers=headers,
                                               body=None if body is None else body).body
        except (ESConnectionError, ConnectionTimeout) as exc:
            raise translate(self.where, None, str(exc)) from exc
        except ApiError as exc:
            raise translate(self.where, exc.meta.status, str(exc.message), _retry_after(exc.meta.headers)) from exc

    def close(self) -> None:
        self.client.close()


def make_transport(options: ServerOptions) -> Transport:
    if options.flavour == "elasticsearch":
        return ElasticsearchTransport(options)
    return OpenSearchTransport(options)
