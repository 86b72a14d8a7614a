"""The platform registry (一户一档): one entry per platform under watch.

YAML::

    platforms:
      - name: 鑫盛贷            # registry name, unique
        aliases: [鑫盛, XSD]     # other names people use
        kind: p2p                # p2p | crowdfunding | payment | wealth | other
        district: 城东区
        status: operating        # operating | troubled | suspended | collapsed | unknown

Loaded and validated once; every error names ``file:line field`` and what was expected.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from yujing.errors import ConfigError

KINDS = ("p2p", "crowdfunding", "payment", "wealth", "other")
STATUSES = ("operating", "troubled", "suspended", "collapsed", "unknown")


@dataclass(frozen=True, slots=True)
class Platform:
    name: str
    aliases: tuple[str, ...] = ()
    kind: str = "other"
    district: str = ""
    status: str = "unknown"

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Registry:
    platforms: tuple[Platform, ...]
    source: str = "<memory>"
    _by_name: Mapping[str, Platform] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self._by_name:
            object.__setattr__(self, "_by_name", {p.name: p for p in self.platforms})

    def __len__(self) -> int:
        return len(self.platforms)

    def __iter__(self) -> Iterator[Platform]:
        return iter(self.platforms)

    def get(self, name: str) -> Platform | None:
        return self._by_name.get(name)


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping (as ``__line__``)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping  # type: ignore[return-value]


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml_with_lines(path: Path) -> Any:
    """Parse YAML, tagging each mapping with ``__line__``; syntax errors become ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "file", "not found; pass an existing file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), "file", f"is not UTF-8 ({exc.reason}); save it as UTF-8") from None
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(str(path), "yaml", f"cannot parse: {exc}", line=line) from None


def _str_list(value: Any, path: str, line: int | None, fieldname: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(path, fieldname, "expected a list of non-empty strings", line)
    return tuple(v.strip() for v in value)


def _platform(entry: Any, path: str, index: int) -> Platform:
    if not isinstance(entry, dict):
        raise ConfigError(path, f"platforms[{index}]", "expected a mapping with name, aliases, ...")
    line = entry.get("__line__")
    known = {"name", "aliases", "kind", "district", "status", "__line__"}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise ConfigError(path, f"platforms[{index}].{unknown[0]}", f"unknown field; expected one of "
                          f"{sorted(known - {'__line__'})}", line)
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(path, f"platforms[{index}].name", "expected a non-empty string", line)
    kind = str(entry.get("kind", "other"))
    if kind not in KINDS:
        raise ConfigError(path, f"platforms[{index}].kind", f"expected one of {list(KINDS)}, got {kind!r}", line)
    status = str(entry.get("status", "unknown"))
    if status not in STATUSES:
        raise ConfigError(path, f"platforms[{index}].status",
                          f"expected one of {list(STATUSES)}, got {status!r}", line)
    return Platform(
        name=name.strip(),
        aliases=_str_list(entry.get("aliases"), path, line, f"platforms[{index}].aliases"),
        kind=kind,
        district=str(entry.get("district") or ""),
        status=status,
    )


def registry_from_entries(entries: Sequence[Any], source: str = "<memory>") -> Registry:
    platforms: list[Platform] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        platform = _platform(entry, source, index)
        line = entry.get("__line__") if isinstance(entry, dict) else None
        if platform.name in seen:
            raise ConfigError(source, f"platforms[{index}].name",
                              f"duplicate platform {platform.name!r} (first at platforms[{seen[platform.name]}])",
                              line)
        seen[platform.name] = index
        platforms.append(platform)
    return Registry(tuple(platforms), source)


def load_registry(path: Path | str) -> Registry:
    """Load and validate a registry YAML file."""
    path = Path(path)
    doc = load_yaml_with_lines(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("platforms"), list):
        raise ConfigError(str(path), "platforms", "expected a top-level 'platforms:' list")
    return registry_from_entries(doc["platforms"], str(path))
