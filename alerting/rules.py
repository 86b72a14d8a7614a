"""Warning rules: typed, validated at load, evaluated as pure functions over window figures.

YAML (``alerting/defaults/rules.yaml`` ships working defaults)::

    settings:
      min_probability: 0.5        # a post counts toward a signal from this probability on
      windows: [1h, 6h, 24h]
      baseline: {half_life: 72h, prior_per_hour: 0.2}
      deescalate_after: 3h        # a lower level must hold this long before stepping down
      resolve_after: 12h          # no rule met for this long: resolved notice
      near_duplicate: {shingle: 3, max_distance: 6}
    rules:
      - name: gathering_red
        signal: gathering
        level: red
        window: 6h
        min_posts: 8              # minimum-volume guard
        min_weighted: 6.0         # probability-weighted count, each near-duplicate story once
        min_authors: 5            # distinct (pseudonymous) authors
        min_stories: 1            # distinct near-duplicate clusters
        min_share: 0.0            # counted posts / all posts naming the platform in the window
        min_spike: 3.0            # weighted / baseline expectation for the window

A rule is met when every condition holds; the platform × signal level is the highest level met.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from yujing.alerting._yaml import Fields, format_duration
from yujing.errors import ConfigError
from yujing.records import LEVELS, SIGNALS, Level, Signal
from yujing.registry import load_yaml_with_lines

DEFAULT_RULES = Path(__file__).parent / "defaults" / "rules.yaml"
_CONDITIONS = ("min_posts", "min_weighted", "min_authors", "min_stories", "min_share", "min_spike")


@dataclass(frozen=True, slots=True)
class Figures:
    """What one window holds for one platform × signal at one instant."""

    window: timedelta
    posts: int = 0  # posts at or above min_probability
    weighted: float = 0.0  # sum of probabilities, each near-duplicate story counted once (its max)
    authors: int = 0
    stories: int = 0
    total: int = 0  # all posts naming the platform in the window
    expected: float = 0.0  # the baseline's expectation of ``weighted`` for this window

    @property
    def share(self) -> float:
        return self.posts / self.total if self.total else 0.0

    @property
    def spike(self) -> float:
        return self.weighted / self.expected if self.expected > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": format_duration(self.window), "posts": self.posts, "weighted": round(self.weighted, 3),
            "authors": self.authors, "stories": self.stories, "total": self.total,
            "share": round(self.share, 3), "expected": round(self.expected, 3), "spike": round(self.spike, 2),
        }


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    signal: Signal
    level: Level
    window: timedelta
    min_posts: int = 1
    min_weighted: float = 0.0
    min_authors: int = 1
    min_stories: int = 1
    min_share: float = 0.0
    min_spike: float = 0.0
    line: int | None = None

    def unmet(self, f: Figures) -> list[str]:
        """The conditions that fail, e.g. ``["authors 2 < 5"]``; empty when the rule is met."""
        checks = (
            ("posts", f.posts, self.min_posts), ("weighted", f.weighted, self.min_weighted),
            ("authors", f.authors, self.min_authors), ("stories", f.stories, self.min_stories),
            ("share", f.share, self.min_share), ("spike", f.spike, self.min_spike),
        )
        return [f"{name} {value:.3g} < {need:g}" for name, value, need in checks if value < need]

    def met(self, f: Figures) -> bool:
        """Every condition holds (what :meth:`unmet` says, without building its messages)."""
        return (f.posts >= self.min_posts and f.weighted >= self.min_weighted and f.authors >= self.min_authors
                and f.stories >= self.min_stories and f.share >= self.min_share and f.spike >= self.min_spike)

    def conditions(self) -> dict[str, float]:
        return {c: getattr(self, c) for c in _CONDITIONS}


@dataclass(frozen=True, slots=True)
class Baseline:
    half_life: timedelta = timedelta(hours=72)
    prior_per_hour: float = 0.2


@dataclass(frozen=True, slots=True)
class NearDuplicate:
    shingle: int = 3
    max_distance: int = 6


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[Rule, ...]
    windows: tuple[timedelta, ...] = (timedelta(hours=1), timedelta(hours=6), timedelta(hours=24))
    min_probability: float = 0.5
    baseline: Baseline = Baseline()
    deescalate_after: timedelta = timedelta(hours=3)
    resolve_after: timedelta = timedelta(hours=12)
    near_duplicate: NearDuplicate = NearDuplicate()
    source: str = "<memory>"

    def for_signal(self, signal: Signal) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.signal is signal)

    @property
    def horizon(self) -> timedelta:
        return max(self.windows)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of evaluating one platform × signal: highest level met, with its rule."""

    level: Level | None
    rule: Rule | None
    figures: Mapping[timedelta, Figures]

    def explain(self) -> dict[str, Any]:
        out: dict[str, Any] = {"windows": [f.to_dict() for f in self.figures.values()]}
        if self.rule is not None:
            out["rule"] = {"name": self.rule.name, "level": self.rule.level.value,
                           "window": format_duration(self.rule.window), "conditions": self.rule.conditions(),
                           "line": self.rule.line}
        return out


def evaluate(rules: Sequence[Rule], figures: Mapping[timedelta, Figures]) -> Verdict:
    """Pure: the highest-level rule whose window figures meet every condition."""
    best: Rule | None = None
    for rule in rules:
        f = figures.get(rule.window)
        if f is None or not rule.met(f):
            continue
        if best is None or rule.level.rank > best.level.rank:
            best = rule
    return Verdict(best.level if best else None, best, figures)


# ---- loading -------------------------------------------------------------------------------------

def _rule(entry: Any, path: str, index: int, windows: Sequence[timedelta]) -> Rule:
    known = ("name", "signal", "level", "window", *_CONDITIONS)
    f = Fields(entry, path, f"rules[{index}]", known)
    window = f.duration("window", "6h")
    if window not in windows:
        f.fail("window", f"expected one of the settings.windows {[format_duration(w) for w in windows]}, "
                         f"got {format_duration(window)}; add it to settings.windows")
    return Rule(
        name=f.string("name"),
        signal=Signal(f.choice("signal", [s.value for s in SIGNALS])),
        level=Level(f.choice("level", [lv.value for lv in LEVELS])),
        window=window,
        min_posts=f.integer("min_posts", 1, minimum=1),
        min_weighted=f.number("min_weighted", 0.0),
        min_authors=f.integer("min_authors", 1, minimum=1),
        min_stories=f.integer("min_stories", 1, minimum=1),
        min_share=f.number("min_share", 0.0, maximum=1.0),
        min_spike=f.number("min_spike", 0.0),
        line=f.line,
    )


def _windows(f: Fields) -> tuple[timedelta, ...]:
    names = f.strings("windows") or ("1h", "6h", "24h")
    out: list[timedelta] = []
    for name in names:
        sub = Fields({"w": name}, f.path, f.where, ("w",), f.line)
        out.append(sub.duration("w", name))
    return tuple(sorted(set(out)))


def _settings(data: Any, path: str) -> dict[str, Any]:
    known = ("min_probability", "windows", "baseline", "deescalate_after", "resolve_after", "near_duplicate")
    f = Fields(data if data is not None else {}, path, "settings", known)
    base = Fields(f.raw("baseline", {}), path, "settings.baseline", ("half_life", "prior_per_hour"), f.line)
    near = Fields(f.raw("near_duplicate", {}), path, "settings.near_duplicate", ("shingle", "max_distance"), f.line)
    return {
        "min_probability": f.number("min_probability", 0.5, maximum=1.0),
        "windows": _windows(f),
        "baseline": Baseline(base.duration("half_life", "72h"), base.number("prior_per_hour", 0.2)),
        "deescalate_after": f.duration("deescalate_after", "3h"),
        "resolve_after": f.duration("resolve_after", "12h"),
        "near_duplicate": NearDuplicate(near.integer("shingle", 3, minimum=1),
                                        near.integer("max_distance", 6, minimum=0)),
    }


def rules_from_doc(doc: Any, source: str = "<memory>") -> RuleSet:
    top = Fields(doc, source, "", ("settings", "rules"))
    settings = _settings(top.raw("settings"), source)
    entries = top.mapping_list("rules")
    if not entries:
        top.fail("rules", "expected a non-empty list of rules")
    rules = tuple(_rule(e, source, i, settings["windows"]) for i, e in enumerate(entries))
    seen: dict[str, int] = {}
    for index, rule in enumerate(rules):
        if rule.name in seen:
            raise ConfigError(source, f"rules[{index}].name",
                              f"duplicate rule name {rule.name!r} (first at rules[{seen[rule.name]}])", rule.line)
        seen[rule.name] = index
    return RuleSet(rules=rules, source=source, **settings)


def load_rules(path: Path | str | None = None) -> RuleSet:
    """Load and validate a rules file (the shipped defaults when ``path`` is None)."""
    path = Path(path) if path is not None else DEFAULT_RULES
    return rules_from_doc(load_yaml_with_lines(path), str(path))
