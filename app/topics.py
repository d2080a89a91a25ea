"""Every Kafka topic of the system (the contract is in docs/contract.md).

All topics are declared with the app's partition count: ``keepa.products`` is co-partitioned
with the tables keyed by ASIN. Topics the app owns are created by it (``internal=True``:
Faust declares them when it subscribes; output-only topics are declared by ``declare_all``).
"""

from __future__ import annotations

from app.faust_app import app, settings

KEEPA_PRODUCTS = settings.topic("keepa.products")
OPPORTUNITIES = settings.topic("arbitrage.opportunities")
KEEPA_PRODUCTS_DLQ = settings.topic("keepa.products.dlq")
OBSERVATIONS = settings.topic("arbitrage.observations")
SINK_DLQ = settings.topic("arbitrage.sink.dlq")

# Raw bytes in: the detector parses and validates itself so bad input can be dead-lettered.
keepa_products = app.topic(
    KEEPA_PRODUCTS, key_serializer="raw", value_serializer="raw", internal=True
)
opportunities = app.topic(
    OPPORTUNITIES, key_serializer="raw", value_serializer="json", internal=True
)
keepa_products_dlq = app.topic(
    KEEPA_PRODUCTS_DLQ, key_serializer="raw", value_serializer="raw", internal=True
)
# Parsed quotes, for the Elasticsearch sink (products and price history).
observations = app.topic(OBSERVATIONS, key_serializer="raw", value_serializer="json", internal=True)
sink_dlq = app.topic(SINK_DLQ, key_serializer="raw", value_serializer="json", internal=True)


# EUR/GBP reference rate, published daily by the `fx_rates` DAG (key "GBP"); compacted, so
# the latest rate per currency is always there for a starting worker.
FX_RATES = settings.topic("fx.rates")
fx_rates = app.topic(
    FX_RATES,
    key_serializer="raw",
    value_serializer="json",
    partitions=1,
    compacting=True,
    internal=True,
)


async def declare_all() -> None:
    """Create every topic of ours that does not exist yet (idempotent)."""
    for topic in (
        keepa_products,
        opportunities,
        keepa_products_dlq,
        observations,
        sink_dlq,
        fx_rates,
    ):
        await topic.maybe_declare()
