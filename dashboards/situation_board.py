"""The situation dashboard (态势): what leaders and duty rooms watch, on the Elasticsearch indices.

Panels: current warnings by level (蓝/黄/橙/红), flagged posts per signal, a signal timeline per
platform (repeated for each selected signal, warnings annotated on it in their level's colour),
top platforms by risk, the district breakdown, and the warnings table whose keys link to Yujing's
incident view. Variables: platform, district, signal, and the incident view's base URL.
"""

from __future__ import annotations

import json

from grafana_foundation_sdk.builders import bargauge, piechart, stat, table, timeseries
from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import elasticsearch as es
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import elasticsearch as es_m
from grafana_foundation_sdk.models import piechart as piechart_m

from yujing.dashboards.fields import ALERTS_DS_UID, SIGNALS_DS_UID, SITUATION_UID
from yujing.dashboards.panels import (
    LEVEL_COLOURS,
    EsAnnotation,
    count_query,
    es_ref,
    fixed_colour,
    level_label,
    level_mappings,
    level_rank_mappings,
    level_rank_thresholds,
    lucene_and,
    terms,
)
from yujing.records import LEVELS, SIGNALS

DEFAULT_INCIDENT_BASE = "http://localhost:8765"  # `yujing api` default port
POSTS = es_ref(SIGNALS_DS_UID)  # counts of posts, from their text-free copies
ALERTS = es_ref(ALERTS_DS_UID)
POST_FILTER = lucene_and("platforms:$platform", "districts:$district")
ALERT_FILTER = lucene_and("platform:$platform", "district:$district", "signal:$signal")
SIGNAL_TITLES = {"rumour": "谣言 rumour", "panic": "挤兑恐慌 panic", "gathering": "聚集 gathering"}
TABLE_COLUMNS = ("ts", "level", "platform", "district", "signal", "status", "posts", "agencies", "rule", "key")
COLUMN_TITLES = {
    "ts": "时间 time", "level": "级别 level", "platform": "平台 platform", "district": "辖区 district",
    "signal": "信号 signal", "status": "状态 status", "posts": "帖文 posts", "agencies": "部门 agencies",
    "rule": "规则 rule", "key": "事件 incident",
}  # fmt: skip


def _terms_variable(name: str, label: str, field: str) -> dash.QueryVariable:
    """Values of ``field`` in the posts index; "All" matches any value (``*``)."""
    return (
        dash.QueryVariable(name)
        .label(label)
        .datasource(POSTS)
        .query(json.dumps({"find": "terms", "field": field, "size": 1000}))
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value("*")
        .current(model.VariableOption(text="All", value="$__all", selected=True))
    )


def _signal_variable() -> dash.CustomVariable:
    return (
        dash.CustomVariable("signal")
        .label("信号 signal")
        .values(",".join(s.value for s in SIGNALS))
        .multi(True)
        .include_all(True)
        .current(model.VariableOption(text="All", value="$__all", selected=True))
    )


def _incident_base_variable(incident_base: str) -> dash.TextBoxVariable:
    return (
        dash.TextBoxVariable("incident_base")
        .label("事件视图 incident view")
        .description("Base URL of Yujing's HTTP API; the warnings table links to <base>/incidents/<key>.")
        .default_value(incident_base)
        .current(model.VariableOption(text=incident_base, value=incident_base, selected=True))
    )


def _warnings_by_level() -> stat.Panel:
    panel = (
        stat.Panel()
        .title("当前预警 Current warnings by level")
        .description("Firing warnings in the time range, by level (蓝/黄/橙/红).")
        .datasource(ALERTS)
        .height(6)
        .span(12)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .reduce_options(common_b.ReduceDataOptions().calcs(["sum"]).values(False))
        .no_value("0")
    )
    for level in reversed(LEVELS):
        ref = level.value.upper()
        panel.with_target(
            count_query(ref, lucene_and("status:firing", f"level:{level.value}", ALERT_FILTER), level_label(level))
        )
        panel.override_by_query(ref, [fixed_colour(LEVEL_COLOURS[level])])
    return panel


def _flagged_posts() -> stat.Panel:
    panel = (
        stat.Panel()
        .title("风险帖文 Flagged posts per signal")
        .description("Posts at or above the classifier threshold for each signal in the time range.")
        .datasource(POSTS)
        .height(6)
        .span(12)
        .color_mode(common.BigValueColorMode.VALUE)
        .graph_mode(common.BigValueGraphMode.AREA)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .reduce_options(common_b.ReduceDataOptions().calcs(["sum"]).values(False))
        .no_value("0")
    )
    for signal in SIGNALS:
        query = lucene_and(f"labels:{signal.value}", POST_FILTER)
        panel.with_target(count_query(signal.value.upper(), query, SIGNAL_TITLES[signal.value]))
    return panel


def _flagged_by(field: str, size: int, *, over_time: bool) -> es.Dataquery:
    """Flagged posts (selected signals and filters) per value of ``field``, optionally per time bucket."""
    buckets: list[cogbuilder.Builder[es_m.BucketAggregation]] = [terms(field, size, "3")]
    if over_time:
        buckets.append(
            es.DateHistogram().id("2").field("ts").settings(es.ElasticsearchDateHistogramSettings().interval("auto"))
        )
    return (
        es.Dataquery()
        .ref_id("A")
        .query(lucene_and("labels:$signal", POST_FILTER))
        .alias(f"{{{{term {field}}}}}" if over_time else "")
        .time_field("ts")
        .metrics([es.Count().id("1")])
        .bucket_aggs(buckets)
    )


def _timeline() -> timeseries.Panel:
    legend = (
        common_b.VizLegendOptions().display_mode(common.LegendDisplayMode.LIST).placement(common.LegendPlacement.BOTTOM)
    )
    return (
        timeseries.Panel()
        .title("信号时间线 Signal timeline per platform: $signal")
        .description(
            "Flagged posts per platform over time, one panel per selected signal; warnings annotated by level."
        )
        .datasource(POSTS)
        .repeat("signal")
        .repeat_direction("h")
        .height(9)
        .span(24)
        .with_target(_flagged_by("platforms", 10, over_time=True).query(lucene_and("labels:${signal}", POST_FILTER)))
        .draw_style(common.GraphDrawStyle.LINE)
        .fill_opacity(10)
        .legend(legend.show_legend(True).calcs([]))
        .unit("short")
    )


def _top_platforms() -> bargauge.Panel:
    """Risk = the highest warning level a platform reached in the range (alerts' ``level_rank``)."""
    query = (
        es.Dataquery()
        .ref_id("A")
        .query(ALERT_FILTER)
        .time_field("ts")
        .metrics([es.Max().id("1").field("level_rank")])
        .bucket_aggs([terms("platform", 15, "2", order_by="1")])
    )
    return (
        bargauge.Panel()
        .title("风险平台 Top platforms by risk")
        .description("Platforms by the highest warning level they reached in the time range (红 > 橙 > 黄 > 蓝).")
        .datasource(ALERTS)
        .height(10)
        .span(12)
        .with_target(query)
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.BASIC)
        .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(True))
        .mappings(level_rank_mappings())
        .thresholds(dash.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(level_rank_thresholds()))
        .color_scheme(dash.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
        .min(0)
        .max(4)
    )


def _districts() -> piechart.Panel:
    return (
        piechart.Panel()
        .title("辖区分布 District breakdown")
        .description("Flagged posts by the district of the platforms they name.")
        .datasource(POSTS)
        .height(10)
        .span(12)
        .with_target(_flagged_by("districts", 30, over_time=False))
        .pie_type(piechart_m.PieChartType.DONUT)
        .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(True))
        .legend(
            piechart.PieChartLegendOptions()
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.RIGHT)
            .values([piechart_m.PieChartLegendValues.VALUE, piechart_m.PieChartLegendValues.PERCENT])
            .show_legend(True)
        )
    )


def _warnings_table() -> table.Panel:
    query = (
        es.Dataquery()
        .ref_id("A")
        .query(ALERT_FILTER)
        .time_field("ts")
        .metrics([es.RawData().id("1").settings(es.ElasticsearchRawDataSettings().size("500"))])
        .bucket_aggs([])
    )
    keep = model.DataTransformerConfig(id_val="filterFieldsByName", options={"include": {"names": list(TABLE_COLUMNS)}})
    order = model.DataTransformerConfig(
        id_val="organize", options={"indexByName": {c: i for i, c in enumerate(TABLE_COLUMNS)}}
    )
    link = {"title": "打开事件 Open incident", "url": "${incident_base}/incidents/${__value.raw}", "targetBlank": True}
    panel = (
        table.Panel()
        .title("预警列表 Warnings")
        .description("Warnings in the time range, newest first; the incident column opens Yujing's incident view.")
        .datasource(ALERTS)
        .height(12)
        .span(24)
        .with_target(query)
        .with_transformation(keep)
        .with_transformation(order)
        .sort_by([common_b.TableSortByFieldState().display_name(COLUMN_TITLES["ts"]).desc(True)])
        .override_by_name("level", [
            model.DynamicConfigValue(id_val="mappings", value=level_mappings()),
            model.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-background"}),
        ])
        .override_by_name("key", [model.DynamicConfigValue(id_val="links", value=[link])])
    )  # fmt: skip
    for column in TABLE_COLUMNS:
        panel.override_by_name(column, [model.DynamicConfigValue(id_val="displayName", value=COLUMN_TITLES[column])])
    return panel


def _annotations() -> list[EsAnnotation]:
    out = []
    for level in reversed(LEVELS):
        query = lucene_and(f"level:{level.value}", ALERT_FILTER)
        out.append(EsAnnotation(f"{level.chinese}预警", ALERTS, query, LEVEL_COLOURS[level]))
    return out


def build(incident_base: str = DEFAULT_INCIDENT_BASE) -> dash.Dashboard:
    """The situation dashboard's builder; ``incident_base`` is the default of the link variable."""
    board = (
        dash.Dashboard("Yujing 态势 Situation")
        .uid(SITUATION_UID)
        .description("Online-finance risk situation: warnings, signals per platform and district, from Yujing's index.")
        .tags(["yujing", "situation"])
        .editable()
        .time("now-7d", "now")
        .refresh("1m")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
    )
    for variable in (
        _terms_variable("platform", "平台 platform", "platforms"),
        _terms_variable("district", "辖区 district", "districts"),
        _signal_variable(),
        _incident_base_variable(incident_base),
    ):
        board.with_variable(variable)
    for annotation in _annotations():
        board.annotation(annotation)
    sections = (
        ("现在 Now", (_warnings_by_level(), _flagged_posts())),
        ("时间线 Timelines", (_timeline(),)),
        ("分布 Breakdown", (_top_platforms(), _districts())),
        ("预警 Warnings", (_warnings_table(),)),
    )
    for title, panels in sections:
        board.with_row(dash.Row(title).collapsed(False))
        for panel in panels:
            board.with_panel(panel)
    return board
