"""Yujing's exceptions: one root, foreign errors translated at the adapter boundary.

    YujingError
    ├── ConfigError        a config/registry/rules file is invalid (names file:line and field)
    ├── InputError         one input record is unusable (goes to the dead-letter store)
    ├── ModelError         a model cannot be found or loaded
    └── AdapterError       an external system failed; ``retryable`` says whether to try again
        ├── BusError       embedded log or Kafka
        ├── StoreError     embedded store, Elasticsearch or OpenSearch
        │   └── BackpressureError   the store asks us to slow down (``retry_after`` seconds)
        └── ChannelError   a notification channel (webhook, SMTP, DingTalk, WeCom)

Adapters raise these ``from`` the original exception so the cause stays in the traceback.
"""

from __future__ import annotations


class YujingError(Exception):
    """Root of every error Yujing raises on purpose."""


class ConfigError(YujingError):
    """A configuration file is invalid. The message names ``file:line field: what was expected``."""

    def __init__(self, path: str, field: str, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where} {field}: {message}")
        self.path = path
        self.field = field
        self.line = line


class InputError(YujingError):
    """One input record cannot be used; ``reason`` is short and machine-stable."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class ModelError(YujingError):
    """A scoring model is missing or broken."""


class AdapterError(YujingError):
    """An external system failed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class BusError(AdapterError):
    """The message bus (embedded log or Kafka) failed."""


class StoreError(AdapterError):
    """The index/store failed."""


class BackpressureError(StoreError):
    """The store is overloaded; pause intake for ``retry_after`` seconds and try again."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message, retryable=True)
        self.retry_after = retry_after


class ChannelError(AdapterError):
    """A notification channel failed to deliver."""
