"""The EUR/GBP rate in force, for processes without Faust (the Airflow scheduler).

The worker keeps the rate in its ``fx-rates`` table, fed from the compacted ``fx.rates``
topic. A process without Faust reads the same topic from the beginning and folds it with the
same function (:func:`app.ingest.fx.latest_rate`), so it ends with the rate the worker holds.
Before any rate was published (no topic, or no usable message) the fallback is the worker's:
``FX_GBP_EUR`` as of the epoch (:func:`app.policy_config.configured_fx`). A broker that cannot
be read raises (a rate is never guessed while one may have been published).
"""

from __future__ import annotations

import asyncio
import logging

from app.domain.fx import FxRates
from app.ingest.fx import FX_RATES_TOPIC, latest_rate
from app.ingest.topic_reader import read_to_end
from app.policy_config import configured_fx
from app.settings import Settings

__all__ = ["read_rate_in_force", "read_rate_in_force_async"]

log = logging.getLogger(__name__)


async def read_rate_in_force_async(settings: Settings, *, timeout_s: float = 30.0) -> FxRates:
    """The newest usable rate on ``fx.rates``, else the configured one (see the module doc).

    Raises ``TimeoutError`` when the topic could not be read to its end within ``timeout_s``
    and aiokafka's errors when the broker cannot be reached.
    """
    topic = settings.topic(FX_RATES_TOPIC)
    messages = await read_to_end(settings.kafka_bootstrap_servers, topic, timeout_s=timeout_s)
    rate = latest_rate(messages)
    if rate is None:
        fallback = configured_fx(settings)
        log.info(
            "no usable rate on %s (%d messages): EUR per GBP is the configured %s",
            topic,
            len(messages),
            fallback.eur_per_gbp,
        )
        return fallback
    log.info("EUR per GBP is %s (as of %s) from %s", rate.eur_per_gbp, rate.as_of, topic)
    return rate


def read_rate_in_force(settings: Settings, *, timeout_s: float = 30.0) -> FxRates:
    """Synchronous :func:`read_rate_in_force_async` (not from inside a running event loop)."""
    return asyncio.run(read_rate_in_force_async(settings, timeout_s=timeout_s))
