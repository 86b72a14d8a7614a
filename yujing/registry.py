"""The platform registry (一户一档): one entry per platform under watch.

YAML::

    platforms:
      - name: 鑫盛贷            # registry name, unique
        aliases: [鑫盛, XSD]     # other names people use
        kind: p2p                # p2p | crowdfunding | payment | wealth | other
        district: 城东区
        status: operating        # operating | troubled | suspended | collapsed | unknown

or CSV, as an office keeps it in a spreadsheet (UTF-8, or GB18030/GBK as Excel saves it in China), with a header
row in English or Chinese and aliases separated by ``;``, ``、``, ``|`` or (in a quoted cell) a comma::

    名称,别名,类型,所在区,状态
    鑫盛贷,鑫盛;XSD,p2p,城东区,运营

Loaded and validated once; every error names ``file:line field`` and what was expected.
"""

from __future__ import annotations

import csv
import io
import re
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


# CSV headers (English or Chinese) -> field
CSV_COLUMNS: dict[str, str] = {
    "name": "name", "名称": "name", "平台名称": "name", "平台": "name",
    "aliases": "aliases", "别名": "aliases", "简称": "aliases",
    "kind": "kind", "类型": "kind", "业态": "kind",
    "district": "district", "所在区": "district", "区县": "district", "辖区": "district", "属地": "district",
    "status": "status", "状态": "status",
}  # fmt: skip
# Chinese values a spreadsheet may hold -> the registry's values (English values are accepted as they are)
CSV_KINDS = {"网贷": "p2p", "P2P": "p2p", "网络借贷": "p2p", "众筹": "crowdfunding", "股权众筹": "crowdfunding",
             "支付": "payment", "第三方支付": "payment", "理财": "wealth", "互联网理财": "wealth", "其他": "other"}
CSV_STATUSES = {"运营": "operating", "正常": "operating", "正常运营": "operating", "风险": "troubled",
                "问题": "troubled", "异常": "troubled", "停业": "suspended", "暂停": "suspended",
                "暂停运营": "suspended", "倒闭": "collapsed", "跑路": "collapsed", "清退": "collapsed",
                "未知": "unknown"}
_ALIAS_SEPARATORS = re.compile(r"[;；、|,，]")


def _read_csv_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), "file", "not found; pass an existing file") from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ConfigError(str(path), "file", "is neither UTF-8 nor GB18030; save it as CSV UTF-8")


def csv_entries(path: Path) -> list[dict[str, Any]]:
    """The rows of a registry CSV as registry entries (``__line__`` = the CSV line); header errors name the
    column and the headers accepted."""
    reader = csv.reader(io.StringIO(_read_csv_text(path), newline=""))
    header = next(reader, None)
    if not header or not any(cell.strip() for cell in header):
        raise ConfigError(str(path), "header", "expected a header row, e.g. name,aliases,kind,district,status or "
                          "名称,别名,类型,所在区,状态", line=1)
    fields: list[str] = []
    for cell in header:
        field_name = CSV_COLUMNS.get(cell.strip()) or CSV_COLUMNS.get(cell.strip().lower())
        if field_name is None:
            raise ConfigError(str(path), f"column {cell.strip()!r}", "unknown column; delete it or rename it to one "
                              f"of {', '.join(CSV_COLUMNS)}", line=1)
        if field_name in fields:
            raise ConfigError(str(path), f"column {cell.strip()!r}", f"a second {field_name} column", line=1)
        fields.append(field_name)
    if "name" not in fields:
        raise ConfigError(str(path), "header", "no name column (name, 名称 or 平台名称)", line=1)
    entries: list[dict[str, Any]] = []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # blank lines at the end of a spreadsheet export
        if len(row) > len(fields):
            raise ConfigError(str(path), f"row {line}", f"{len(row)} cells for {len(fields)} columns; quote a cell "
                              "that holds a comma", line=line)
        entry: dict[str, Any] = {"__line__": line}
        for field_name, cell in zip(fields, row, strict=False):
            value = cell.strip()
            if not value:
                continue
            if field_name == "aliases":
                entry["aliases"] = [a.strip() for a in _ALIAS_SEPARATORS.split(value) if a.strip()]
            elif field_name == "kind":
                entry["kind"] = CSV_KINDS.get(value, CSV_KINDS.get(value.upper(), value.lower()))
            elif field_name == "status":
                entry["status"] = CSV_STATUSES.get(value, value.lower())
            else:
                entry[field_name] = value
        entries.append(entry)
    return entries


def load_registry(path: Path | str) -> Registry:
    """Load and validate a registry file: YAML, or CSV when its name ends in ``.csv``."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return registry_from_entries(csv_entries(path), str(path))
    doc = load_yaml_with_lines(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("platforms"), list):
        raise ConfigError(str(path), "platforms", "expected a top-level 'platforms:' list")
    return registry_from_entries(doc["platforms"], str(path))
