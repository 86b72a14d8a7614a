from __future__ import annotations

from pathlib import Path

import pytest

from yujing.errors import ConfigError
from yujing.registry import load_registry


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_registry_loads(demo_dir: Path) -> None:
    registry = load_registry(demo_dir / "registry.yaml")
    assert len(registry) == 10
    platform = registry.get("鑫盛贷")
    assert platform is not None and platform.district == "城东区" and "XSD" in platform.aliases


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("platforms:\n  - name: A\n    kind: bank\n", r"registry.yaml:2 platforms\[0\].kind: expected one of"),
        ("platforms:\n  - name: A\n  - name: A\n", r"registry.yaml:3 platforms\[1\].name: duplicate platform 'A'"),
        ("platforms:\n  - aliases: [x]\n", r"registry.yaml:2 platforms\[0\].name: expected a non-empty string"),
        ("platforms:\n  - name: A\n    alias: [x]\n", r"platforms\[0\].alias: unknown field"),
        ("platforms:\n  - name: A\n    aliases: x\n", r"platforms\[0\].aliases: expected a list"),
        ("platform: []\n", r"platforms: expected a top-level 'platforms:' list"),
        ("platforms: [\n", r"registry.yaml:\d+ yaml: cannot parse"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path: Path, body: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_registry(_write(tmp_path, body))


def test_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_registry(tmp_path / "nope.yaml")
