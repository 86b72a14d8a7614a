"""Typed settings, read once from the environment (prefix ``YUJING_``) and validated.

Everything has a working default for the embedded deployment: a data directory holding the bus,
the store, the outbox and the pseudonym key. The distributed deployment sets ``YUJING_BUS`` and
``YUJING_STORE`` to Kafka and Elasticsearch/OpenSearch URLs.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
DEMO_DIR = PACKAGE_DIR / "demo"


def _default_data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "yujing"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YUJING_", frozen=True, extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    bus: str = ""
    store: str = ""
    registry: Path | None = None
    model: str | None = None
    rules: Path | None = None
    routes: Path | None = None
    receivers: Path | None = None  # who is paged on which channel (default: alerting/defaults/receivers.yaml)
    pseudonym_key: SecretStr | None = None
    max_text_chars: int = 2000

    @property
    def bus_url(self) -> str:
        return self.bus or f"sqlite:///{self.data_dir / 'bus.db'}"

    @property
    def store_url(self) -> str:
        return self.store or f"sqlite:///{self.data_dir / 'store.db'}"

    @property
    def registry_path(self) -> Path:
        """The configured registry, else ``<data_dir>/registry.yaml``, else the demo registry."""
        if self.registry is not None:
            return self.registry
        local = self.data_dir / "registry.yaml"
        return local if local.exists() else DEMO_DIR / "registry.yaml"

    @cached_property
    def key(self) -> bytes:
        """The pseudonym key: from the environment, else created once in the data dir (mode 0600)."""
        if self.pseudonym_key is not None:
            return self.pseudonym_key.get_secret_value().encode()
        path = self.data_dir / "pseudonym.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return path.read_text().strip().encode()
