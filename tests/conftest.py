"""Project-wide test settings: offline models, and no test writes outside its tmp dir."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "yujing" / "demo"


@pytest.fixture(autouse=True)
def yujing_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own data dir and a fixed pseudonym key."""
    data = tmp_path / "yujing-data"
    monkeypatch.setenv("YUJING_DATA_DIR", str(data))
    monkeypatch.setenv("YUJING_PSEUDONYM_KEY", "test-key")
    for name in ("YUJING_BUS", "YUJING_STORE", "YUJING_REGISTRY", "YUJING_MODEL", "YUJING_RULES"):
        monkeypatch.delenv(name, raising=False)
    yield data


@pytest.fixture
def demo_dir() -> Path:
    return DEMO
