"""Every Kafka topic of the system; what travels on each is typed in :mod:`app.contracts`
(the human contract is docs/contract.md).

All topics are declared with the app's partition count: ``keepa.products`` is co-partitioned
with the tables keyed by ASIN. Topics the app owns are created by it (``internal=True``:
Faust declares them when it subscribes; output-only topics are declared by ``declare_all``).

Values travel as raw bytes: a consumer decodes them with its topic's contract, so a message
it cannot read is dead-lettered with the reason instead of being dropped by Faust, and a
producer encodes the contract type it built.
"""

from __future__ import annotations

from app.contracts.keepa_notifications import (
    KEEPA_NOTIFICATIONS_TOPIC,
    KEEPA_WEBHOOK_DLQ_TOPIC,
)
from app.faust_app import app, settings

KEEPA_PRODUCTS = settings.topic("keepa.products")
OPPORTUNITIES = settings.topic("arbitrage.opportunities")
KEEPA_PRODUCTS_DLQ = settings.topic("keepa.products.dlq")
OBSERVATIONS = settings.topic("arbitrage.observations")
SINK_DLQ = settings.topic("arbitrage.sink.dlq")
FX_RATES = settings.topic("fx.rates")
FX_RATES_DLQ = settings.topic("fx.rates.dlq")
SELLER_PROFILE = settings.topic("seller.profile")
SELLER_PROFILE_DLQ = settings.topic("seller.profile.dlq")
REEVALUATIONS = settings.topic("arbitrage.reevaluations")
REEVALUATIONS_DLQ = settings.topic("arbitrage.reevaluations.dlq")
KEEPA_NOTIFICATIONS = settings.topic(KEEPA_NOTIFICATIONS_TOPIC)
KEEPA_NOTIFICATIONS_DLQ = settings.topic("keepa.notifications.dlq")
KEEPA_WEBHOOK_DLQ = settings.topic(KEEPA_WEBHOOK_DLQ_TOPIC)
FETCH_REQUESTS = settings.topic("keepa.fetch_requests")


keepa_products = app.topic(
    KEEPA_PRODUCTS, key_serializer="raw", value_serializer="raw", internal=True
)
# Requests of the sweep to re-evaluate an ASIN (key = ASIN). The app's partition count, like
# keepa.products, so Faust's assignor co-partitions the two: partition n of both goes to the
# same worker, which owns partition n of the tables.
reevaluations = app.topic(
    REEVALUATIONS, key_serializer="raw", value_serializer="raw", internal=True
)
reevaluations_dlq = app.topic(
    REEVALUATIONS_DLQ, key_serializer="raw", value_serializer="raw", internal=True
)
# Keepa tracking notifications (key = ASIN), published by the webhook receiver
# (app/webhook/) and the notification queue's reader. The app's partition count, like
# keepa.products, so a notification lands on the partition that holds its ASIN's quotes.
keepa_notifications = app.topic(
    KEEPA_NOTIFICATIONS, key_serializer="raw", value_serializer="raw", internal=True
)
# keepa.notifications messages the detector could not use (app.contracts.dead_letters.DeadLetter).
keepa_notifications_dlq = app.topic(
    KEEPA_NOTIFICATIONS_DLQ, key_serializer="raw", value_serializer="raw", internal=True
)
# Bodies the receiver could not read as a notification, unchanged, with the reason in
# headers (app.contracts.dead_letters.NotificationDeadLetter).
keepa_webhook_dlq = app.topic(
    KEEPA_WEBHOOK_DLQ, key_serializer="raw", value_serializer="raw", internal=True
)
# What the detector consumes: one topic object over the three names, so one agent handles
# every message of a key, in order (a timer may not write the tables; see agents/sweep.py).
detector_input = app.topic(
    KEEPA_PRODUCTS,
    REEVALUATIONS,
    KEEPA_NOTIFICATIONS,
    key_serializer="raw",
    value_serializer="raw",
    internal=True,
)
# ASINs the ingestion should fetch in its next run (key = ASIN; a tombstone: done), asked for
# by the detector for a notification of a market it holds no quote of. Compacted, read to
# its end by the ingestion planner (app/ingest/fetch_requests.py).
fetch_requests = app.topic(
    FETCH_REQUESTS,
    key_serializer="raw",
    value_serializer="raw",
    partitions=1,
    compacting=True,
    internal=True,
)
opportunities = app.topic(
    OPPORTUNITIES, key_serializer="raw", value_serializer="raw", internal=True
)
keepa_products_dlq = app.topic(
    KEEPA_PRODUCTS_DLQ, key_serializer="raw", value_serializer="raw", internal=True
)
# Parsed quotes, for the Elasticsearch sink (products and price history).
observations = app.topic(OBSERVATIONS, key_serializer="raw", value_serializer="raw", internal=True)
sink_dlq = app.topic(SINK_DLQ, key_serializer="raw", value_serializer="raw", internal=True)

# EUR/GBP reference rate, published daily by the `fx_rates` DAG (key "GBP"); compacted, so
# the latest rate per currency is always there for a starting worker.
fx_rates = app.topic(
    FX_RATES,
    key_serializer="raw",
    value_serializer="raw",
    partitions=1,
    compacting=True,
    internal=True,
)
fx_rates_dlq = app.topic(FX_RATES_DLQ, key_serializer="raw", value_serializer="raw", internal=True)

# The seller profile in force, written by `PUT /profile` and `arbitrage profile` (key = the
# seller: "default"); compacted, so a starting worker always finds the latest one.
seller_profile = app.topic(
    SELLER_PROFILE,
    key_serializer="raw",
    value_serializer="raw",
    partitions=1,
    compacting=True,
    internal=True,
)
seller_profile_dlq = app.topic(
    SELLER_PROFILE_DLQ, key_serializer="raw", value_serializer="raw", internal=True
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
        fx_rates_dlq,
        seller_profile,
        seller_profile_dlq,
        reevaluations,
        reevaluations_dlq,
        keepa_notifications,
        keepa_webhook_dlq,
        keepa_notifications_dlq,
        fetch_requests,
    ):
        await topic.maybe_declare()
