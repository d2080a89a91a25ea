"""Task bodies of ``watchlist_discovery``: best-seller lists -> new watchlist entries.

Each configured (market, category) pair is fetched with
:func:`app.keepa.bestsellers.fetch_bestsellers` (one mapped task per pair). The ASINs are
then deduplicated across pairs and against the existing watchlist, and only new ones are
added, with ``source="bestsellers"`` and the lowest priority (0): an ASIN already on the
watchlist keeps its markets, priority, source and note.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from elasticsearch import Elasticsearch

from app.domain.asin import is_valid_asin
from app.domain.watchlist import DEFAULT_MARKETS, WatchlistEntry
from app.ingest.watchlist import WatchlistStore
from app.keepa.bestsellers import fetch_bestsellers
from app.keepa.client import KeepaProductClient
from app.settings import Settings
from arbitrage_dags.config import DiscoveryTarget, IngestConfig
from arbitrage_dags.ingest import keepa_client

log = logging.getLogger(__name__)

DISCOVERY_SOURCE: Final = "bestsellers"
DISCOVERY_PRIORITY: Final = 0
"""The lowest watchlist priority: refreshed least often until signals say otherwise."""


def discover(
    target: Mapping[str, Any],
    settings: Settings,
    *,
    client: KeepaProductClient | None = None,
) -> dict[str, Any]:
    """The best-seller ASINs of one target: ``{"market", "category", "asins"}``."""
    wanted = DiscoveryTarget.from_dict(dict(target))
    owned = client is None
    keepa = keepa_client(settings, IngestConfig()) if client is None else client
    try:
        asins = fetch_bestsellers(keepa, wanted.market, wanted.category, limit=wanted.limit)
    finally:
        if owned:
            keepa.close()
    valid = [a for a in asins if is_valid_asin(a)]
    if len(valid) != len(asins):
        log.warning(
            "%s/%s: %d malformed ASINs in the best-seller list ignored",
            wanted.market,
            wanted.category,
            len(asins) - len(valid),
        )
    log.info("%s/%s: %d best-seller ASINs", wanted.market, wanted.category, len(valid))
    return {"market": wanted.market, "category": wanted.category, "asins": valid}


def new_entries(
    found: Iterable[Mapping[str, Any]], existing: Iterable[str]
) -> list[WatchlistEntry]:
    """Entries for the ASINs of ``found`` that are not in ``existing`` (pure; first wins)."""
    known = {a.strip().upper() for a in existing}
    entries: dict[str, WatchlistEntry] = {}
    for item in found:
        for asin in item["asins"]:
            code = str(asin).strip().upper()
            if code in known or code in entries:
                continue
            entries[code] = WatchlistEntry(
                asin=code,
                markets=DEFAULT_MARKETS,
                priority=DISCOVERY_PRIORITY,
                source=DISCOVERY_SOURCE,
                note=f"best seller {item['market']}/{item['category']}",
            )
    return list(entries.values())


def add_discovered(
    found: Iterable[Mapping[str, Any]],
    es: Elasticsearch,
    settings: Settings,
    *,
    now: datetime,
) -> dict[str, int]:
    """Add the new ASINs to the watchlist; counts of found, already known and added."""
    results = [f for f in found if f is not None]
    store = WatchlistStore(es, settings)
    existing = [e.asin for e in store.all_entries()]
    entries = new_entries(results, existing)
    added = store.add(entries, now=now) if entries else 0
    found_asins = {str(a).upper() for r in results for a in r["asins"]}
    counts = {
        "targets": len(results),
        "found": len(found_asins),
        "already_watched": len(found_asins) - len(entries),
        "added": added,
    }
    log.info(
        "watchlist discovery: %(found)d ASINs from %(targets)d best-seller lists, "
        "%(already_watched)d already watched, %(added)d added",
        counts,
    )
    return counts
