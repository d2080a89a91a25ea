"""The scheduler (no Faust) converts GBP with the rate in force on the real ``fx.rates``
topic, read and folded like the worker does; the configured rate only before any was
published."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from elasticsearch import Elasticsearch, helpers

from app.domain.detection import Pricing
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE
from app.es.documents import product_actions
from app.es.indices import LOGICAL_INDICES, index_settings, mapping_for
from app.ingest.estimates import outlook
from app.ingest.fx import FX_RATES_TOPIC, fx_message
from app.ingest.fx_topic import read_rate_in_force_async
from app.ingest.scheduling import AsinSignals
from app.ingest.signals import load_signals
from app.policy_config import configured_fx
from app.settings import Settings
from tests.integration.worker_process import produce
from tests.keepa_factory import make_quote
from tests.session_resources import Owned, delete_owned_sync

pytestmark = pytest.mark.asyncio(loop_scope="session")

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLICY = DetectionPolicy()
ASIN = "B0FXSCHED1"


def rate_value(eur_per_gbp: str, day: int) -> dict[str, str]:
    as_of = f"2026-11-{day:02d}T16:00:00Z"
    return {"currency": "GBP", "eur_per_gbp": eur_per_gbp, "as_of": as_of, "source": "ecb"}


@pytest.fixture
def fx_settings(es: Elasticsearch, settings: Settings, unique: str) -> Iterator[Settings]:
    s = settings.model_copy(
        update={
            "topic_prefix": f"{unique}.",
            "elasticsearch_index_prefix": f"{unique}-",
            "fx_gbp_eur": Decimal("1.15"),
        }
    )
    for logical in LOGICAL_INDICES:
        es.indices.create(
            index=s.index(logical), mappings=mapping_for(logical), settings=index_settings()
        )
    yield s
    owned = Owned((s.topic_prefix,), (s.elasticsearch_index_prefix,))
    delete_owned_sync(s.kafka_bootstrap_servers, es, owned)


async def test_the_rate_in_force_comes_from_the_topic(
    fx_settings: Settings, kafka_bootstrap: str, es: Elasticsearch
) -> None:
    s = fx_settings
    topic = s.topic(FX_RATES_TOPIC)
    # No topic yet: the configured FX_GBP_EUR, as of the epoch (the worker's fallback too).
    assert await read_rate_in_force_async(s) == configured_fx(s)

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, 1, 1, topic_configs={"cleanup.policy": "compact"})]
        )
    finally:
        await admin.close()
    assert await read_rate_in_force_async(s) == configured_fx(s)  # empty: still configured

    await produce(
        kafka_bootstrap,
        topic,
        [
            fx_message(rate_value("1.170000", 18)),
            fx_message(rate_value("1.189980", 19)),
            (b"GBP", orjson.dumps(rate_value("-3", 20))),  # unusable: skipped, as the worker does
            (b"GBP", b"{not json"),
        ],
    )
    rate = await read_rate_in_force_async(s)
    assert rate == FxRates(Decimal("1.189980"), datetime(2026, 11, 19, 16, tzinfo=UTC))

    # load_signals without an explicit rate uses it: DE 20.00 EUR -> GB 52.00 GBP.
    quotes = {
        Market.DE: make_quote(ASIN, Market.DE, amazon=2000, last_update=T0),
        Market.GB: make_quote(
            ASIN, Market.GB, buy_box=5200, fba_fee=250, referral_pct=15.0, last_update=T0
        ),
    }
    actions = [a for q in quotes.values() for a in product_actions(q, rate, s.index)]
    helpers.bulk(es, actions, refresh="wait_for")
    signals = await _load_signals_in_a_thread(es, s)
    best = signals[ASIN].best_profit_eur_cents
    # (no seller profile published on this run's topic: the default profile is in force)
    assert best == outlook(quotes, POLICY, _pricing(rate)).best_profit_eur_cents
    assert best != outlook(quotes, POLICY, _pricing(configured_fx(s))).best_profit_eur_cents


def _pricing(fx: FxRates) -> Pricing:
    return Pricing(fx, DEFAULT_PROFILE, "default", default_fee_schedule())


async def _load_signals_in_a_thread(es: Elasticsearch, s: Settings) -> dict[str, AsinSignals]:
    """``load_signals`` is synchronous (it runs in an Airflow task): off the event loop."""
    return await asyncio.to_thread(lambda: load_signals(es, s, [ASIN], now=T0, policy=POLICY))
