"""Idempotent topic creation (the broker runs with ``auto.create.topics.enable=false``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

log = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36


class TopicCreationError(RuntimeError):
    """The broker refused to create a topic."""


async def ensure_topic_async(
    bootstrap_servers: str,
    name: str,
    *,
    partitions: int,
    replication_factor: int = 1,
    config: Mapping[str, str] | None = None,
) -> bool:
    """Create ``name`` unless it exists; whether this call created it.

    An existing topic is left as it is (its partitions and config are not changed). A topic
    created concurrently by someone else counts as existing.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15_000)
    await admin.start()
    try:
        if name in await admin.list_topics():
            return False
        response = await admin.create_topics(
            [
                NewTopic(
                    name,
                    num_partitions=partitions,
                    replication_factor=replication_factor,
                    topic_configs=dict(config or {}),
                )
            ]
        )
    finally:
        await admin.close()
    for topic, code, message in response.topic_errors:
        if topic != name or code == 0:
            continue
        if code == _TOPIC_ALREADY_EXISTS:
            return False
        raise TopicCreationError(f"could not create topic {name}: error {code} {message or ''}")
    log.info("created topic %s (%d partitions, config %s)", name, partitions, dict(config or {}))
    return True


def ensure_topic(
    bootstrap_servers: str,
    name: str,
    *,
    partitions: int,
    replication_factor: int = 1,
    config: Mapping[str, str] | None = None,
) -> bool:
    """Synchronous :func:`ensure_topic_async` (not from inside a running event loop)."""
    return asyncio.run(
        ensure_topic_async(
            bootstrap_servers,
            name,
            partitions=partitions,
            replication_factor=replication_factor,
            config=config,
        )
    )
