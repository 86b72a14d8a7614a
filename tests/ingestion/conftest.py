"""Fixtures for ingestion tests; the Kafka broker lives in ``tests/kafka_fixtures.py``."""

from tests.kafka_fixtures import kafka_broker, kafka_settings

__all__ = ["kafka_broker", "kafka_settings"]
