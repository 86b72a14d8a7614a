"""yujing.ingestion — decoding input, and the message buses (embedded log, Kafka)."""
