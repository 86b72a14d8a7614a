"""The pipeline health dashboard, on Prometheus: is Yujing keeping up, and is anything lost?

Panels: roles up, throughput per stage, ingestion per source, consumer lag, scoring latency
quantiles, dead letters by stage and reason, outbox backlog, notification failures, warnings
raised by level, store backpressure. Every query uses only metrics ``yujing.metrics`` exports
(and Prometheus's own ``up``); the tests check that.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.builders import stat, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from yujing.dashboards.fields import PIPELINE_UID, PROMETHEUS_DS_UID
from yujing.dashboards.panels import LEVEL_COLOURS, fixed_colour, prom_ref
from yujing.records import LEVELS

PROMETHEUS = prom_ref(PROMETHEUS_DS_UID)
JOB = 'job=~"$job"'


def _q(expr: str, legend: str, ref_id: str = "A") -> prom.Dataquery:
    return prom.Dataquery().expr(expr).legend_format(legend).ref_id(ref_id).range()


def _series(title: str, description: str, unit: str, *queries: prom.Dataquery, span: int = 12) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .height(8)
        .span(span)
        .unit(unit)
        .min(0)
        .fill_opacity(10)
        .legend(
            common_b.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs([])
        )
    )
    for query in queries:
        panel.with_target(query)
    return panel


def _stat(title: str, description: str, query: prom.Dataquery, unit: str, red_from: float) -> stat.Panel:
    steps = [model.Threshold(value=None, color="green"), model.Threshold(value=red_from, color="red")]
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .height(4)
        .span(6)
        .unit(unit)
        .with_target(query.instant())
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(dash.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps))
        .no_value("0")
    )


def _overview() -> list[stat.Panel]:
    return [
        _stat("角色在线 Roles down", "Scrape targets of the selected jobs that are down.",
              _q(f"count(up{{{JOB}}} == 0) or vector(0)", "down"), "short", 1),
        _stat("消费积压 Max consumer lag", "Largest uncommitted backlog of any consumer group.",
              _q(f"max(yujing_consumer_lag{{{JOB}}}) or vector(0)", "lag"), "short", 10000),
        _stat("死信 Dead letters (range)", "Inputs dead-lettered in the time range.",
              _q(f"sum(increase(yujing_dead_letters_total{{{JOB}}}[$__range])) or vector(0)", "dead"), "short", 1),
        _stat("待发通知 Outbox pending", "Notifications waiting in the outbox.",
              _q(f"sum(yujing_outbox_pending{{{JOB}}}) or vector(0)", "pending"), "short", 100),
    ]  # fmt: skip


def _quantile(q: float, ref_id: str) -> prom.Dataquery:
    buckets = f"rate(yujing_scoring_seconds_bucket{{{JOB}}}[$__rate_interval])"
    return _q(f"histogram_quantile({q}, sum by (le, model) ({buckets}))", f"p{round(q * 100)} {{{{model}}}}", ref_id)


def _flow() -> list[timeseries.Panel]:
    return [
        _series("各阶段吞吐 Throughput per stage", "Records each stage finished per second.", "ops",
                _q(f"sum by (stage) (rate(yujing_stage_records_total{{{JOB}}}[$__rate_interval]))", "{{stage}}")),
        _series("采集 Ingestion per source", "Posts and complaints accepted per second, by source.", "ops",
                _q(f"sum by (source) (rate(yujing_posts_ingested_total{{{JOB}}}[$__rate_interval]))", "{{source}}")),
        _series("消费积压 Consumer lag", "Uncommitted messages per consumer group and topic.", "short",
                _q(f"max by (group, topic) (yujing_consumer_lag{{{JOB}}})", "{{group}} ← {{topic}}")),
        _series("打分延迟 Scoring latency", "Seconds to score one batch, quantiles per model.", "s",
                *(_quantile(q, ref) for q, ref in ((0.5, "P50"), (0.95, "P95"), (0.99, "P99")))),
    ]  # fmt: skip


def _losses() -> list[timeseries.Panel]:
    alerts = _series(
        "预警 Warnings raised by level",
        "Warnings raised per level in each interval.",
        "short",
        _q(f"sum by (level) (increase(yujing_alerts_total{{{JOB}}}[$__interval]))", "{{level}}"),
    )
    for level in LEVELS:
        alerts.override_by_name(level.value, [fixed_colour(LEVEL_COLOURS[level])])
    return [
        _series("死信 Dead letters", "Inputs dead-lettered per second, by stage and reason.", "ops",
                _q(f"sum by (stage, reason) (rate(yujing_dead_letters_total{{{JOB}}}[$__rate_interval]))",
                   "{{stage}}: {{reason}}")),
        _series("待发通知 Outbox backlog", "Notifications waiting in the outbox.", "short",
                _q(f"sum(yujing_outbox_pending{{{JOB}}})", "pending")),
        _series("通知失败 Notification failures", "Failed notification attempts per second, by channel.", "ops",
                _q(f'sum by (channel) (rate(yujing_notifications_total{{outcome="failed",{JOB}}}[$__rate_interval]))',
                   "{{channel}} failed", "A"),
                _q(f'sum by (channel) (rate(yujing_notifications_total{{outcome="sent",{JOB}}}[$__rate_interval]))',
                   "{{channel}} sent", "B")),
        alerts,
        _series("存储背压 Store backpressure", "Times per second the store asked intake to slow down.", "ops",
                _q(f"sum(rate(yujing_store_backpressure_total{{{JOB}}}[$__rate_interval]))", "backpressure"), span=24),
    ]  # fmt: skip


def _job_variable() -> dash.QueryVariable:
    return (
        dash.QueryVariable("job")
        .label("角色 job")
        .datasource(PROMETHEUS)
        .query(
            {"query": "label_values(yujing_build_info, job)", "refId": "PrometheusVariableQueryEditor-VariableQuery"}
        )
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(model.VariableOption(text="All", value="$__all", selected=True))
    )


def build() -> dash.Dashboard:
    board = (
        dash.Dashboard("Yujing 流水线 Pipeline health")
        .uid(PIPELINE_UID)
        .description("Throughput, lag, latency and losses of Yujing's roles, from their /metrics endpoints.")
        .tags(["yujing", "pipeline"])
        .editable()
        .time("now-6h", "now")
        .refresh("30s")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .with_variable(_job_variable())
    )
    for title, panels in (("概览 Overview", _overview()), ("流量 Flow", _flow()), ("损失 Losses", _losses())):
        board.with_row(dash.Row(title).collapsed(False))
        for panel in panels:
            board.with_panel(panel)
    return board
