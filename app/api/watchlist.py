"""The watchlist in Elasticsearch through the API's async client.

The same index (``settings.index("watchlist")``, id = ASIN), entry rules
(:mod:`app.domain.watchlist`), document shape and write rules (:mod:`app.es.watchlist`) as
:class:`app.ingest.watchlist.WatchlistStore`, the CLI/Airflow side with the sync client: an
ASIN already tracked keeps its ``added_at``; the other fields take the new values (no note =
keep the stored note); an unchanged entry is not rewritten; a ``create`` that loses a race
becomes an update. Writes refresh the index (``refresh=true``: watchlist writes are rare,
human-made and small) so the next read sees them without waiting for the next periodic
refresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from elasticsearch import AsyncElasticsearch, NotFoundError

from app.api.converters import watchlist_item
from app.api.models import WatchlistItem, WatchlistWriteResult
from app.api.params import PageParams
from app.api.queries import watchlist_search
from app.domain.markets import Market
from app.domain.watchlist import WatchlistEntry, normalise_entries
from app.es.indices import WATCHLIST, ensure_index
from app.es.watchlist import WatchlistWrite, plan_writes
from app.settings import Settings

__all__ = ["API_SOURCE", "AsyncWatchlist"]

#: ``source`` of the entries added through the API.
API_SOURCE: Final = "api"


class AsyncWatchlist:
    def __init__(self, es: AsyncElasticsearch, settings: Settings) -> None:
        self.es = es
        self.index = settings.index(WATCHLIST)

    async def ensure_index(self) -> None:
        """Create the index with the contract's mapping when missing (never let a write
        auto-create it with a guessed mapping)."""
        await ensure_index(self.es, WATCHLIST, self.index)

    async def page(self, page: PageParams) -> tuple[int, list[WatchlistItem]]:
        """One page (highest priority first) and the total; empty while there is no index."""
        response = await self.es.search(
            index=self.index, ignore_unavailable=True, **watchlist_search(page)
        )
        hits = response["hits"]["hits"]
        total = int(response["hits"]["total"]["value"])
        return total, [watchlist_item(hit["_source"]) for hit in hits]

    async def upsert(
        self,
        asins: Sequence[str],
        markets: Sequence[Market],
        priority: int,
        note: str | None,
        now: datetime,
    ) -> WatchlistWriteResult:
        """Add the ASINs or bring their entries to these markets/priority (/note).

        :class:`app.es.watchlist.WatchlistWriteError` when Elasticsearch refused a write.
        """
        codes = tuple(m.value for m in markets)
        wanted = normalise_entries(
            WatchlistEntry(asin, codes, priority, API_SOURCE, note) for asin in asins
        )
        await self.ensure_index()
        done = await self._write(list(wanted.values()), now)
        return WatchlistWriteResult(
            created=list(done.created), updated=list(done.updated), unchanged=list(done.unchanged)
        )

    async def _write(self, entries: Sequence[WatchlistEntry], now: datetime) -> WatchlistWrite:
        """One bulk request for normalised entries (plus one per lost create race)."""
        plan = plan_writes(self.index, entries, await self._mget([e.asin for e in entries]), now)
        if not plan.operations:
            return WatchlistWrite(unchanged=plan.unchanged)
        done, raced = plan.applied(await self.es.bulk(operations=plan.operations, refresh=True))
        return done.then(await self._write(raced, now)) if raced else done

    async def remove(self, asin: str) -> bool:
        """Delete one ASIN; False when it was not on the watchlist."""
        try:
            await self.es.delete(index=self.index, id=asin, refresh=True)
        except NotFoundError:  # no such document, or no index yet
            return False
        return True

    async def _mget(self, asins: Sequence[str]) -> dict[str, dict[str, Any]]:
        response = await self.es.mget(index=self.index, ids=list(asins))
        return {doc["_id"]: doc["_source"] for doc in response["docs"] if doc.get("found")}
