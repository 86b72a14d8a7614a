"""Kafka settings and error translation: pure, no broker."""

from __future__ import annotations

import kafka.errors as ke
import pytest
from pydantic import SecretStr

from yujing.errors import BusError, ConfigError
from yujing.ingestion.kafka_errors import Context, translate
from yujing.ingestion.kafka_settings import (
    KafkaSettings,
    consumer_kwargs,
    load_settings,
    parse_bus_url,
    producer_kwargs,
)


def test_url_lists_brokers_and_query() -> None:
    assert parse_bus_url("kafka://10.0.0.5:9092,10.0.0.6:9093?partitions=12") == (
        ("10.0.0.5:9092", "10.0.0.6:9093"),
        "partitions=12",
    )


@pytest.mark.parametrize("url", ["kafka://", "sqlite:///x.db", "kafka://host", "kafka://host:99999", "kafka://:9092"])
def test_bad_urls_say_what_is_expected(url: str) -> None:
    with pytest.raises(ConfigError, match="host:port"):
        parse_bus_url(url)


def test_query_overrides_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YUJING_KAFKA_TOPIC_PREFIX", "hz.")
    monkeypatch.setenv("YUJING_KAFKA_PARTITIONS", "8")
    settings = load_settings("partitions=12&max_poll_interval_ms=2000")
    assert (settings.topic_prefix, settings.partitions, settings.max_poll_interval_ms) == ("hz.", 12, 2000)
    assert settings.topic("raw.posts") == "hz.raw.posts"
    assert settings.logical("hz.raw.posts") == "raw.posts"


def test_query_overrides_explicit_base() -> None:
    base = KafkaSettings(topic_prefix="sz.", partitions=3)
    merged = load_settings("partitions=5", base=base)
    assert (merged.topic_prefix, merged.partitions) == ("sz.", 5)


def test_secrets_are_refused_in_urls() -> None:
    with pytest.raises(ConfigError, match="YUJING_KAFKA_SASL_PASSWORD"):
        load_settings("sasl_password=hunter2")


def test_invalid_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="YUJING_KAFKA_PARTITIONS"):
        load_settings("partitions=zero")


def test_sasl_needs_mechanism_and_credentials() -> None:
    with pytest.raises(ConfigError, match="sasl_mechanism"):
        load_settings("security_protocol=SASL_SSL")
    with pytest.raises(ConfigError, match="sasl_password"):
        load_settings("security_protocol=SASL_SSL&sasl_mechanism=PLAIN&sasl_username=yj")


def test_heartbeat_must_be_below_session_timeout() -> None:
    with pytest.raises(ConfigError, match="heartbeat_interval_ms"):
        load_settings("heartbeat_interval_ms=5000&session_timeout_ms=4000")


def test_password_is_hidden_but_reaches_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YUJING_KAFKA_SASL_PASSWORD", "hunter2")
    settings = load_settings("security_protocol=SASL_SSL&sasl_mechanism=SCRAM-SHA-512&sasl_username=yj")
    assert isinstance(settings.sasl_password, SecretStr)
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())
    kwargs = producer_kwargs(("k:9092",), settings)
    assert kwargs["sasl_plain_password"] == "hunter2"
    assert kwargs["security_protocol"] == "SASL_SSL" and kwargs["sasl_mechanism"] == "SCRAM-SHA-512"


def test_plaintext_sends_no_credentials() -> None:
    kwargs = producer_kwargs(("k:9092",), KafkaSettings())
    assert "sasl_plain_password" not in kwargs and "ssl_cafile" not in kwargs


def test_producer_is_idempotent_and_waits_for_all_replicas() -> None:
    kwargs = producer_kwargs(("k:9092",), KafkaSettings())
    assert (kwargs["acks"], kwargs["enable_idempotence"], kwargs["allow_auto_create_topics"]) == ("all", True, False)


def test_consumer_commits_by_hand_with_bounded_batches() -> None:
    kwargs = consumer_kwargs(("k:9092",), KafkaSettings(max_poll_records=7, max_poll_interval_ms=900), "scorers")
    assert kwargs["enable_auto_commit"] is False and kwargs["auto_offset_reset"] == "earliest"
    assert (kwargs["group_id"], kwargs["max_poll_records"], kwargs["max_poll_interval_ms"]) == ("scorers", 7, 900)


CTX = Context("produce to yujing.raw.posts", ("10.0.0.5:9092",))


@pytest.mark.parametrize(
    ("exc", "retryable", "phrase"),
    [
        (ke.KafkaTimeoutError("Unable to bootstrap from 10.0.0.5:9092"), True, "is Kafka running"),
        (ke.UnknownTopicOrPartitionError(), False, "YUJING_KAFKA_CREATE_TOPICS"),
        (ke.SaslAuthenticationFailedError(), False, "YUJING_KAFKA_SASL_PASSWORD"),
        (ke.TopicAuthorizationFailedError(), False, "ACLs"),
        (ke.CommitFailedError(), True, "rebalanced"),
        (ke.MessageSizeTooLargeError(), False, "too large"),
        (ke.KafkaConnectionError("reset"), True, "connection"),
        (ke.NotEnoughReplicasError(), True, "NotEnoughReplicas"),
        (ke.InvalidRequiredAcksError(), False, "InvalidRequiredAcks"),
    ],
)
def test_translation(exc: Exception, retryable: bool, phrase: str) -> None:
    err = translate(exc, CTX)
    assert isinstance(err, BusError)
    assert err.retryable is retryable
    assert phrase in str(err)
    assert str(err).startswith("cannot produce to yujing.raw.posts on kafka://10.0.0.5:9092")


def test_unreachable_secure_broker_mentions_the_handshake() -> None:
    ctx = Context("connect a producer", ("k:9093",), "SASL_SSL")
    err = translate(ke.KafkaTimeoutError("Unable to bootstrap from k:9093"), ctx)
    assert err.retryable and "SASL user/password" in str(err)
