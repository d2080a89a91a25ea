"""``open-opportunities``: ASIN -> its open routes, stored as the bytes of an
:class:`app.contracts.tables.OpenRoutesState` (read and written only through this module)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import datetime

from app.contracts.base import ContractError
from app.contracts.tables import OPEN_ROUTES_STATE, OpenRoutesState, open_route_quote_times
from app.domain.detection import OpenOpportunity
from app.faust_app import app, settings
from app.metrics import metrics
from tables.store_options import rocksdb_options

log = logging.getLogger(__name__)

open_opportunities_table = app.Table(
    "open-opportunities",
    key_type=bytes,
    value_type=bytes,
    partitions=settings.topic_partitions,
    help="Open arbitrage opportunities per route, by ASIN.",
    options=rocksdb_options(),
)


def read_open_routes(key: bytes) -> dict[str, OpenOpportunity]:
    """The ASIN's open routes by route key (``{}`` when none is open). Routes stored by a
    worker of the former pricing model (version 1) are converted
    (:data:`app.contracts.tables.OPEN_ROUTES_STATE`); a version this worker does not know
    (a newer worker's) is ``unsupported_version``: read as none open, counted in
    ``open_routes_unsupported``."""
    stored: bytes | None = open_opportunities_table.get(key)
    if stored is None:
        return {}
    try:
        return OPEN_ROUTES_STATE.decode(stored).routes
    except ContractError as exc:
        if exc.code != "unsupported_version":
            raise
        log.warning("open routes of %r not read: %s", key, exc.message)
        metrics.incr("open_routes_unsupported")
        return {}


def write_open_routes(key: bytes, routes: Mapping[str, OpenOpportunity]) -> None:
    """Store the open routes; none open deletes the key (a tombstone keeps the changelog
    small)."""
    if routes:
        open_opportunities_table[key] = OPEN_ROUTES_STATE.encode(
            OpenRoutesState(routes=dict(routes))
        )
    elif key in open_opportunities_table:
        del open_opportunities_table[key]


def open_quote_times() -> Iterator[tuple[bytes, list[datetime]]]:
    """``(ASIN, observed_at of both quotes of each open route)`` for every ASIN with an open
    route in this worker's *active* partitions (the store iterates only those). A state this
    worker cannot read is skipped (counted in ``open_routes_unsupported``).

    The stored values are copied out of the store first (a quick pass): the caller may yield
    to the event loop between items, and no store iterator stays open across a rebalance."""
    for key, stored in list(open_opportunities_table.items()):
        try:
            yield key, open_route_quote_times(stored)
        except ContractError as exc:
            log.warning("open routes of %r not read by the sweep: %s", key, exc.message)
            metrics.incr("open_routes_unsupported")
