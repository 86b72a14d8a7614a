"""Check generated dashboards against what really exists: index fields and exported metrics.

Pure functions over the dashboard JSON. ``problems(board)`` returns one readable line per query
that names a field the index mapping lacks or aggregates a field of the wrong type, a metric
``yujing.metrics`` does not export, or a label that metric does not carry; an empty list means
every query can be answered."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from yujing.dashboards.fields import field_types
from yujing.metrics import SPECS

# Prometheus adds these to every scraped series; ``up`` is Prometheus's own per-target metric.
TARGET_LABELS = frozenset({"job", "instance"})
PROMETHEUS_SERIES: Mapping[str, frozenset[str]] = {"up": TARGET_LABELS}
_PROMQL_WORDS_TEXT = """
sum min max avg count stddev stdvar topk bottomk quantile count_values group by without on ignoring
group_left group_right and or unless bool offset rate irate increase delta idelta deriv histogram_quantile
vector scalar abs ceil floor round clamp clamp_min clamp_max label_replace label_join time timestamp
absent absent_over_time avg_over_time max_over_time min_over_time sum_over_time count_over_time
last_over_time sort sort_desc inf nan
"""
_PROMQL_WORDS = frozenset(_PROMQL_WORDS_TEXT.split())
_NUMERIC = frozenset({"integer", "long", "float", "double", "scaled_float"})
_LUCENE_FIELD = re.compile(r"(?<![\w.$\\])([A-Za-z_][\w.]*):")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_PROM_MATCHERS = re.compile(r"\{([^}]*)\}")
_PROM_GROUPING = re.compile(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)")
_PROM_IDENT = re.compile(r"(?<![\w$])([A-Za-z_:][\w:]*)")
_LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def exported_series() -> dict[str, frozenset[str]]:
    """Every sample name a query may use, with the labels it carries once scraped."""
    out = dict(PROMETHEUS_SERIES)
    for spec in SPECS:
        for name in spec.series:
            extra = {"le"} if name.endswith("_bucket") else set()
            out[name] = frozenset(spec.labels) | TARGET_LABELS | extra
    return out


def iter_panels(board: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def _targets(board: Mapping[str, Any], ds_type: str) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(panel title, data source uid, target) for every query on a data source of ``ds_type``."""
    for panel in iter_panels(board):
        panel_ds = panel.get("datasource") or {}
        for target in panel.get("targets", []):
            ds = target.get("datasource") or panel_ds
            if ds.get("type") == ds_type:
                yield panel.get("title", "?"), ds.get("uid", ""), target


# --- Elasticsearch --------------------------------------------------------------------------------


def lucene_fields(query: str) -> set[str]:
    """Field names a Lucene query string filters on (``platform:$platform`` -> ``platform``)."""
    return set(_LUCENE_FIELD.findall(_QUOTED.sub('""', query)))


def es_target_fields(target: Mapping[str, Any]) -> set[str]:
    fields = lucene_fields(target.get("query") or "")
    fields |= {a["field"] for a in target.get("bucketAggs", []) if a.get("field")}
    fields |= {m["field"] for m in target.get("metrics", []) if m.get("field")}
    if target.get("timeField"):
        fields.add(target["timeField"])
    return fields


def _es_panel_columns(panel: Mapping[str, Any]) -> set[str]:
    """Columns a raw-document table keeps, orders or styles by name."""
    names: set[str] = set()
    for step in panel.get("transformations", []):
        options = step.get("options", {})
        names |= set(options.get("include", {}).get("names", []))
        names |= set(options.get("indexByName", {}))
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        if override["matcher"]["id"] == "byName":
            names.add(override["matcher"]["options"])
    return names


_AGG_TYPES = {
    "terms": frozenset({"keyword", "integer", "long", "boolean"}),
    "date_histogram": frozenset({"date"}),
    "histogram": _NUMERIC,
    **{metric: _NUMERIC for metric in ("avg", "sum", "min", "max", "percentiles", "extended_stats")},
}


def _type_problems(title: str, target: Mapping[str, Any], types: Mapping[str, str]) -> list[str]:
    """Aggregations on a field of the wrong type (terms on analysed text, sums of keywords, ...)."""
    out = []
    for agg in [*target.get("bucketAggs", []), *target.get("metrics", [])]:
        wanted, field = _AGG_TYPES.get(agg.get("type", "")), agg.get("field")
        if wanted and field in types and types[field] not in wanted:
            out.append(f"panel {title!r}: {agg['type']} on {field!r} of type {types[field]} (needs {sorted(wanted)})")
    return out


def _es_problems(board: Mapping[str, Any], types_of: Callable[[str], Mapping[str, str]]) -> list[str]:
    out = []
    for title, uid, target in _targets(board, "elasticsearch"):
        types = types_of(uid)
        known = frozenset(k for k, v in types.items() if v != "object")
        out += _type_problems(title, target, types)
        out += [
            f"panel {title!r} query {target.get('refId')}: no field {f!r} in {uid}"
            for f in sorted(es_target_fields(target) - known)
        ]
    for panel in iter_panels(board):
        ds = panel.get("datasource") or {}
        if panel.get("type") == "table" and ds.get("type") == "elasticsearch":
            missing = _es_panel_columns(panel) - frozenset(types_of(ds["uid"]))
            out += [f"panel {panel['title']!r}: column {f!r} is not a field of {ds['uid']}" for f in sorted(missing)]
    return out


def _annotation_problems(board: Mapping[str, Any], types_of: Callable[[str], Mapping[str, str]]) -> list[str]:
    out = []
    for ann in board.get("annotations", {}).get("list", []):
        ds = ann.get("datasource") or {}
        if ds.get("type") != "elasticsearch":
            continue
        used = lucene_fields(ann.get("target", {}).get("query", ""))
        used |= {ann[k] for k in ("timeField", "textField", "tagsField") if ann.get(k)}
        missing = sorted(used - frozenset(types_of(ds["uid"])))
        out += [f"annotation {ann['name']!r}: no field {f!r} in {ds['uid']}" for f in missing]
    return out


def _variable_problems(board: Mapping[str, Any], types_of: Callable[[str], Mapping[str, str]]) -> list[str]:
    out = []
    for var in board.get("templating", {}).get("list", []):
        ds = var.get("datasource") or {}
        if var.get("type") != "query" or ds.get("type") != "elasticsearch":
            continue
        field = json.loads(var["query"]).get("field")
        if types_of(ds["uid"]).get(field) not in _AGG_TYPES["terms"]:
            out.append(f"variable {var['name']!r}: no keyword field {field!r} in {ds['uid']}")
    return out


# --- Prometheus -----------------------------------------------------------------------------------


def promql_references(expr: str) -> tuple[set[str], set[str]]:
    """(metric names, label names) a PromQL expression uses. Small and conservative, not a parser."""
    labels: set[str] = set()
    text = _QUOTED.sub('""', expr)
    for body in _PROM_MATCHERS.findall(text):
        labels |= {m.group(1) for m in re.finditer(r"(\w+)\s*(?:=~|!~|!=|=)", body)}
    for body in _PROM_GROUPING.findall(text):
        labels |= {name.strip() for name in body.split(",") if name.strip()}
    text = _PROM_GROUPING.sub(" ", _PROM_MATCHERS.sub(" ", text))
    text = re.sub(r"\[[^\]]*\]", " ", text)
    metrics = {m for m in _PROM_IDENT.findall(text) if m not in _PROMQL_WORDS}
    return metrics, labels


def _prom_problems(board: Mapping[str, Any], series: Mapping[str, frozenset[str]]) -> list[str]:
    out = []
    for title, _uid, target in _targets(board, "prometheus"):
        metrics, labels = promql_references(target.get("expr", ""))
        unknown = sorted(metrics - set(series))
        out += [f"panel {title!r} query {target.get('refId')}: metric {m!r} is not exported" for m in unknown]
        if not metrics:
            out.append(f"panel {title!r} query {target.get('refId')}: no metric in {target.get('expr')!r}")
        carried = frozenset().union(*(series.get(m, frozenset()) for m in metrics))
        labels |= set(_LEGEND_LABEL.findall(target.get("legendFormat", "")))
        out += [
            f"panel {title!r} query {target.get('refId')}: label {lb!r} is on none of {sorted(metrics)}"
            for lb in sorted(labels - carried)
        ]
    return out


def problems(
    board: Mapping[str, Any],
    types_of: Callable[[str], Mapping[str, str]] = field_types,
    series: Mapping[str, frozenset[str]] | None = None,
) -> list[str]:
    """Everything in ``board`` that the index mapping or the metrics registry cannot answer."""
    series = exported_series() if series is None else series
    return (
        _es_problems(board, types_of)
        + _annotation_problems(board, types_of)
        + _variable_problems(board, types_of)
        + _prom_problems(board, series)
    )
