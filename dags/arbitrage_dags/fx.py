"""Task bodies of ``fx_rates``: ECB daily reference rates -> the ``fx.rates`` topic.

:func:`fetch_fx_value` downloads the ECB's daily XML and turns it into the EUR/GBP message
(:class:`app.contracts.fx_rates.FxRate`, parsing and checks in :mod:`app.ingest.fx`), returned
as plain JSON values for XCom. When the ECB cannot be reached or sends
something unusable, it raises :class:`FxUnavailableError` and nothing is published: the
worker keeps the last known rate (the topic is compacted, so it still holds it), and the
task fails loudly after its retries. A rate is never made up.

:func:`publish_fx_value` creates the topic if needed (1 partition, ``cleanup.policy=compact``)
and publishes with ``acks=all`` on an idempotent producer, returning after the broker's
acknowledgement.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import msgspec
import requests
from aiokafka import AIOKafkaProducer

from app.ingest.fx import (
    ECB_DAILY_URL,
    FX_RATES_TOPIC,
    EcbRatesError,
    fx_message,
    fx_value,
    parse_ecb_daily,
)
from app.settings import Settings
from arbitrage_dags.kafka_admin import ensure_topic_async

log = logging.getLogger(__name__)

FX_TOPIC: Final = FX_RATES_TOPIC
FX_TOPIC_CONFIG: Final = {"cleanup.policy": "compact"}
_NOT_PUBLISHED: Final = "nothing was published; the worker keeps its last known EUR/GBP rate"


class FxUnavailableError(RuntimeError):
    """No usable ECB rate this time (unreachable, HTTP error or unusable document)."""


def fetch_fx_value(
    now: datetime,
    *,
    url: str = ECB_DAILY_URL,
    timeout_s: float = 30.0,
    session: requests.Session | None = None,
) -> dict[str, Any]:
    """The ``fx.rates`` message from the ECB's current daily rates, as JSON values."""
    http = session or requests.Session()
    try:
        response = http.get(url, timeout=timeout_s, headers={"Accept": "application/xml"})
        response.raise_for_status()
    except requests.RequestException as exc:
        raise FxUnavailableError(
            f"ECB reference rates unreachable at {url} ({type(exc).__name__}: {exc}); "
            f"{_NOT_PUBLISHED}"
        ) from exc
    finally:
        if session is None:
            http.close()
    try:
        message = fx_value(parse_ecb_daily(response.content), now=now)
    except EcbRatesError as exc:
        raise FxUnavailableError(
            f"ECB reference rates from {url} unusable: {exc}; {_NOT_PUBLISHED}"
        ) from exc
    log.info("ECB: 1 GBP = %s EUR as of %s", message.eur_per_gbp, message.as_of)
    value: dict[str, Any] = msgspec.to_builtins(message)
    return value


async def publish_fx_value_async(value: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    topic = settings.topic(FX_TOPIC)
    key, payload = fx_message(value)
    await ensure_topic_async(
        settings.kafka_bootstrap_servers,
        topic,
        partitions=1,
        replication_factor=settings.topic_replication_factor,
        config=FX_TOPIC_CONFIG,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
    )
    await producer.start()
    try:
        metadata = await producer.send_and_wait(topic, payload, key=key)
    finally:
        await producer.stop()
    log.info(
        "published EUR/GBP %s (as of %s) to %s[%d]@%d",
        value["eur_per_gbp"],
        value["as_of"],
        topic,
        metadata.partition,
        metadata.offset,
    )
    return {
        "topic": topic,
        "partition": metadata.partition,
        "offset": metadata.offset,
        **dict(value),
    }


def publish_fx_value(value: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """Publish the value under key ``GBP``; where it landed, after the broker acknowledged."""
    return asyncio.run(publish_fx_value_async(value, settings))
