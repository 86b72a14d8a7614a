"""What the dashboards may refer to: index fields, data source UIDs and dashboard UIDs.

Index names and fields come from the search package's mapping (``yujing.search.mapping``), so a
mapping change that renames or drops a field a dashboard uses fails the dashboard tests.
"""

from __future__ import annotations

from collections.abc import Mapping

from yujing.search.mapping import ALERT_FIELDS, ALERTS_ALIAS, SIGNAL_FIELDS, SIGNALS_ALIAS

SIGNALS_INDEX = SIGNALS_ALIAS  # the posts without texts, authors or links: Grafana reads no post text
ALERTS_INDEX = ALERTS_ALIAS

# Data source UIDs: the provisioning file creates them, the dashboards reference them.
SIGNALS_DS_UID = "yujing-signals"
ALERTS_DS_UID = "yujing-alerts"
PROMETHEUS_DS_UID = "yujing-prometheus"
SITUATION_API_DS_UID = "yujing-situation-api"  # Infinity over Yujing's /situation.json (embedded store)

SITUATION_UID = "yujing-situation"
PIPELINE_UID = "yujing-pipeline"
EMBEDDED_SITUATION_UID = "yujing-situation-embedded"
FOLDER_UID = "yujing"
FOLDER_TITLE = "Yujing 预警"


def field_types(datasource_uid: str) -> Mapping[str, str]:
    """Field name -> mapping type of the index behind ``datasource_uid`` (from the real mapping)."""
    if datasource_uid == SIGNALS_DS_UID:
        return SIGNAL_FIELDS
    if datasource_uid == ALERTS_DS_UID:
        return ALERT_FIELDS
    raise KeyError(f"no index behind data source {datasource_uid!r}")


def fields_for(datasource_uid: str) -> frozenset[str]:
    """The fields a query on ``datasource_uid`` may reference."""
    return frozenset(field_types(datasource_uid))
