"""Routing: which agencies receive a warning, as a tree of label matchers (configuration, not code).

YAML (``alerting/defaults/routes.yaml``)::

    notify: {group_by: [platform], group_wait: 5m, repeat_interval: 12h}
    route:                       # the root matches everything
      receivers: []
      routes:
        - name: panic
          match: {signal: panic}
          receivers: [finance_office, petitions_bureau]
          routes:
            - name: panic_orange_up
              match: {level_at_least: orange}
              receivers: [police]
    inhibit:
      - name: red_gathering_mutes_lower
        source: {signal: gathering, level: red}
        target: {level_below: red}
        equal: [platform]

Walk: a matching node adds its receivers and descends; among siblings the first match wins unless
it says ``continue: true``. Matchers: signal, level, level_at_least, level_below, platform,
platform_kind, district (each a value or a list).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from yujing.alerting._yaml import Fields
from yujing.errors import ConfigError
from yujing.records import LEVELS, SIGNALS, Agency, Level
from yujing.registry import KINDS, load_yaml_with_lines

DEFAULT_ROUTES = Path(__file__).parent / "defaults" / "routes.yaml"
LABELS = ("platform", "signal", "level", "platform_kind", "district")
_MATCHERS = ("signal", "level", "level_at_least", "level_below", "platform", "platform_kind", "district")
_AGENCIES = [a.value for a in Agency]


@dataclass(frozen=True, slots=True)
class Matcher:
    """Label equality (any of several values) plus level bounds. Empty matches everything."""

    equals: tuple[tuple[str, tuple[str, ...]], ...] = ()
    level_at_least: Level | None = None
    level_below: Level | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(name, "") not in values for name, values in self.equals):
            return False
        rank = Level(labels["level"]).rank if labels.get("level") else 0
        if self.level_at_least is not None and rank < self.level_at_least.rank:
            return False
        return self.level_below is None or rank < self.level_below.rank


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    matcher: Matcher
    receivers: tuple[Agency, ...]
    routes: tuple[Route, ...] = ()
    cont: bool = False
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Inhibition:
    name: str
    source: Matcher
    target: Matcher
    equal: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NotifyPolicy:
    group_by: tuple[str, ...] = ("platform",)
    group_wait: timedelta = timedelta(minutes=5)
    repeat_interval: timedelta = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Routing:
    root: Route
    inhibitions: tuple[Inhibition, ...] = ()
    notify: NotifyPolicy = NotifyPolicy()
    source: str = "<memory>"


@dataclass(frozen=True, slots=True)
class Decision:
    agencies: tuple[Agency, ...]
    path: tuple[str, ...]


def route(routing: Routing, labels: Mapping[str, str]) -> Decision:
    """Pure tree walk: the agencies (in first-seen order) and the names of the nodes matched."""
    agencies: list[Agency] = []
    path: list[str] = []
    _walk(routing.root, labels, agencies, path)
    return Decision(tuple(agencies), tuple(path))


def _walk(node: Route, labels: Mapping[str, str], agencies: list[Agency], path: list[str]) -> bool:
    if not node.matcher.matches(labels):
        return False
    path.append(node.name)
    agencies.extend(a for a in node.receivers if a not in agencies)
    for child in node.routes:
        if _walk(child, labels, agencies, path) and not child.cont:
            break
    return True


def inhibited(rule: Inhibition, target: Mapping[str, str], active: Sequence[Mapping[str, str]]) -> bool:
    """Pure: does any active warning (labels) matching ``rule.source`` mute ``target``?"""
    if not rule.target.matches(target):
        return False
    return any(rule.source.matches(src) and src is not target and all(src.get(k) == target.get(k) for k in rule.equal)
               for src in active)


# ---- loading -------------------------------------------------------------------------------------

def _matcher(data: Any, path: str, where: str, line: int | None) -> Matcher:
    f = Fields(data if data is not None else {}, path, where, _MATCHERS, line)
    options: dict[str, Sequence[str] | None] = {
        "signal": [s.value for s in SIGNALS], "level": [lv.value for lv in LEVELS], "platform_kind": KINDS,
        "platform": None, "district": None,
    }
    equals = tuple((name, f.strings(name, opts)) for name, opts in options.items() if f.has(name))
    bounds = {b: Level(f.choice(b, [lv.value for lv in LEVELS])) if f.has(b) else None
              for b in ("level_at_least", "level_below")}
    return Matcher(equals, bounds["level_at_least"], bounds["level_below"])


def _route(data: Any, path: str, where: str) -> Route:
    f = Fields(data, path, where, ("name", "match", "receivers", "routes", "continue"))
    children = tuple(_route(c, path, f"{where}.routes[{i}]") for i, c in enumerate(f.mapping_list("routes")))
    return Route(
        name=f.string("name", where),
        matcher=_matcher(f.raw("match"), path, f"{where}.match", f.line),
        receivers=tuple(Agency(a) for a in f.strings("receivers", _AGENCIES)),
        routes=children,
        cont=f.boolean("continue", False),
        line=f.line,
    )


def _inhibition(data: Any, path: str, index: int) -> Inhibition:
    where = f"inhibit[{index}]"
    f = Fields(data, path, where, ("name", "source", "target", "equal"))
    if not f.has("source") or not f.has("target"):
        f.fail("source", "expected both source: and target: matchers")
    return Inhibition(
        name=f.string("name", where),
        source=_matcher(f.raw("source"), path, f"{where}.source", f.line),
        target=_matcher(f.raw("target"), path, f"{where}.target", f.line),
        equal=f.strings("equal", LABELS) or ("platform",),
    )


def _notify(data: Any, path: str) -> NotifyPolicy:
    f = Fields(data if data is not None else {}, path, "notify",
               ("group_by", "group_wait", "repeat_interval", "ack_timeout"))
    if f.has("ack_timeout"):
        f.fail("ack_timeout", "the acknowledgement timeout is per agency now: move it to the receivers file "
                              "(top-level or per receiver `ack_timeout:`) and remove it here")
    return NotifyPolicy(
        group_by=f.strings("group_by", LABELS) or ("platform",),
        group_wait=f.duration("group_wait", "5m"),
        repeat_interval=f.duration("repeat_interval", "12h"),
    )


def routing_from_doc(doc: Any, source: str = "<memory>") -> Routing:
    top = Fields(doc, source, "", ("notify", "route", "inhibit"))
    if not top.has("route"):
        raise ConfigError(source, "route", "expected a top-level 'route:' mapping (the routing tree's root)")
    root = _route({"name": "root", **top.raw("route")} if isinstance(top.raw("route"), dict) else top.raw("route"),
                  source, "route")
    inhibitions = tuple(_inhibition(e, source, i) for i, e in enumerate(top.mapping_list("inhibit")))
    return Routing(root, inhibitions, _notify(top.raw("notify"), source), source)


def load_routes(path: Path | str | None = None) -> Routing:
    """Load and validate a routes file (the shipped defaults when ``path`` is None)."""
    path = Path(path) if path is not None else DEFAULT_ROUTES
    return routing_from_doc(load_yaml_with_lines(path), str(path))
