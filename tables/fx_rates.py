"""``fx-rates``: currency -> {"eur_per_gbp": "...", "as_of": "..."}; a global table, so every
worker knows the current rate whatever partitions it owns."""

from __future__ import annotations

from app.faust_app import app

fx_rates_table = app.GlobalTable(
    "fx-rates",
    default=dict,
    key_type=bytes,
    partitions=1,
    help="Latest EUR reference rate per currency (from the fx.rates topic).",
)
