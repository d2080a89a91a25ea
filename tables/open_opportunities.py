"""``open-opportunities``: ASIN -> {"BUY:SELL": OpenOpportunity.to_dict()} for open routes."""

from __future__ import annotations

from app.faust_app import app, settings

open_opportunities_table = app.Table(
    "open-opportunities",
    default=dict,
    key_type=bytes,
    partitions=settings.topic_partitions,
    help="Open arbitrage opportunities per route, by ASIN.",
)
