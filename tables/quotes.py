"""``quotes``: ASIN -> {market: MarketQuote.to_dict()}, the latest quote of every market."""

from __future__ import annotations

from app.faust_app import app, settings

quotes_table = app.Table(
    "quotes",
    default=dict,
    key_type=bytes,
    partitions=settings.topic_partitions,
    help="Latest quote per market, by ASIN.",
)
