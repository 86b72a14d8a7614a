"""SearchQuery / AlertQuery -> Elasticsearch/OpenSearch request bodies, and responses -> results.

Pure and shared by both server adapters, so OpenSearch and Elasticsearch run the same queries. The
semantics follow the embedded store exactly: phrases over ``text_seg``, ``since`` inclusive and
``until`` exclusive, sort ties broken by ``id``, facets top 50 by count then key, histogram buckets
aligned to the epoch with empty buckets left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from yujing.search import docs
from yujing.search.filters import AlertQuery, sort_fields
from yujing.search.highlight import highlight
from yujing.search.mapping import FACET_FIELDS, FACET_SIZE, SIGNAL_FIELDS
from yujing.search.query import Node, compile_dsl, terms
from yujing.search.store import Hit, SearchQuery, SearchResult


def _time_range(since: Any, until: Any) -> dict[str, Any] | None:
    bounds: dict[str, Any] = {}
    if since is not None:
        bounds["gte"] = docs.ts_ms(since)
    if until is not None:
        bounds["lt"] = docs.ts_ms(until)
    return {"range": {"ts": {**bounds, "format": "epoch_millis"}}} if bounds else None


def signals_page_body(since: Any = None, until: Any = None, size: int = 500,
                      after: Sequence[Any] | None = None) -> dict[str, Any]:
    """One page of the posts index as the signals index holds it (``yujing grafana backfill``): oldest first, ties
    by id, ``search_after`` the previous page's last sort values, and only the fields Grafana may see, so no text,
    author or link leaves the posts index."""
    time = _time_range(since, until)
    body: dict[str, Any] = {
        "query": {"bool": {"filter": [time] if time else []}},
        "size": size,
        "track_total_hits": True,
        "sort": [{"ts": {"order": "asc"}}, {"id": {"order": "asc"}}],
        "_source": {"includes": [*SIGNAL_FIELDS, "scores"]},
    }
    if after is not None:
        body["search_after"] = list(after)
    return body


def post_filters(query: SearchQuery) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = []
    if query.platforms:
        filters.append({"terms": {"platforms": list(query.platforms)}})
    if query.districts:
        filters.append({"terms": {"districts": list(query.districts)}})
    if query.signal is not None:
        filters.append({"range": {f"scores.{query.signal.value}": {"gte": query.min_score}}})
    if query.sources:
        filters.append({"terms": {"source": list(query.sources)}})
    time = _time_range(query.since, query.until)
    if time:
        filters.append(time)
    return filters


def search_body(query: SearchQuery, node: Node | None) -> dict[str, Any]:
    boolean: dict[str, Any] = {"filter": post_filters(query)}
    if node is not None:
        boolean["must"] = [compile_dsl(node)]
    body: dict[str, Any] = {
        "query": {"bool": boolean},
        "size": query.size,
        "track_total_hits": True,
        "sort": [{field: {"order": "desc" if desc else "asc"}} for field, desc in sort_fields(query)],
        "_source": {"excludes": ["text_seg"]},
    }
    if query.search_after is not None:
        body["search_after"] = list(query.search_after)
    aggs: dict[str, Any] = {}
    if query.facets:
        for name, field in FACET_FIELDS.items():
            aggs[name] = {"terms": {"field": field, "size": FACET_SIZE, "order": [{"_count": "desc"}, {"_key": "asc"}]}}
    if query.histogram:
        aggs["histogram"] = {"date_histogram": {"field": "ts", "fixed_interval": query.histogram, "min_doc_count": 1}}
    if aggs:
        body["aggs"] = aggs
    return body


def _sort_value(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() and abs(value) > 1e9 else value


def search_result(query: SearchQuery, node: Node | None, response: Mapping[str, Any]) -> SearchResult:
    phrases = terms(node)
    hits = []
    for raw in response["hits"]["hits"]:
        src = raw["_source"]
        hits.append(Hit(post=docs.post_from_doc(src), highlight=highlight(src["text"], phrases),
                        sort=tuple(_sort_value(v) for v in raw.get("sort", ()))))
    aggs = response.get("aggregations", {})
    facets = {name: {str(b["key"]): int(b["doc_count"]) for b in aggs[name]["buckets"]}
              for name in FACET_FIELDS if name in aggs}
    histogram = tuple((docs.from_ms(int(b["key"])), int(b["doc_count"]))
                      for b in aggs.get("histogram", {}).get("buckets", ()) if b["doc_count"])
    total = response["hits"]["total"]
    return SearchResult(total=int(total["value"] if isinstance(total, Mapping) else total), hits=tuple(hits),
                        facets=facets, histogram=histogram)


def alert_body(query: AlertQuery, node: Node | None) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    for field, values in (("platform", query.platforms), ("district", query.districts),
                          ("agencies", query.agencies)):
        if values:
            filters.append({"terms": {field: list(values)}})
    if query.signal is not None:
        filters.append({"term": {"signal": query.signal.value}})
    if query.min_level is not None:
        filters.append({"range": {"level_rank": {"gte": query.min_level.rank}}})
    if query.status:
        filters.append({"term": {"status": query.status}})
    time = _time_range(query.since, query.until)
    if time:
        filters.append(time)
    boolean: dict[str, Any] = {"filter": filters}
    if node is not None:
        boolean["must"] = [compile_dsl(node, field="explanation_text")]
    return {"query": {"bool": boolean}, "size": query.size,
            "sort": [{"ts": {"order": "desc"}}, {"key": {"order": "desc"}}]}
