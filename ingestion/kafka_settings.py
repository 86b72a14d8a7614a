"""Kafka connection settings: typed, validated once, secrets kept out of logs.

Settings come from the environment (``YUJING_KAFKA_*``), then from the bus URL's query string for
non-secret fields, e.g. ``kafka://10.0.0.5:9092,10.0.0.6:9092?topic_prefix=hz.&partitions=12``.
Passwords are ``SecretStr``: they print as ``**********`` and never appear in URLs or messages.

This module is pure: it turns settings into kafka-python keyword arguments but opens nothing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from yujing.errors import ConfigError

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

ENV_PREFIX = "YUJING_KAFKA_"
_SECRET_FIELDS = frozenset({"sasl_password", "ssl_password"})


class KafkaSettings(BaseSettings):
    """How Yujing talks to Kafka. Every field can be set as ``YUJING_KAFKA_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    topic_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]*$")] = "yujing."
    partitions: Annotated[int, Field(ge=1, le=1000)] = 6
    replication_factor: Annotated[int, Field(ge=1, le=10)] = 1
    create_topics: bool = True
    client_id: str = "yujing"

    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_password: SecretStr | None = None
    ssl_check_hostname: bool = True

    # Consumers: a batch of ``max_poll_records`` must be processed well within
    # ``max_poll_interval_ms`` (also the rebalance timeout: a group's first join waits this long).
    max_poll_records: Annotated[int, Field(ge=1, le=10_000)] = 100
    max_poll_interval_ms: Annotated[int, Field(ge=500)] = 300_000
    session_timeout_ms: Annotated[int, Field(ge=1000)] = 45_000
    heartbeat_interval_ms: Annotated[int, Field(ge=100)] = 3_000
    # The alerter's event-time reorder buffer: how far (event time) a platform's scored posts may
    # arrive out of order when several scorers write them (ingestion/reorder.py).
    event_time_slack_s: Annotated[float, Field(ge=0)] = 120.0
    # Producers and clients.
    request_timeout_ms: Annotated[int, Field(ge=1000)] = 30_000
    bootstrap_timeout_ms: Annotated[int, Field(ge=100)] = 10_000
    delivery_timeout_ms: Annotated[int, Field(ge=1000)] = 120_000
    linger_ms: Annotated[int, Field(ge=0)] = 5
    # The largest record a producer sends (kafka-python's max_request_size); the checkpoint topic is created with
    # the same max.message.bytes. Raise both here and on the broker's other topics for unusually long posts.
    max_request_bytes: Annotated[int, Field(ge=1024)] = 1_048_576

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL_"):
            if self.sasl_mechanism is None:
                raise ValueError(f"security_protocol {self.security_protocol} needs sasl_mechanism")
            if not self.sasl_username or self.sasl_password is None:
                raise ValueError("SASL needs sasl_username and sasl_password (set YUJING_KAFKA_SASL_PASSWORD)")
        if self.heartbeat_interval_ms >= self.session_timeout_ms:
            raise ValueError("heartbeat_interval_ms must be below session_timeout_ms (a third of it is usual)")
        return self

    def topic(self, logical: str) -> str:
        """The Kafka topic for a logical topic name (``raw.posts`` -> ``yujing.raw.posts``)."""
        return f"{self.topic_prefix}{logical}"

    def logical(self, physical: str) -> str:
        return physical.removeprefix(self.topic_prefix)


def load_settings(query: str = "", base: KafkaSettings | None = None) -> KafkaSettings:
    """Settings from the environment (or ``base``) overridden by a URL query string."""
    overrides = dict(parse_qsl(query, keep_blank_values=True))
    for name in sorted(_SECRET_FIELDS.intersection(overrides)):
        raise ConfigError("--bus", name, f"secrets do not belong in URLs; set {ENV_PREFIX}{name.upper()}")
    try:
        if base is None:
            return KafkaSettings(**overrides)  # type: ignore[arg-type]  # strings are validated
        return KafkaSettings.model_validate({**_explicit(base), **overrides})
    except ValidationError as exc:
        raise _config_error(exc) from exc


def _explicit(settings: KafkaSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.model_fields_set}


def _config_error(exc: ValidationError) -> ConfigError:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "kafka"
    where = f"{ENV_PREFIX}{field.upper()}" if first["loc"] else "kafka settings"
    return ConfigError("environment/--bus", where, first["msg"])


def parse_bus_url(url: str) -> tuple[tuple[str, ...], str]:
    """``kafka://h1:9092,h2:9092?x=y`` -> ((``h1:9092``, ``h2:9092``), ``x=y``)."""
    parts = urlsplit(url)
    if parts.scheme != "kafka":
        raise ConfigError("--bus", "url", f"expected kafka://host:port[,host:port], got {url!r}")
    servers = tuple(s.strip() for s in parts.netloc.split(",") if s.strip())
    if not servers:
        raise ConfigError("--bus", "url", f"no broker in {url!r}; expected kafka://host:port[,host:port]")
    for server in servers:
        _check_server(server, url)
    return servers, parts.query


def _check_server(server: str, url: str) -> None:
    host, sep, port = server.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("--bus", "url", f"broker {server!r} in {url!r} is not host:port (e.g. 127.0.0.1:9092)")


def security_kwargs(settings: KafkaSettings) -> dict[str, Any]:
    """kafka-python keyword arguments for authentication and TLS (shared by all client kinds)."""
    kwargs: dict[str, Any] = {"security_protocol": settings.security_protocol}
    if settings.security_protocol.startswith("SASL_"):
        kwargs["sasl_mechanism"] = settings.sasl_mechanism
        kwargs["sasl_plain_username"] = settings.sasl_username
        kwargs["sasl_plain_password"] = _reveal(settings.sasl_password)
    if settings.security_protocol.endswith("SSL"):
        kwargs.update(
            ssl_cafile=settings.ssl_cafile,
            ssl_certfile=settings.ssl_certfile,
            ssl_keyfile=settings.ssl_keyfile,
            ssl_password=_reveal(settings.ssl_password),
            ssl_check_hostname=settings.ssl_check_hostname,
        )
    return kwargs


class Redacted(str):
    """A secret handed to kafka-python: usable as the string it is, but ``repr`` hides it, so a
    client logging its configuration dict (KafkaAdminClient does, at DEBUG) prints ``'**********'``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'**********'"


def _reveal(secret: SecretStr | None) -> str | None:
    return None if secret is None else Redacted(secret.get_secret_value())


def client_kwargs(servers: tuple[str, ...], settings: KafkaSettings) -> dict[str, Any]:
    """Arguments every kafka-python client gets."""
    return {
        "bootstrap_servers": list(servers),
        "client_id": settings.client_id,
        "request_timeout_ms": settings.request_timeout_ms,
        "bootstrap_timeout_ms": settings.bootstrap_timeout_ms,
        **security_kwargs(settings),
    }


def producer_kwargs(servers: tuple[str, ...], settings: KafkaSettings) -> dict[str, Any]:
    """Idempotent producer, acknowledged by all in-sync replicas; never auto-creates topics."""
    return {
        **client_kwargs(servers, settings),
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": settings.linger_ms,
        "delivery_timeout_ms": settings.delivery_timeout_ms,
        "max_block_ms": settings.bootstrap_timeout_ms,
        "allow_auto_create_topics": False,
        "max_request_size": settings.max_request_bytes,
    }


def consumer_kwargs(servers: tuple[str, ...], settings: KafkaSettings, group: str | None) -> dict[str, Any]:
    """Manual commits only, from the earliest offset for a new group, bounded batches."""
    return {
        **client_kwargs(servers, settings),
        "group_id": group,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "allow_auto_create_topics": False,
        "max_poll_records": settings.max_poll_records,
        "max_poll_interval_ms": settings.max_poll_interval_ms,
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": settings.heartbeat_interval_ms,
    }
