"""``open-opportunities``: ASIN -> its open routes, stored as the bytes of an
:class:`app.contracts.tables.OpenRoutesState` (read and written only through this module)."""

from __future__ import annotations

from collections.abc import Mapping

from app.contracts.tables import OPEN_ROUTES_STATE, OpenRoutesState
from app.domain.detection import OpenOpportunity
from app.faust_app import app, settings

open_opportunities_table = app.Table(
    "open-opportunities",
    key_type=bytes,
    value_type=bytes,
    partitions=settings.topic_partitions,
    help="Open arbitrage opportunities per route, by ASIN.",
)


def read_open_routes(key: bytes) -> dict[str, OpenOpportunity]:
    """The ASIN's open routes by route key (``{}`` when none is open)."""
    stored: bytes | None = open_opportunities_table.get(key)
    return {} if stored is None else OPEN_ROUTES_STATE.decode(stored).routes


def write_open_routes(key: bytes, routes: Mapping[str, OpenOpportunity]) -> None:
    """Store the open routes; none open deletes the key (a tombstone keeps the changelog
    small)."""
    if routes:
        open_opportunities_table[key] = OPEN_ROUTES_STATE.encode(
            OpenRoutesState(routes=dict(routes))
        )
    elif key in open_opportunities_table:
        del open_opportunities_table[key]
