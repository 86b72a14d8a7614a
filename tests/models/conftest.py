"""Fixtures the tiny-model tests share: the tiny encoder's cache and the toy splits, built once per module."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.models.tiny_model import make_tiny_encoder, write_toy_splits


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cache")
    make_tiny_encoder(root)
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_splits(tmp_path_factory.mktemp("data"))
