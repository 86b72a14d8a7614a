"""Small pieces both dashboards share: data source refs, level colours, Elasticsearch queries.

``EsAnnotation`` extends the SDK: its ``AnnotationQuery`` model has no place for the fields an
Elasticsearch annotation needs (``target.query``, ``timeField``, ``textField``, ``tagsField``), so
the subclass adds them to the JSON it writes.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import elasticsearch as es
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.elasticsearch import TermsOrder

from yujing.records import LEVELS, Level

# Grafana's named colours for the four levels of the Emergency Response Law (蓝/黄/橙/红).
LEVEL_COLOURS: dict[Level, str] = {Level.BLUE: "blue", Level.YELLOW: "yellow", Level.ORANGE: "orange", Level.RED: "red"}


def es_ref(uid: str) -> model.DataSourceRef:
    return model.DataSourceRef(type_val="elasticsearch", uid=uid)


def prom_ref(uid: str) -> model.DataSourceRef:
    return model.DataSourceRef(type_val="prometheus", uid=uid)


def level_label(level: Level) -> str:
    return f"{level.chinese}预警 {level.value}"


def level_mappings() -> list[model.ValueMapping]:
    """Table cells showing ``red`` read ``红色`` on a red background, and so on."""
    options = {
        lv.value: model.ValueMappingResult(text=lv.chinese, color=LEVEL_COLOURS[lv], index=lv.rank) for lv in LEVELS
    }
    return [model.ValueMap(options=options)]


def fixed_colour(colour: str) -> model.DynamicConfigValue:
    return model.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": colour})


def count_query(ref_id: str, query: str, alias: str, *, interval: str = "auto") -> es.Dataquery:
    """Documents matching ``query`` per time bucket (``ts``)."""
    histogram = (
        es.DateHistogram().id("2").field("ts").settings(es.ElasticsearchDateHistogramSettings().interval(interval))
    )
    return (
        es.Dataquery()
        .ref_id(ref_id)
        .query(query)
        .alias(alias)
        .time_field("ts")
        .metrics([es.Count().id("1")])
        .bucket_aggs([histogram])
    )


def terms(field: str, size: int, agg_id: str = "3", order_by: str = "_count") -> es.Terms:
    """The top ``size`` values of ``field``, ordered by document count or by the metric ``order_by``."""
    settings = (
        es.ElasticsearchTermsSettings().size(str(size)).order(TermsOrder.DESC).order_by(order_by).min_doc_count("1")
    )
    return es.Terms().id(agg_id).field(field).settings(settings)


def level_rank_mappings() -> list[model.ValueMapping]:
    """``level_rank`` 1..4 shown as 蓝色..红色 in the level's colour."""
    options = {
        str(lv.rank): model.ValueMappingResult(text=lv.chinese, color=LEVEL_COLOURS[lv], index=lv.rank) for lv in LEVELS
    }
    return [model.ValueMap(options=options)]


def level_rank_thresholds() -> list[model.Threshold]:
    return [model.Threshold(value=None if lv.rank == 1 else float(lv.rank), color=LEVEL_COLOURS[lv]) for lv in LEVELS]


def lucene_and(*clauses: str) -> str:
    return " AND ".join(c for c in clauses if c)


class EsAnnotationQuery(model.AnnotationQuery):
    """An annotation read from an Elasticsearch index (see the module docstring)."""

    def __init__(self, query: str, time_field: str, text_field: str, tags_field: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.query = query
        self.time_field = time_field
        self.text_field = text_field
        self.tags_field = tags_field

    def to_json(self) -> dict[str, object]:
        payload = super().to_json()
        payload["target"] = {"limit": 500, "matchAny": False, "tags": [], "type": "dashboard", "query": self.query}
        payload.update(timeField=self.time_field, textField=self.text_field, tagsField=self.tags_field)
        return payload


class EsAnnotation(cogbuilder.Builder[model.AnnotationQuery]):
    def __init__(self, name: str, datasource: model.DataSourceRef, query: str, colour: str) -> None:
        self._query = EsAnnotationQuery(
            query, "ts", "platform", "signal", name=name, datasource=datasource, enable=True, icon_color=colour
        )

    def build(self) -> model.AnnotationQuery:
        return self._query
