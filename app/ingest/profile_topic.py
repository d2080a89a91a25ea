"""The seller profile on ``seller.profile`` for processes without Faust: the API
(``GET/PUT /profile``) and the CLI (``arbitrage profile``) read and publish it here, and only
here.

Reading: the topic is read to its end and folded with the worker's function
(:func:`app.contracts.seller_profile.latest_profile`), so the answer is the profile the
worker's ``seller-profile`` table holds once it has consumed the topic: the last usable
message, or the default before any. Reading to the end offset right after a publish
acknowledged with ``acks=all`` sees that publish (read-your-writes).

Publishing: only a validated :class:`app.domain.profile.SellerProfile` can be published (the
callers validate the user's input with :func:`app.domain.profile.profile_from_mapping` /
:func:`app.domain.profile.with_overrides` and report the field on error). The complete
profile is sent under key ``default`` on an idempotent producer with ``acks=all``;
:func:`publish_profile_async` returns after the broker acknowledged it. The topic is created
by the worker (compacted, one partition, as Faust declares it); while it does not exist,
:class:`ProfileTopicMissingError` is raised and nothing is published.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaProducer

from app.contracts.seller_profile import (
    PROFILE_KEY_DEFAULT,
    SELLER_PROFILE,
    SELLER_PROFILE_TOPIC,
    ProfileInForce,
    latest_profile,
)
from app.domain.profile import SellerProfile
from app.ingest.producer import producer_options
from app.ingest.topic_reader import read_to_end, topic_partitions
from app.settings import Settings

__all__ = [
    "ProfileTopicMissingError",
    "PublishedProfile",
    "publish_profile",
    "publish_profile_async",
    "read_profile_in_force",
    "read_profile_in_force_async",
]

log = logging.getLogger(__name__)


class ProfileTopicMissingError(RuntimeError):
    """``seller.profile`` does not exist yet (no worker has run): nothing was published."""


@dataclass(frozen=True, slots=True)
class PublishedProfile:
    """What was published and where it landed."""

    in_force: ProfileInForce
    topic: str
    partition: int
    offset: int


async def read_profile_in_force_async(
    settings: Settings, *, timeout_s: float = 15.0
) -> ProfileInForce:
    """The profile in force (see the module doc). Raises ``TimeoutError`` when the topic
    could not be read to its end within ``timeout_s`` and aiokafka's errors when the broker
    cannot be reached: a profile is never guessed while one may have been published."""
    topic = settings.topic(SELLER_PROFILE_TOPIC)
    messages = await read_to_end(settings.kafka_bootstrap_servers, topic, timeout_s=timeout_s)
    return latest_profile(messages)


def read_profile_in_force(settings: Settings, *, timeout_s: float = 15.0) -> ProfileInForce:
    """Synchronous :func:`read_profile_in_force_async` (not from a running event loop)."""
    return asyncio.run(read_profile_in_force_async(settings, timeout_s=timeout_s))


async def publish_profile_async(
    settings: Settings,
    profile: SellerProfile,
    *,
    updated_by: str,
    now: datetime,
    timeout_s: float = 15.0,
) -> PublishedProfile:
    """Publish ``profile`` as the one in force from ``now``; returns after the broker's
    acknowledgement (``acks=all``). :class:`ProfileTopicMissingError` when the topic does not exist,
    aiokafka's errors when the broker cannot be reached or refuses the record."""
    topic = settings.topic(SELLER_PROFILE_TOPIC)
    bootstrap = settings.kafka_bootstrap_servers
    if not await topic_partitions(bootstrap, topic, timeout_s):
        raise ProfileTopicMissingError(
            f"topic {topic} does not exist yet; start the worker (`arbitrage worker`), "
            "which creates it; nothing was published"
        )
    in_force = ProfileInForce.published(profile, updated_at=now, updated_by=updated_by)
    producer = AIOKafkaProducer(
        # one message, sent at once (no linger)
        **producer_options(bootstrap, linger_ms=0, request_timeout_ms=int(timeout_s * 1000))
    )
    await producer.start()
    try:
        metadata = await producer.send_and_wait(
            topic, SELLER_PROFILE.encode(in_force.message()), key=PROFILE_KEY_DEFAULT
        )
    finally:
        await producer.stop()
    log.info(
        "published seller profile %s by %r to %s[%d]@%d",
        in_force.version,
        updated_by,
        topic,
        metadata.partition,
        metadata.offset,
    )
    return PublishedProfile(in_force, topic, int(metadata.partition), int(metadata.offset))


def publish_profile(
    settings: Settings,
    profile: SellerProfile,
    *,
    updated_by: str,
    now: datetime,
    timeout_s: float = 15.0,
) -> PublishedProfile:
    """Synchronous :func:`publish_profile_async` (not from a running event loop)."""
    return asyncio.run(
        publish_profile_async(
            settings, profile, updated_by=updated_by, now=now, timeout_s=timeout_s
        )
    )
