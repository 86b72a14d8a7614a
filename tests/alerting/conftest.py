from __future__ import annotations

import pytest

from tests.alerting.helpers import make_registry
from yujing.registry import Registry


@pytest.fixture
def registry() -> Registry:
    return make_registry()
