"""The ``Store`` on Elasticsearch or OpenSearch: templates, monthly indices behind aliases, bulk.

Setup is lazy and repeated after an outage: the first write or search (and the first after a
connection failure) puts the index templates, so a restarted, empty server gets them back before
the retried batch lands. Bulk writes are idempotent (``_id`` = post id / alert key) and retried
with backoff; items the server refuses with 429 are retried and, if it keeps refusing, raise
BackpressureError so the caller pauses intake and re-submits the batch (nothing is dropped).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from yujing.errors import BackpressureError, StoreError
from yujing.records import Alert, ScoredPost
from yujing.registry import Registry
from yujing.search import docs
from yujing.search.dsl import alert_body, search_body, search_result, signals_page_body
from yujing.search.filters import AlertQuery, check, check_alerts
from yujing.search.mapping import (
    ALERTS_ALIAS,
    POSTS_ALIAS,
    SIGNALS_ALIAS,
    TEMPLATE_PREFIX,
    alert_template,
    index_for,
    post_template,
    signal_template,
)
from yujing.search.open import ServerOptions
from yujing.search.query import parse
from yujing.search.store import SearchQuery, SearchResult
from yujing.search.transports import Transport, make_transport

_MISSING = ("index_not_found", "no such index")
_MONTHLY = (POSTS_ALIAS, SIGNALS_ALIAS)

Item = tuple[str, str, dict[str, Any]]  # (alias, document id, document)


def _index(alias: str, doc: dict[str, Any]) -> str:
    """Posts (and their text-free copies) go to monthly indices (a post's time never changes); warnings, few
    and re-sent with new times as they escalate or resolve, to one index so a key is never in two places."""
    return index_for(alias, docs.parse_ts(doc["ts"])) if alias in _MONTHLY else f"{alias}-v1"


def _bulk_lines(items: Sequence[Item]) -> str:
    lines = []
    for alias, doc_id, doc in items:
        lines.append(json.dumps({"index": {"_index": _index(alias, doc), "_id": doc_id}}))
        lines.append(json.dumps(doc, ensure_ascii=False))
    return "\n".join(lines) + "\n"


class ServerStore:
    """Elasticsearch/OpenSearch behind the ``Store`` protocol (plus the search extras)."""

    def __init__(self, options: ServerOptions, registry: Registry | None = None,
                 transport: Transport | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.options = options
        self.registry = registry
        self.transport = transport or make_transport(options)
        self._sleep = sleep
        self._ready = False
        self.analyzer = options.analyzer

    # ---- setup ---------------------------------------------------------------------------------

    def _detect_analyzer(self) -> str:
        if self.analyzer:
            return self.analyzer
        plugins = self.transport.call("GET", "/_cat/plugins", params={"format": "json"}) or []
        names = {str(p.get("component", "")) for p in plugins if isinstance(p, dict)}
        return "ik_max_word" if "analysis-ik" in names else "cjk"

    def ensure_setup(self) -> None:
        """Put the index templates (idempotent). Called lazily; call it to fail fast at start-up."""
        if self._ready:
            return
        analyzer = self._detect_analyzer()
        self.transport.call("PUT", f"/_index_template/{TEMPLATE_PREFIX}posts", post_template(analyzer))
        self.transport.call("PUT", f"/_index_template/{TEMPLATE_PREFIX}alerts", alert_template(analyzer))
        self.transport.call("PUT", f"/_index_template/{TEMPLATE_PREFIX}signals", signal_template())
        self.analyzer = analyzer
        self._ready = True

    def _guarded(self, fn: Callable[[], Any]) -> Any:
        try:
            self.ensure_setup()
            return fn()
        except StoreError as exc:
            if exc.retryable:
                self._ready = False  # the server may come back empty: put the templates again
            raise

    # ---- writes --------------------------------------------------------------------------------

    def index_posts(self, posts: Sequence[ScoredPost]) -> None:
        """Each post into the posts index and, in the same bulk request, its text-free copy into the signals
        index (Grafana's post data source)."""
        items: list[Item] = []
        for sp in posts:
            doc = docs.post_doc(sp, self.registry)
            items += [(POSTS_ALIAS, sp.id, doc), (SIGNALS_ALIAS, sp.id, docs.signal_doc(doc))]
        self._guarded(lambda: self._bulk(items))

    def index_alerts(self, alerts: Sequence[Alert]) -> None:
        items = [(ALERTS_ALIAS, a.key, docs.alert_doc(a, self.registry)) for a in alerts]
        self._guarded(lambda: self._bulk(items))

    def _bulk(self, items: Sequence[Item]) -> None:
        pending = list({(alias, doc_id): (alias, doc_id, doc) for alias, doc_id, doc in items}.values())
        delay = 0.2
        for attempt in range(self.options.retries + 1):
            if not pending:
                return
            try:
                pending = self._bulk_once(pending)
            except StoreError as exc:
                if not exc.retryable or attempt == self.options.retries:
                    raise
                self._sleep(delay)
            else:
                if pending and attempt < self.options.retries:
                    self._sleep(delay)
            delay *= 2
        if pending:
            raise BackpressureError(f"{self.options.redacted()}: {len(pending)} of {len(items)} documents refused "
                                    f"with 429 after {self.options.retries} retries; intake paused, re-submit them",
                                    retry_after=delay)

    def _bulk_once(self, items: list[Item]) -> list[Item]:
        """Send one bulk request; return the items refused with 429 (others raise or succeed)."""
        params = {"refresh": self.options.refresh} if self.options.refresh != "false" else None
        response = self.transport.call("POST", "/_bulk", _bulk_lines(items), params=params)
        if not response.get("errors"):
            return []
        retry, failed = [], []
        for item, result in zip(items, response["items"], strict=True):
            outcome = result.get("index", {})
            status = int(outcome.get("status", 200))
            if status == 429 or status >= 500:
                retry.append(item)
            elif status >= 300:
                failed.append(f"{item[0]}/{item[1]}: {outcome.get('error')}")
        if failed:
            raise StoreError(f"{self.options.redacted()}: {len(failed)} documents rejected: {'; '.join(failed[:3])}",
                             retryable=False)
        return retry

    def backfill_signals(self, *, since: datetime | None = None, until: datetime | None = None, page: int = 500,
                         progress: Callable[[int, int, str], None] | None = None) -> int:
        """Write the text-free copy of every post already in the posts index (``since`` inclusive, ``until``
        exclusive) into the signals index, oldest first, ``page`` posts per bulk request; returns how many.

        For deployments that indexed posts before the signals index existed. Only the fields Grafana may see are
        read (no text, author or link leaves the posts index), and each copy keeps its post's id, so a re-run, a
        run that overlaps live indexing or one resumed with ``since`` after an interruption writes no duplicate.
        ``progress(done, total, last_ts)`` is called after every page; ``last_ts`` (the last copied post's time) is
        where a resumed run may start."""
        if page < 1:
            raise ValueError(f"page: expected 1 or more posts per request, got {page}")
        written, after, total = 0, None, 0
        while True:
            response = self._read(f"/{POSTS_ALIAS}/_search", signals_page_body(since, until, page, after))
            hits = response["hits"]["hits"] if response else []
            if not hits:
                return written
            if not written:
                found = response["hits"]["total"]
                total = int(found["value"] if isinstance(found, dict) else found)
            items = [(SIGNALS_ALIAS, str(h["_id"]), docs.signal_doc(h["_source"])) for h in hits]
            self._guarded(partial(self._bulk, items))
            written += len(items)
            after = hits[-1]["sort"]
            if progress is not None:
                progress(written, max(total, written), str(hits[-1]["_source"]["ts"]))
            if len(hits) < page:
                return written

    def refresh(self) -> None:
        """Make everything written so far searchable now (tests, one-off imports)."""
        self._guarded(lambda: self.transport.call("POST", f"/{POSTS_ALIAS},{SIGNALS_ALIAS},{ALERTS_ALIAS}/_refresh",
                                                  params={"ignore_unavailable": "true",
                                                          "allow_no_indices": "true"}))

    # ---- reads ---------------------------------------------------------------------------------

    def _read(self, path: str, body: dict[str, Any] | None = None, method: str = "POST") -> Any:
        try:
            return self._guarded(lambda: self.transport.call(method, path, body))
        except StoreError as exc:
            if any(m in str(exc) for m in _MISSING):
                return None  # nothing indexed yet
            raise

    def count_posts(self) -> int:
        response = self._read(f"/{POSTS_ALIAS}/_count", method="GET")
        return int(response["count"]) if response else 0

    def search(self, query: SearchQuery) -> SearchResult:
        node = check(query)
        response = self._read(f"/{POSTS_ALIAS}/_search", search_body(query, node))
        if response is None:
            return SearchResult(total=0, hits=())
        return search_result(query, node, response)

    def get_posts(self, ids: Sequence[str]) -> list[ScoredPost]:
        if not ids:
            return []
        body = {"query": {"terms": {"id": list(ids)}}, "size": len(ids), "_source": {"excludes": ["text_seg"]}}
        response = self._read(f"/{POSTS_ALIAS}/_search", body)
        found = {h["_source"]["id"]: docs.post_from_doc(h["_source"]) for h in (response or {"hits": {"hits": []}})
                 ["hits"]["hits"]}
        return [found[i] for i in ids if i in found]

    def get_alert(self, key: str) -> Alert | None:
        response = self._read(f"/{ALERTS_ALIAS}/_search", {"query": {"term": {"key": key}}, "size": 1})
        hits = response["hits"]["hits"] if response else []
        return docs.alert_from_doc(hits[0]["_source"]) if hits else None

    def search_alerts(self, query: AlertQuery) -> list[Alert]:
        check_alerts(query)
        node = parse(query.text) if query.text.strip() else None
        response = self._read(f"/{ALERTS_ALIAS}/_search", alert_body(query, node))
        return [docs.alert_from_doc(h["_source"]) for h in (response["hits"]["hits"] if response else [])]

    def close(self) -> None:
        self.transport.close()
