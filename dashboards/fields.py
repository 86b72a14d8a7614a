"""What the dashboards may refer to: index fields, data source UIDs and dashboard UIDs.

The index fields come from the search package's mapping (``yujing.search.mapping``) when it is
present; ``EXPECTED_*`` is the agreed list, kept here in one place so the dashboards and their
validation share it until then (and so a mapping change that drops a field fails the tests).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

POSTS_INDEX = "yujing-posts"
ALERTS_INDEX = "yujing-alerts"

# Data source UIDs: the provisioning file creates them, the dashboards reference them.
POSTS_DS_UID = "yujing-posts"
ALERTS_DS_UID = "yujing-alerts"
PROMETHEUS_DS_UID = "yujing-prometheus"

SITUATION_UID = "yujing-situation"
PIPELINE_UID = "yujing-pipeline"
FOLDER_UID = "yujing"
FOLDER_TITLE = "Yujing 预警"

EXPECTED_POST_FIELDS: frozenset[str] = frozenset(
    {
        "id", "ts", "text", "text_seg", "source", "author", "url", "platforms", "districts", "kinds",
        "scores.rumour", "scores.panic", "scores.gathering", "labels", "model",
    }
)  # fmt: skip
EXPECTED_ALERT_FIELDS: frozenset[str] = frozenset(
    {
        "key", "ts", "platform", "district", "kind", "signal", "level", "status", "agencies", "posts", "rule",
        "explanation",
    }
)  # fmt: skip


def _flatten(properties: Mapping[str, Any], prefix: str = "") -> set[str]:
    """Field paths of an Elasticsearch ``properties`` mapping (``scores.rumour`` for objects)."""
    out: set[str] = set()
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        out.add(path)
        if isinstance(spec, Mapping) and isinstance(spec.get("properties"), Mapping):
            out |= _flatten(spec["properties"], f"{path}.")
    return out


def _mapping_fields(attr: str) -> frozenset[str] | None:
    try:
        module = importlib.import_module("yujing.search.mapping")
    except ModuleNotFoundError:
        return None
    mapping = getattr(module, attr, None)
    if not isinstance(mapping, Mapping):
        return None
    properties = mapping.get("mappings", mapping).get("properties", {})
    return frozenset(_flatten(properties))


def post_fields() -> frozenset[str]:
    """Fields of the posts index: the real mapping's when present, else the agreed list."""
    return _mapping_fields("POSTS_MAPPING") or EXPECTED_POST_FIELDS


def alert_fields() -> frozenset[str]:
    return _mapping_fields("ALERTS_MAPPING") or EXPECTED_ALERT_FIELDS


def fields_for(datasource_uid: str) -> frozenset[str]:
    """The fields a query on ``datasource_uid`` may reference."""
    if datasource_uid == POSTS_DS_UID:
        return post_fields()
    if datasource_uid == ALERTS_DS_UID:
        return alert_fields()
    raise KeyError(f"no index behind data source {datasource_uid!r}")
