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
_NUMERIC = frozenset({"integer", "long", "float", "double", "scaled_float"})
_LUCENE_FIELD = re.compile(r"(?<![\w.$\\])([A-Za-z_][\w.]*):")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
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

# Grafana's interval macros stand where PromQL wants a duration; any duration parses the same way.
_GRAFANA_DURATIONS = re.compile(r"\$(?:__rate_interval|__interval|__range)\b"
                                r"|\$\{(?:__rate_interval|__interval|__range)\}")
_DURATION = re.compile(r"^(?:\d+(?:ms|[smhdwy]))+$")
_LABEL_VALUES = re.compile(r"^\s*label_values\((?:(.*),)?\s*(\w+)\s*\)\s*$", re.S)


def promql_of(grafana_expr: str) -> str:
    """The PromQL Prometheus receives, up to durations: Grafana's interval macros become ``5m``.

    Template variables inside label values (``job=~"$job"``) are plain strings and stay; a variable
    anywhere else is left in and fails the parse, which is right: that query cannot be checked."""
    return _GRAFANA_DURATIONS.sub("5m", grafana_expr)


def parse_promql(grafana_expr: str) -> Any:
    """The promql-parser AST of a Grafana PromQL expression; ``ValueError`` with the reason if invalid."""
    try:
        import promql_parser
    except ImportError as exc:  # a dev dependency: the service itself never parses PromQL
        raise RuntimeError("PromQL checks need promql-parser: pip install 'yujing[dev]'") from exc
    return promql_parser.parse(promql_of(grafana_expr))


def _walk(node: Any, metrics: set[str], labels: set[str]) -> None:
    import promql_parser as pp

    if isinstance(node, pp.MatrixSelector):
        node = node.vector_selector
    if isinstance(node, pp.VectorSelector):
        matchers = [*node.matchers.matchers, *(m for group in node.matchers.or_matchers for m in group)]
        names = {m.value for m in matchers if m.name == "__name__"}
        metrics.update({node.name} if node.name else names)
        labels.update(m.name for m in matchers if m.name != "__name__")
    elif isinstance(node, pp.AggregateExpr):
        if node.modifier is not None:
            labels.update(node.modifier.labels)
        _walk(node.expr, metrics, labels)
        if node.param is not None:
            _walk(node.param, metrics, labels)
    elif isinstance(node, pp.BinaryExpr):
        modifier = node.modifier
        if modifier is not None:
            labels.update(modifier.matching.labels if modifier.matching is not None else ())
            labels.update(modifier.group_labels or ())
        _walk(node.lhs, metrics, labels)
        _walk(node.rhs, metrics, labels)
    elif isinstance(node, pp.Call):
        for arg in node.args:
            _walk(arg, metrics, labels)
    elif isinstance(node, pp.UnaryExpr | pp.ParenExpr | pp.SubqueryExpr):
        _walk(node.expr, metrics, labels)


def promql_references(expr: str) -> tuple[set[str], set[str]]:
    """(metric names, label names) a PromQL expression uses, from its parsed AST.

    Label names are those the query matches, groups or joins on; ``ValueError`` if it does not parse."""
    metrics: set[str] = set()
    labels: set[str] = set()
    _walk(parse_promql(expr), metrics, labels)
    return metrics, labels


def _check_promql(where: str, expr: str, series: Mapping[str, frozenset[str]],
                  legend: str = "") -> list[str]:
    try:
        metrics, labels = promql_references(expr)
    except ValueError as exc:
        return [f"{where}: PromQL does not parse ({exc}): {expr!r}"]
    except RuntimeError as exc:  # promql-parser absent (a runtime-only install): say so, do not guess
        return [f"{where}: not checked: {exc}"]
    out = [f"{where}: metric {m!r} is not exported" for m in sorted(metrics - set(series))]
    if not metrics:
        out.append(f"{where}: no metric in {expr!r}")
    carried = frozenset().union(*(series.get(m, frozenset()) for m in metrics))
    labels |= set(_LEGEND_LABEL.findall(legend))
    out += [f"{where}: label {lb!r} is on none of {sorted(metrics)}" for lb in sorted(labels - carried)]
    return out


def _prom_problems(board: Mapping[str, Any], series: Mapping[str, frozenset[str]]) -> list[str]:
    out = []
    for title, _uid, target in _targets(board, "prometheus"):
        out += _check_promql(f"panel {title!r} query {target.get('refId')}", target.get("expr", ""), series,
                             target.get("legendFormat", ""))
    for var in board.get("templating", {}).get("list", []):
        ds = var.get("datasource") or {}
        if var.get("type") != "query" or ds.get("type") != "prometheus":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        m = _LABEL_VALUES.match(query)
        if m is None or not m.group(1):
            out.append(f"variable {var['name']!r}: expected label_values(METRIC, LABEL), got {query!r}")
            continue
        out += _check_promql(f"variable {var['name']!r}", f"{m.group(1)}{{{m.group(2)}!=\"\"}}", series)
    return out


def rule_problems(rules: Mapping[str, Any], series: Mapping[str, frozenset[str]] | None = None) -> list[str]:
    """A Prometheus alerting-rule file (``groups: [{name, rules: [{alert, expr, for, labels,
    annotations}]}]``) checked like the dashboards: every expr parses and uses exported metrics/labels."""
    series = exported_series() if series is None else series
    out: list[str] = []
    for group in rules.get("groups") or []:
        for rule in group.get("rules") or []:
            where = f"group {group.get('name')!r} rule {rule.get('alert') or rule.get('record')!r}"
            if not rule.get("alert") or "expr" not in rule:
                out.append(f"{where}: an alerting rule needs alert and expr (recording rules are not used here)")
                continue
            out += _check_promql(where, str(rule["expr"]), series)
            for key in ("for", "keep_firing_for"):
                if key in rule and not _DURATION.match(str(rule[key])):
                    out.append(f"{where}: {key} {rule[key]!r} is not a Prometheus duration such as 5m")
    return out


# --- Infinity over /situation.json -----------------------------------------------------------------

INFINITY_TYPE = "yesoreyeram-infinity-datasource"
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::[^}]*)?\}|(\w+))")
_GRAFANA_GLOBALS = frozenset({"__from", "__to", "__interval", "__rate_interval", "__range", "__value",
                              "__data", "__field", "__series"})


def _resolve(data: Any, path: str) -> tuple[bool, Any]:
    """Follow a dotted path (``a.b.c``) through nested objects."""
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return False, None
        data = data[part]
    return True, data


def _type_ok(value: Any, column_type: str) -> bool:
    from datetime import datetime

    if column_type == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if column_type == "timestamp":
        try:
            return isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None
        except ValueError:
            return False
    if column_type in ("timestamp_epoch", "timestamp_epoch_s"):
        return isinstance(value, int | float)
    return isinstance(value, str)


def infinity_problems(board: Mapping[str, Any], responses: Mapping[str, Any],
                      params: Mapping[str, frozenset[str]]) -> list[str]:
    """Every Infinity query of ``board`` against real responses: ``responses`` maps a URL path to the
    JSON it returned, ``params`` the query parameters that endpoint accepts. A root selector or a
    column selector that is missing, or a value of the wrong type, in any row is a problem."""
    out = []
    defined = {v["name"] for v in board.get("templating", {}).get("list", [])}
    for title, _uid, target in _targets(board, INFINITY_TYPE):
        where = f"panel {title!r} query {target.get('refId')}"
        url = target.get("url", "")
        if url not in responses:
            out.append(f"{where}: url {url!r} is not one Yujing serves ({', '.join(sorted(responses))})")
            continue
        for kv in (target.get("url_options") or {}).get("params", []):
            if kv["key"] not in params[url]:
                out.append(f"{where}: {url} takes no parameter {kv['key']!r}")
            for a, b in _VARIABLE.findall(kv["value"]):
                if (a or b) not in defined and (a or b) not in _GRAFANA_GLOBALS:
                    out.append(f"{where}: variable ${a or b} is not defined")
        found, rows = _resolve(responses[url], target.get("root_selector", ""))
        if not found:
            out.append(f"{where}: {url} has no {target.get('root_selector')!r}")
            continue
        rows = rows if isinstance(rows, list) else [rows]
        if not rows:
            out.append(f"{where}: {url} returned no rows at {target['root_selector']!r}; cannot check the columns")
        for column in target.get("columns", []):
            for i, row in enumerate(rows):
                ok, value = _resolve(row, column["selector"])
                if not ok:
                    out.append(f"{where}: row {i} of {target['root_selector']!r} has no {column['selector']!r}")
                    break
                if not _type_ok(value, column["type"]):
                    out.append(f"{where}: {target['root_selector']}[{i}].{column['selector']} = {value!r} "
                               f"is not a {column['type']}")
                    break
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
