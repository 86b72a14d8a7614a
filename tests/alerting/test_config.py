"""Rules and routes load, validate with file:line messages, and route as the foundation issue says."""

from __future__ import annotations

from pathlib import Path

import pytest

from yujing.alerting.routing import inhibited, load_routes, route
from yujing.alerting.rules import Figures, evaluate, load_rules
from yujing.errors import ConfigError
from yujing.records import Agency, Level

A = Agency


def test_shipped_defaults_load() -> None:
    rules = load_rules()
    assert {r.level for r in rules.rules} == set(Level)
    assert {r.signal.value for r in rules.rules} == {"rumour", "panic", "gathering"}
    assert load_routes().notify.group_by == ("platform",)


@pytest.mark.parametrize(("signal", "level", "expected"), [
    ("gathering", "blue", (A.STABILITY_OFFICE, A.POLICE, A.PETITIONS_BUREAU, A.FINANCE_OFFICE)),
    ("gathering", "red", (A.STABILITY_OFFICE, A.POLICE, A.PETITIONS_BUREAU, A.FINANCE_OFFICE)),
    ("panic", "blue", (A.FINANCE_OFFICE, A.PETITIONS_BUREAU)),
    ("panic", "yellow", (A.FINANCE_OFFICE, A.PETITIONS_BUREAU)),
    ("panic", "orange", (A.FINANCE_OFFICE, A.PETITIONS_BUREAU, A.POLICE)),
    ("panic", "red", (A.FINANCE_OFFICE, A.PETITIONS_BUREAU, A.POLICE)),
    ("rumour", "yellow", (A.FINANCE_OFFICE, A.POLICE)),
])
def test_default_routing(signal: str, level: str, expected: tuple[Agency, ...]) -> None:
    decision = route(load_routes(), {"signal": signal, "level": level, "platform": "x"})
    assert decision.agencies == expected
    assert decision.path[0] == "root" and decision.path[1] == signal


ROUTES = """
route:
  receivers: [finance_office]
  routes:
    - name: east
      match: {district: [城东区, 城南区], platform_kind: p2p}
      receivers: [police]
      continue: true
    - name: any_red
      match: {level: red}
      receivers: [stability_office]
    - name: never_after_first_match
      match: {level: red}
      receivers: [petitions_bureau]
"""


@pytest.mark.parametrize(("labels", "agencies", "path"), [
    ({"district": "城东区", "platform_kind": "p2p", "level": "red"}, ["finance_office", "police", "stability_office"],
     ["root", "east", "any_red"]),
    ({"district": "城东区", "platform_kind": "wealth", "level": "red"}, ["finance_office", "stability_office"],
     ["root", "any_red"]),
    ({"district": "城西区", "platform_kind": "p2p", "level": "blue"}, ["finance_office"], ["root"]),
])
def test_routing_tree(tmp_path: Path, labels: dict[str, str], agencies: list[str], path: list[str]) -> None:
    file = tmp_path / "routes.yaml"
    file.write_text(ROUTES, encoding="utf-8")
    decision = route(load_routes(file), labels)
    assert [a.value for a in decision.agencies] == agencies
    assert list(decision.path) == path


@pytest.mark.parametrize(("text", "message"), [
    ("route:\n  routes:\n    - match: {signal: gossip}\n",
     "routes.yaml:3 route.routes[0].match.signal: expected values"),
    ("route:\n  receivers: [fire_brigade]\n", "routes.yaml:2 route.receivers: expected values from"),
    ("route: {}\ninhibit:\n  - source: {level: red}\n", "routes.yaml:3 inhibit[0].source: expected both"),
    ("notify: {group_wait: soon}\nroute: {}\n", "routes.yaml:1 notify.group_wait: expected a duration"),
    ("routes: []\n", "routes.yaml:1 routes: unknown field"),
    ("notify: {ack_timeout: 30m}\nroute: {}\n", "routes.yaml:1 notify.ack_timeout: the acknowledgement timeout "
                                                 "is per agency now: move it to the receivers file"),
])
def test_route_errors_name_file_line_field(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "routes.yaml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_routes(file)
    assert message in str(err.value)


@pytest.mark.parametrize(("text", "message"), [
    ("rules:\n  - {name: a, signal: panic, level: purple}\n", "rules.yaml:2 rules[0].level: expected one of"),
    ("rules:\n  - {name: a, signal: panic, level: red, window: 2h}\n", "rules[0].window: expected one of the settings"),
    ("rules:\n  - {name: a, signal: panic, level: red, min_posts: -1}\n", "rules[0].min_posts: expected an integer"),
    ("rules:\n  - {name: a, signal: panic, level: red, min_share: 2}\n", "rules[0].min_share: expected a number"),
    ("rules:\n  - {name: a, signal: panic, level: red}\n  - {name: a, signal: rumour, level: red}\n",
     "rules.yaml:3 rules[1].name: duplicate rule name"),
    ("rules:\n  - {name: a, signal: panic, level: red, min_postz: 3}\n", "rules[0].min_postz: unknown field"),
    ("settings: {min_probability: 1.5}\nrules:\n  - {name: a, signal: panic, level: red}\n",
     "rules.yaml:1 settings.min_probability"),
    ("rules: []\n", "rules: expected a non-empty list"),
])
def test_rule_errors_name_file_line_field(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "rules.yaml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_rules(file)
    assert message in str(err.value)


def test_evaluate_picks_highest_level_met() -> None:
    rules = load_rules()
    w6 = next(w for w in rules.windows if w.total_seconds() == 6 * 3600)
    w24 = max(rules.windows)
    w1 = min(rules.windows)
    strong = Figures(w6, posts=12, weighted=8, authors=9, stories=8, total=20, expected=1.0)
    figures = {w1: Figures(w1), w6: strong, w24: strong}
    verdict = evaluate(rules.for_signal(rules.rules[0].signal), figures)
    assert verdict.level is Level.RED and verdict.rule is not None and verdict.rule.name == "gathering_red"
    steady = Figures(w6, posts=12, weighted=8, authors=9, stories=8, total=20, expected=4.0)  # spike 2
    verdict = evaluate(rules.for_signal(rules.rules[0].signal), {w1: Figures(w1), w6: steady, w24: steady})
    assert verdict.level is Level.YELLOW  # volume alone, without a spike over baseline, is not orange


def test_inhibition_needs_equal_platform() -> None:
    rule = load_routes().inhibitions[0]
    red = {"platform": "甲", "signal": "gathering", "level": "red"}
    assert inhibited(rule, {"platform": "甲", "signal": "panic", "level": "orange"}, [red])
    assert not inhibited(rule, {"platform": "乙", "signal": "panic", "level": "orange"}, [red])
    assert not inhibited(rule, {"platform": "甲", "signal": "panic", "level": "red"}, [red])
