"""Index names, field names and the Elasticsearch/OpenSearch mappings. Pure data.

The Grafana dashboards validate their queries against ``SIGNAL_FIELDS`` / ``ALERT_FIELDS``; the
embedded store uses the same names for its columns. ``yujing-signals`` is the posts index without what a person
wrote or who (no text, author, link or metadata), for Grafana: its post panels count, and a Grafana user
who can edit a panel can then read no post text around the search audit. Writes go to a time-based index per month
(``yujing-posts-2026.11``) created from an index template that puts it behind the alias
(``yujing-posts``); searches go to the alias.

Chinese: ``text_seg`` holds the jieba tokens (see ``segment``), analysed by whitespace, so it works
on any server with no plugin and matches the embedded store token for token. ``text`` keeps the raw
text under the server's Chinese analyzer: ``ik_max_word`` when the IK plugin is installed, else the
built-in ``cjk`` (bigram) analyzer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

POSTS_ALIAS = "yujing-posts"
SIGNALS_ALIAS = "yujing-signals"  # the posts without texts, authors or links: Grafana's post data source
ALERTS_ALIAS = "yujing-alerts"
TEMPLATE_PREFIX = "yujing-template-"

SCORE_FIELDS = ("scores.rumour", "scores.panic", "scores.gathering")

# field name -> type, for dashboards and validation
POST_FIELDS: dict[str, str] = {
    "id": "keyword",
    "ts": "date",
    "text": "text",
    "text_seg": "text",
    "source": "keyword",
    "author": "keyword",
    "url": "keyword",
    "platforms": "keyword",
    "districts": "keyword",
    "kinds": "keyword",
    "scores.rumour": "double",
    "scores.panic": "double",
    "scores.gathering": "double",
    "labels": "keyword",
    "model": "keyword",
}

# what Grafana may see of a post: when, where from, about which platforms, how it scored
SIGNAL_FIELDS: dict[str, str] = {name: kind for name, kind in POST_FIELDS.items()
                                 if name not in ("text", "text_seg", "author", "url")}

ALERT_FIELDS: dict[str, str] = {
    "key": "keyword",
    "ts": "date",
    "platform": "keyword",
    "district": "keyword",
    "kind": "keyword",
    "signal": "keyword",
    "level": "keyword",
    "level_rank": "integer",
    "status": "keyword",
    "agencies": "keyword",
    "posts": "integer",
    "rule": "keyword",
    "explanation": "object",
    "explanation_text": "text",
}

FACET_FIELDS = {"platform": "platforms", "signal": "labels", "source": "source"}
FACET_SIZE = 50  # buckets per facet, on every backend


def index_for(alias: str, ts: datetime) -> str:
    """The monthly index a document of time ``ts`` is written to: the UTC month, so the same instant written
    with another offset (23:30-08:00 on the 30th is 07:30Z on the 1st) lands in the same index, not twice."""
    return f"{alias}-{ts.astimezone(UTC):%Y.%m}"


def _properties(fields: dict[str, str], chinese_analyzer: str) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for name, kind in fields.items():
        spec: dict[str, Any] = {"type": kind}
        if name == "text":
            spec["analyzer"] = chinese_analyzer
        elif name in ("text_seg", "explanation_text"):
            spec["analyzer"] = "yujing_seg"
        elif name == "explanation":
            spec = {"type": "object", "enabled": False}
        parent, _, child = name.partition(".")
        if child:
            props.setdefault(parent, {"properties": {}})["properties"][child] = spec
        else:
            props[name] = spec
    return props


_SETTINGS: dict[str, Any] = {
    "analysis": {"analyzer": {"yujing_seg": {"type": "custom", "tokenizer": "whitespace", "filter": ["lowercase"]}}},
}


def post_template(chinese_analyzer: str = "cjk") -> dict[str, Any]:
    """The composable index template for posts (``PUT _index_template/<name>``)."""
    props = _properties(POST_FIELDS, chinese_analyzer)
    props["extra"] = {"type": "object", "enabled": False}
    return {
        "index_patterns": [f"{POSTS_ALIAS}-*"],
        "template": {
            "settings": _SETTINGS,
            "mappings": {"dynamic": "strict", "properties": props},
            "aliases": {POSTS_ALIAS: {}},
        },
        "priority": 100,
    }


def signal_template() -> dict[str, Any]:
    """The index template for the text-free copy of the posts (``SIGNAL_FIELDS``; no analyzer needed)."""
    return {
        "index_patterns": [f"{SIGNALS_ALIAS}-*"],
        "template": {
            "mappings": {"dynamic": "strict", "properties": _properties(SIGNAL_FIELDS, "cjk")},
            "aliases": {SIGNALS_ALIAS: {}},
        },
        "priority": 100,
    }


def alert_template(chinese_analyzer: str = "cjk") -> dict[str, Any]:
    return {
        "index_patterns": [f"{ALERTS_ALIAS}-*"],
        "template": {
            "settings": _SETTINGS,
            "mappings": {"dynamic": "strict", "properties": _properties(ALERT_FIELDS, chinese_analyzer)},
            "aliases": {ALERTS_ALIAS: {}},
        },
        "priority": 100,
    }
