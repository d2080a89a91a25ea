"""Idempotent topic creation: :mod:`app.ingest.kafka_admin`'s, for the DAGs."""

from app.ingest.kafka_admin import TopicCreationError, ensure_topic, ensure_topic_async

__all__ = ["TopicCreationError", "ensure_topic", "ensure_topic_async"]
