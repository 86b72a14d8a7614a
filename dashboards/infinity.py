"""Grafana's Infinity data source (``yesoreyeram-infinity-datasource``) as a foundation-SDK query.

The SDK ships no Infinity model, so this module adds one the way the SDK's own plugins do: a
``Dataquery`` with ``to_json``/``from_json`` and a builder, registered as a variant so
``Dashboard.from_json`` parses Infinity targets back into ``InfinityQuery`` rather than an untyped
bag. Only what the embedded situation dashboard uses is modelled: JSON over a URL, the backend
parser, a root selector and typed columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as model

INFINITY_TYPE = "yesoreyeram-infinity-datasource"
COLUMN_TYPES = ("string", "number", "timestamp", "timestamp_epoch", "timestamp_epoch_s")


def infinity_ref(uid: str) -> model.DataSourceRef:
    return model.DataSourceRef(type_val=INFINITY_TYPE, uid=uid)


@dataclass
class Column:
    selector: str
    text: str
    type: str = "string"

    def to_json(self) -> dict[str, object]:
        return {"selector": self.selector, "text": self.text, "type": self.type}


@dataclass
class InfinityQuery(cogvariants.Dataquery):
    """One Infinity target: GET ``url`` (relative to the data source URL) and read ``columns``
    from the rows at ``root_selector``."""

    ref_id: str = "A"
    url: str = ""
    params: list[tuple[str, str]] = field(default_factory=list)
    root_selector: str = ""
    columns: list[Column] = field(default_factory=list)
    format: str = "table"
    parser: str = "backend"
    datasource: model.DataSourceRef | None = None

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id, "type": "json", "source": "url", "parser": self.parser, "format": self.format,
            "url": self.url, "url_options": {"method": "GET", "data": "",
                                             "params": [{"key": k, "value": v} for k, v in self.params]},
            "root_selector": self.root_selector, "columns": [c.to_json() for c in self.columns], "filters": [],
        }
        if self.datasource is not None:
            payload["datasource"] = self.datasource.to_json()
        return payload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InfinityQuery:
        options = data.get("url_options") or {}
        return cls(
            ref_id=data.get("refId", "A"), url=data.get("url", ""),
            params=[(p["key"], p["value"]) for p in options.get("params", [])],
            root_selector=data.get("root_selector", ""),
            columns=[Column(c["selector"], c.get("text", ""), c.get("type", "string"))
                     for c in data.get("columns", [])],
            format=data.get("format", "table"), parser=data.get("parser", "backend"),
            datasource=model.DataSourceRef.from_json(data["datasource"]) if "datasource" in data else None,
        )


class Infinity(cogbuilder.Builder[InfinityQuery]):
    def __init__(self, ref_id: str, url: str, root_selector: str) -> None:
        self._query = InfinityQuery(ref_id=ref_id, url=url, root_selector=root_selector)

    def param(self, key: str, value: str) -> Infinity:
        self._query.params.append((key, value))
        return self

    def column(self, selector: str, text: str, type_: str = "string") -> Infinity:
        if type_ not in COLUMN_TYPES:
            raise ValueError(f"column type {type_!r}; use one of {', '.join(COLUMN_TYPES)}")
        self._query.columns.append(Column(selector, text, type_))
        return self

    def datasource(self, ref: model.DataSourceRef) -> Infinity:
        self._query.datasource = ref
        return self

    def build(self) -> InfinityQuery:
        return self._query


def register() -> None:
    """Let ``Dashboard.from_json`` parse Infinity targets into ``InfinityQuery``."""
    cogruntime.register_dataquery_variant(
        cogruntime.DataqueryConfig(identifier=INFINITY_TYPE, from_json_hook=InfinityQuery.from_json))
