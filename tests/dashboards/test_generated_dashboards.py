"""The committed dashboards: no drift, they parse into the SDK's models, every query is answerable."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from yujing.dashboards import generate, infinity, validate
from yujing.dashboards.fields import ALERTS_DS_UID, PROMETHEUS_DS_UID, SIGNALS_DS_UID
from yujing.records import LEVELS

GENERATED = generate.GENERATED_DIR
# Keys the SDK's AnnotationQuery model has no place for; EsAnnotationQuery writes them on purpose.
ES_ANNOTATION_KEYS = {"timeField", "textField", "tagsField", "query"}


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GENERATED / name).read_text(encoding="utf-8"))
    return data


def _lost_keys(original: Any, parsed: Any, path: str = "") -> list[str]:
    """Paths present in ``original`` but dropped or changed by a parse/serialise round trip."""
    if isinstance(original, dict) and isinstance(parsed, dict):
        out = []
        for key, value in original.items():
            out += [f"{path}/{key}"] if key not in parsed else _lost_keys(value, parsed[key], f"{path}/{key}")
        return out
    if isinstance(original, list) and isinstance(parsed, list) and len(original) == len(parsed):
        pairs = enumerate(zip(original, parsed, strict=True))
        return [p for i, (a, b) in pairs for p in _lost_keys(a, b, f"{path}[{i}]")]
    return [] if original == parsed else [f"{path}: {original!r} != {parsed!r}"]


def test_committed_json_equals_a_fresh_generation() -> None:
    committed = sorted(p.relative_to(GENERATED).as_posix() for p in GENERATED.rglob("*.json"))
    assert committed == sorted(generate.render()) == sorted(["situation.json", "pipeline.json", generate.EMBEDDED])
    assert generate.drift() == [], "run `yujing grafana generate` and commit dashboards/generated"


def test_drift_is_detected(tmp_path: Path) -> None:
    generate.write(tmp_path)
    assert generate.drift(tmp_path) == []
    (tmp_path / "pipeline.json").write_text("{}", encoding="utf-8")
    (tmp_path / "situation.json").unlink()
    (tmp_path / generate.EMBEDDED).write_text("{}", encoding="utf-8")
    assert sorted(generate.drift(tmp_path)) == sorted([generate.EMBEDDED, "pipeline.json", "situation.json"])


@pytest.mark.parametrize("name", ["situation.json", "pipeline.json", generate.EMBEDDED])
def test_dashboards_parse_into_sdk_models_without_losing_anything(name: str) -> None:
    register_default_plugins()
    infinity.register()
    original = _load(name)
    model = Dashboard.from_json(original)
    assert model.uid == original["uid"] and model.panels
    if name == generate.EMBEDDED:  # Infinity targets come back as the typed model, not an untyped bag
        targets = [t for p in model.panels or [] for t in getattr(p, "targets", None) or []]
        assert targets and all(isinstance(t, infinity.InfinityQuery) for t in targets)
    parsed = json.loads(json.dumps(model, cls=JSONEncoder))
    lost = [p for p in _lost_keys(original, parsed) if p.rsplit("/", 1)[-1] not in ES_ANNOTATION_KEYS]
    assert lost == []


@pytest.mark.parametrize("name", ["situation.json", "pipeline.json", generate.EMBEDDED])
def test_every_query_references_real_fields_and_exported_metrics(name: str) -> None:
    assert validate.problems(_load(name)) == []


def test_situation_dashboard_has_what_the_duty_room_needs() -> None:
    board = _load("situation.json")
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert {"platform", "district", "signal", "incident_base"} <= set(variables)
    panels = list(validate.iter_panels(board))
    sources = {(p.get("datasource") or {}).get("uid") for p in panels if p["type"] != "row"}
    assert sources == {SIGNALS_DS_UID, ALERTS_DS_UID}  # no data source with post texts
    assert {p["type"] for p in panels} >= {"stat", "timeseries", "bargauge", "piechart", "table"}
    text = json.dumps(board, ensure_ascii=False)
    for level in LEVELS:
        assert level.chinese in text
        assert f'"iconColor": "{level.value}"' in text  # one annotation per level in its colour
    assert "${incident_base}/incidents/${__value.raw}" in text
    timeline = next(p for p in panels if p["type"] == "timeseries")
    assert timeline["repeat"] == "signal"


def test_pipeline_dashboard_covers_the_health_questions() -> None:
    board = _load("pipeline.json")
    exprs = " ".join(t["expr"] for p in validate.iter_panels(board) for t in p.get("targets", []))
    for metric in (
        "yujing_stage_records_total",
        "yujing_consumer_lag",
        "yujing_scoring_seconds_bucket",
        "yujing_dead_letters_total",
        "yujing_outbox_pending",
        "yujing_notifications_total",
    ):
        assert metric in exprs
    sources = {(p.get("datasource") or {}).get("uid") for p in board["panels"] if p["type"] != "row"}
    assert sources == {PROMETHEUS_DS_UID}


def test_validation_catches_a_missing_field_metric_and_label() -> None:
    board = copy.deepcopy(_load("situation.json"))
    table = next(p for p in validate.iter_panels(board) if p["type"] == "table")
    table["targets"][0]["query"] = "platfrom:$platform"
    board["annotations"]["list"][0]["textField"] = "summary"
    bars = next(p for p in validate.iter_panels(board) if p["type"] == "bargauge")
    bars["targets"][0]["bucketAggs"][0]["field"] = "explanation_text"
    bars["targets"][0]["metrics"][0]["field"] = "platform"
    districts = next(p for p in validate.iter_panels(board) if p["type"] == "piechart")
    districts["targets"][0]["bucketAggs"][0]["field"] = "text"  # post panels read the text-free copies
    found = validate.problems(board)
    assert any("terms on 'explanation_text' of type text" in line for line in found)
    assert any("max on 'platform' of type keyword" in line for line in found)
    assert any("no field 'text'" in line for line in found)
    assert any("no field 'platfrom'" in line for line in found)
    assert any("no field 'summary'" in line for line in found)

    pipeline = copy.deepcopy(_load("pipeline.json"))
    target = next(p for p in validate.iter_panels(pipeline) if p["type"] == "timeseries")["targets"][0]
    target["expr"] = "sum by (colour) (rate(yujing_records_total[5m]))"
    found = validate.problems(pipeline)
    assert any("metric 'yujing_records_total' is not exported" in line for line in found)
    assert any("label 'colour'" in line for line in found)


def test_promql_and_lucene_references() -> None:
    metrics, labels = validate.promql_references(
        'histogram_quantile(0.95, sum by (le, model) (rate(yujing_scoring_seconds_bucket{job=~"$job"}'
        "[$__rate_interval]))) * on (job) group_left (role) yujing_build_info or vector(0)"
    )
    assert metrics == {"yujing_scoring_seconds_bucket", "yujing_build_info"}
    assert labels == {"le", "model", "job", "role"}
    fields = validate.lucene_fields('status:firing AND scores.panic:>0.5 AND text:"a:b"')
    assert fields == {"status", "scores.panic", "text"}


def test_every_promql_expression_in_the_generated_dashboards_parses() -> None:
    exprs = [t["expr"] for name in sorted(generate.render()) for p in validate.iter_panels(_load(name))
             for t in p.get("targets", []) if "expr" in t]
    assert len(exprs) >= 10
    for expr in exprs:
        validate.parse_promql(expr)  # raises ValueError with the parser's reason


def test_promql_that_does_not_parse_is_reported() -> None:
    pipeline = copy.deepcopy(_load("pipeline.json"))
    targets = [t for p in validate.iter_panels(pipeline) for t in p.get("targets", [])]
    targets[0]["expr"] = 'sum(rate(yujing_stage_records_total{job=~"$job"}[$__rate_interval])'
    targets[1]["expr"] = "rate(yujing_consumer_lag[5m)"
    targets[2]["expr"] = "histogram_quantile(sum(rate(yujing_scoring_seconds_bucket[5m])))"
    targets[3]["expr"] = "yujing_outbox_pending[$job]"  # a variable where a duration must be
    pipeline["templating"]["list"][0]["query"]["query"] = "label_values(yujing_built_info, job)"
    found = validate.problems(pipeline)
    assert sum("PromQL does not parse" in line for line in found) == 4, found
    assert any("variable 'job': metric 'yujing_built_info' is not exported" in line for line in found), found
