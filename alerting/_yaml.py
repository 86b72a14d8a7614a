"""Small validators shared by the rules, routes and receivers loaders.

Every failure is a :class:`ConfigError` naming ``file:line field`` and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, NoReturn

from yujing.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``"90s"``, ``"10m"``, ``"6h"``, ``"2d"`` → timedelta; ValueError otherwise."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"expected a duration like 10m, 6h or 2d, got {text!r}")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class Fields:
    """Typed access to one YAML mapping, with errors that name file, line and field."""

    def __init__(self, data: Any, path: str, where: str, known: Sequence[str], line: int | None = None) -> None:
        if not isinstance(data, dict):
            raise ConfigError(path, where, f"expected a mapping with keys {sorted(known)}", line)
        self.data: Mapping[str, Any] = data
        self.path = path
        self.where = where
        self.line = data.get("__line__", line)
        unknown = sorted(k for k in data if k != "__line__" and k not in known)
        if unknown:
            self.fail(unknown[0], f"unknown field; expected one of {sorted(known)}")

    def fail(self, name: str, message: str) -> NoReturn:
        field = f"{self.where}.{name}" if self.where else name
        raise ConfigError(self.path, field, message, self.line)

    def has(self, name: str) -> bool:
        return name in self.data

    def raw(self, name: str, default: Any = None) -> Any:
        return self.data.get(name, default)

    def string(self, name: str, default: str | None = None) -> str:
        value = self.data.get(name, default)
        if not isinstance(value, str) or not value.strip():
            self.fail(name, f"expected a non-empty string, got {value!r}")
        return str(value).strip()

    def choice(self, name: str, options: Sequence[str], default: str | None = None) -> str:
        value = self.string(name, default)
        if value not in options:
            self.fail(name, f"expected one of {list(options)}, got {value!r}")
        return value

    def number(self, name: str, default: float, minimum: float = 0.0, maximum: float | None = None) -> float:
        value = self.data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(name, f"expected a number, got {value!r}")
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and at most {maximum}" if maximum is not None else ""
            self.fail(name, f"expected a number at least {minimum}{upper}, got {value!r}")
        return float(value)

    def integer(self, name: str, default: int, minimum: int = 0) -> int:
        value = self.data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(name, f"expected an integer at least {minimum}, got {value!r}")
        return int(value)

    def boolean(self, name: str, default: bool) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            self.fail(name, f"expected true or false, got {value!r}")
        return bool(value)

    def duration(self, name: str, default: str) -> timedelta:
        value = self.data.get(name, default)
        try:
            delta = parse_duration(str(value))
        except ValueError as exc:
            self.fail(name, str(exc))
        return delta

    def strings(self, name: str, options: Sequence[str] | None = None) -> tuple[str, ...]:
        value = self.data.get(name)
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) and v.strip() for v in items):
            self.fail(name, "expected a string or a list of non-empty strings")
        for item in items:
            if options is not None and item not in options:
                self.fail(name, f"expected values from {list(options)}, got {item!r}")
        return tuple(str(v).strip() for v in items)

    def mapping_list(self, name: str) -> list[Any]:
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(name, "expected a list of mappings")
        return list(value)
