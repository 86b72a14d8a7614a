"""The situation dashboard for the embedded deployment: Grafana's Infinity data source over Yujing's
``/situation.json`` (no Elasticsearch). Same questions as the Elasticsearch situation board (warnings
by level, signal timelines per platform, top platforms, districts, warnings linking to the incident
view) answered by the aggregation Yujing already serves, for the dashboard's time range end and a
window of ``$hours``.

Every column it reads is checked against a real ``/situation.json`` (``validate.infinity_problems``).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from yujing.dashboards.fields import EMBEDDED_SITUATION_UID, SITUATION_API_DS_UID
from yujing.dashboards.infinity import Infinity, infinity_ref
from yujing.dashboards.panels import LEVEL_COLOURS, fixed_colour, level_label, level_mappings
from yujing.dashboards.situation_board import COLUMN_TITLES, DEFAULT_INCIDENT_BASE, SIGNAL_TITLES
from yujing.records import LEVELS, SIGNALS

API = infinity_ref(SITUATION_API_DS_UID)
SITUATION_URL = "/situation.json"
# The dashboard's time range end is the situation's "now"; the window is the $hours variable.
PARAMS = (("now", "${__to:date:iso}"), ("hours", "$hours"))
WARNING_COLUMNS = (("ts", "timestamp"), ("level", "string"), ("platform", "string"), ("district", "string"),
                   ("signal", "string"), ("posts", "number"), ("incident", "string"))


def _query(ref_id: str, root: str) -> Infinity:
    query = Infinity(ref_id, SITUATION_URL, root).datasource(API)
    for key, value in PARAMS:
        query.param(key, value)
    return query


def _hours_variable() -> dash.CustomVariable:
    return (
        dash.CustomVariable("hours")
        .label("窗口 window (h)")
        .values("24,48,72,168")
        .current(model.VariableOption(text="24", value="24", selected=True))
    )


def _yujing_url_variable(base: str) -> dash.TextBoxVariable:
    return (
        dash.TextBoxVariable("yujing_url")
        .label("事件视图 incident view")
        .description("Yujing's HTTP API as the browser reaches it; warnings link to <url>/incidents/<key>.")
        .default_value(base)
        .current(model.VariableOption(text=base, value=base, selected=True))
    )


def _by_level() -> stat.Panel:
    query = _query("A", "by_level")
    panel = (
        stat.Panel()
        .title("当前预警 Current warnings by level")
        .description("Firing warnings in the window (the highest per platform and signal), by level.")
        .datasource(API)
        .height(6)
        .span(24)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .no_value("0")
    )
    for level in reversed(LEVELS):
        query.column(level.value, level_label(level), "number")
        panel.override_by_name(level_label(level), [fixed_colour(LEVEL_COLOURS[level])])
    return panel.with_target(query)


def _timeline(signal: str) -> timeseries.Panel:
    query = (_query("A", "series").column("ts", "time", "timestamp").column("platform", "platform")
             .column(signal, signal, "number"))
    multi = model.DataTransformerConfig(id_val="prepareTimeSeries", options={"format": "multi"})
    return (
        timeseries.Panel()
        .title(f"{SIGNAL_TITLES[signal]} · 时间线 per platform")
        .description(f"Posts flagged {signal} per hour, for the platforms at the top of the risk list.")
        .datasource(API)
        .height(8)
        .span(8)
        .with_target(query)
        .with_transformation(multi)
        .draw_style(common.GraphDrawStyle.BARS)
        .stacking(common_b.StackingConfig().mode(common.StackingMode.NORMAL))
        .fill_opacity(60)
        .legend(common_b.VizLegendOptions().display_mode(common.LegendDisplayMode.LIST)
                .placement(common.LegendPlacement.BOTTOM).show_legend(True).calcs([]))
        .unit("short")
    )


def _top_platforms() -> bargauge.Panel:
    query = (_query("A", "top_platforms").column("platform", "platform").column("posts", "posts", "number"))
    return (
        bargauge.Panel()
        .title("风险平台 Top platforms")
        .description("Platforms by the highest level in force, then flagged posts in the window.")
        .datasource(API)
        .height(10)
        .span(12)
        .with_target(query)
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.BASIC)
        .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(True))
    )


def _districts() -> table.Panel:
    query = _query("A", "districts").column("district", COLUMN_TITLES["district"])
    panel = (
        table.Panel()
        .title("辖区分布 Districts")
        .description("Warnings in force per district of the platform, by level.")
        .show_header(True)
        .datasource(API)
        .height(10)
        .span(12)
    )
    for level in reversed(LEVELS):
        query.column(level.value, level.chinese, "number")
        panel.override_by_name(level.chinese, [fixed_colour(LEVEL_COLOURS[level]), model.DynamicConfigValue(
            id_val="custom.cellOptions", value={"type": "color-text"})])
    return panel.with_target(query)


def _warnings() -> table.Panel:
    query = _query("A", "warnings")
    for selector, type_ in WARNING_COLUMNS:
        query.column(selector, selector, type_)
    link = {"title": "打开事件 Open incident", "url": "${yujing_url}${__value.raw}", "targetBlank": True}
    panel = (
        table.Panel()
        .title("预警列表 Warnings")
        .description("Warnings in force, highest level first; the incident column opens Yujing's incident view.")
        .show_header(True)
        .datasource(API)
        .height(12)
        .span(24)
        .with_target(query)
        .override_by_name("level", [
            model.DynamicConfigValue(id_val="mappings", value=level_mappings()),
            model.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-background"}),
        ])
        .override_by_name("incident", [model.DynamicConfigValue(id_val="links", value=[link])])
    )  # fmt: skip
    for column, _type in WARNING_COLUMNS:
        title = COLUMN_TITLES.get(column, "事件 incident")
        panel.override_by_name(column, [model.DynamicConfigValue(id_val="displayName", value=title)])
    return panel


def build(yujing_url: str = DEFAULT_INCIDENT_BASE) -> dash.Dashboard:
    board = (
        dash.Dashboard("Yujing 态势 Situation (embedded)")
        .uid(EMBEDDED_SITUATION_UID)
        .description("The situation from Yujing's /situation.json (Infinity data source): the embedded "
                     "deployment, no Elasticsearch.")
        .tags(["yujing", "situation", "embedded"])
        .editable()
        .time("now-24h", "now")
        .refresh("1m")
        .timezone("browser")
    )
    board.with_variable(_hours_variable()).with_variable(_yujing_url_variable(yujing_url))
    sections = (
        ("现在 Now", (_by_level(),)),
        ("时间线 Timelines", tuple(_timeline(s.value) for s in SIGNALS)),
        ("分布 Breakdown", (_top_platforms(), _districts())),
        ("预警 Warnings", (_warnings(),)),
    )
    for title, panels in sections:
        board.with_row(dash.Row(title).collapsed(False))
        for panel in panels:
            board.with_panel(panel)
    return board
