"""kafka-python's errors translated into Yujing's ``BusError(retryable=...)``, with the fix in words.

Pure: ``translate`` looks at the exception and what we were doing; the adapter raises the result
``from`` the original so the cause stays in the traceback. Messages name brokers and topics,
never credentials.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import kafka.errors as ke

from yujing.errors import BusError


@dataclass(frozen=True, slots=True)
class Context:
    """What the adapter was doing when kafka-python raised."""

    action: str  # e.g. "produce to yujing.raw.posts"
    servers: tuple[str, ...]
    security_protocol: str = "PLAINTEXT"

    @property
    def where(self) -> str:
        return "kafka://" + ",".join(self.servers)


def translate(exc: BaseException, ctx: Context) -> BusError:
    """The ``BusError`` to raise for ``exc``; unknown errors keep kafka-python's retriable flag."""
    for kinds, explain in _RULES:
        if isinstance(exc, kinds):
            message, retryable = explain(exc, ctx)
            return BusError(f"cannot {ctx.action} on {ctx.where}: {message}", retryable=retryable)
    retryable = bool(getattr(exc, "retriable", False))
    return BusError(f"cannot {ctx.action} on {ctx.where}: {exc}", retryable=retryable)


def _unreachable(exc: BaseException, ctx: Context) -> tuple[str, bool]:
    if ctx.security_protocol != "PLAINTEXT":
        return (
            f"no broker answered ({exc}); the broker is down or unreachable, or the {ctx.security_protocol} "
            "handshake failed: check the address, YUJING_KAFKA_SECURITY_PROTOCOL, the SASL user/password "
            "and the TLS files",
            True,
        )
    return (f"no broker answered ({exc}); is Kafka running and is the address right?", True)


def _timeout(exc: BaseException, ctx: Context) -> tuple[str, bool]:
    if "bootstrap" in str(exc).lower():
        return _unreachable(exc, ctx)
    return (f"timed out ({exc}); the broker is slow or partitions have no leader, try again", True)


def _unknown_topic(exc: BaseException, ctx: Context) -> tuple[str, bool]:
    return (
        f"unknown topic or partition ({exc}); create the topics (YUJING_KAFKA_CREATE_TOPICS=true does it "
        "at start-up) or check YUJING_KAFKA_TOPIC_PREFIX",
        False,
    )


def _auth(exc: BaseException, ctx: Context) -> tuple[str, bool]:
    return (
        f"authentication or authorisation failed ({type(exc).__name__}); check YUJING_KAFKA_SASL_USERNAME, "
        "YUJING_KAFKA_SASL_PASSWORD, YUJING_KAFKA_SASL_MECHANISM and the ACLs of that user",
        False,
    )


def _rebalanced(exc: BaseException, ctx: Context) -> tuple[str, bool]:
    return (
        "the consumer group rebalanced and these partitions now belong to another member; their records "
        "will be redelivered there (processing took longer than YUJING_KAFKA_MAX_POLL_INTERVAL_MS?)",
        True,
    )


def _too_large(exc: BaseException, ctx: Context) -> tuple[str, bool]:
    return (f"record too large ({exc}); split the input, or raise YUJING_KAFKA_MAX_REQUEST_BYTES together with "
            "the topic's max.message.bytes on the broker", False)


def _config(exc: BaseException, ctx: Context) -> tuple[str, bool]:
    return (f"invalid client configuration ({exc}); check the YUJING_KAFKA_* settings", False)


def _connection(exc: BaseException, ctx: Context) -> tuple[str, bool]:
    return (f"connection to the broker failed ({exc}); retrying may succeed once it is back", True)


_ExplainFn = Callable[[BaseException, Context], tuple[str, bool]]

_RULES: tuple[tuple[tuple[type[BaseException], ...], _ExplainFn], ...] = (
    ((ke.SaslAuthenticationFailedError, ke.AuthorizationError, ke.UnsupportedSaslMechanismError), _auth),
    ((ke.UnknownTopicOrPartitionError, ke.InvalidTopicError), _unknown_topic),
    (
        (ke.CommitFailedError, ke.RebalanceInProgressError, ke.IllegalGenerationError, ke.UnknownMemberIdError),
        _rebalanced,
    ),
    ((ke.KafkaTimeoutError,), _timeout),
    ((ke.MessageSizeTooLargeError, ke.RecordListTooLargeError), _too_large),
    ((ke.KafkaConfigurationError,), _config),
    ((ke.KafkaConnectionError, ConnectionError), _connection),
)
