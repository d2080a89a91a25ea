"""The watchlist in Elasticsearch through the API's async client.

The same index (``settings.index("watchlist")``, id = ASIN), mapping and document shape as
:class:`app.ingest.watchlist.WatchlistStore` (the CLI/Airflow side, sync client), and the
same write rules: an ASIN already tracked keeps its ``added_at``; the other fields take the
new values (no note = keep the stored note); an unchanged entry is not rewritten; no scripts
(read, then ``create`` or a partial ``update``; a ``create`` that loses a race becomes an
update). Writes refresh the index (``refresh=true``: watchlist writes are rare, human-made
and small) so the next read sees them without waiting for the next periodic refresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from elasticsearch import AsyncElasticsearch, BadRequestError, NotFoundError

from app.api.converters import watchlist_item
from app.api.models import WatchlistItem, WatchlistWriteResult
from app.api.params import PageParams
from app.api.queries import watchlist_search
from app.domain.markets import Market
from app.domain.utc import format_utc
from app.es.indices import WATCHLIST, index_settings, mapping_for
from app.settings import Settings

__all__ = ["API_SOURCE", "AsyncWatchlist", "WatchlistWriteError"]

#: ``source`` of the entries added through the API.
API_SOURCE: Final = "api"


class WatchlistWriteError(RuntimeError):
    """Elasticsearch refused some writes (the others were applied; a retry is idempotent)."""


@dataclass(frozen=True, slots=True)
class _Wanted:
    markets: list[str]
    priority: int
    note: str | None


class AsyncWatchlist:
    def __init__(self, es: AsyncElasticsearch, settings: Settings) -> None:
        self.es = es
        self.index = settings.index(WATCHLIST)

    async def ensure_index(self) -> None:
        """Create the index with the contract's mapping when missing (never let a write
        auto-create it with a guessed mapping)."""
        if await self.es.indices.exists(index=self.index):
            return
        try:
            await self.es.indices.create(
                index=self.index, mappings=mapping_for(WATCHLIST), settings=index_settings()
            )
        except BadRequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise

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
        """Add the ASINs or bring their entries to these markets/priority (/note)."""
        wanted = _Wanted([m.value for m in markets], priority, note)
        when = format_utc(now)
        await self.ensure_index()
        stored = await self._mget(asins)
        created: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        operations: list[dict[str, Any]] = []
        for asin in asins:
            current = stored.get(asin)
            if current is None:
                operations += [
                    {"create": {"_index": self.index, "_id": asin}},
                    _document(asin, wanted, when),
                ]
                continue
            changes = _changes(current, wanted)
            if not changes:
                unchanged.append(asin)
                continue
            operations += [
                {"update": {"_index": self.index, "_id": asin}},
                {"doc": {**changes, "updated_at": when}},
            ]
        if not operations:
            return WatchlistWriteResult(created=created, updated=updated, unchanged=unchanged)
        response = await self.es.bulk(operations=operations, refresh=True)
        raced: list[str] = []
        failures: list[str] = []
        for item in response["items"]:
            ((op, result),) = item.items()
            asin = str(result.get("_id"))
            status = int(result.get("status", 500))
            if status < 300:
                (created if op == "create" else updated).append(asin)
            elif op == "create" and status == 409:
                raced.append(asin)  # created concurrently: update it instead
            else:
                failures.append(f"{op} {asin}: {_reason(result)}")
        if failures:
            raise WatchlistWriteError(
                f"Elasticsearch refused {len(failures)} watchlist write(s): {'; '.join(failures)}"
            )
        if raced:
            again = await self.upsert(raced, markets, priority, note, now)
            updated += again.created + again.updated
            unchanged += again.unchanged
        return WatchlistWriteResult(created=created, updated=updated, unchanged=unchanged)

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


def _document(asin: str, wanted: _Wanted, now: str) -> dict[str, Any]:
    return {
        "asin": asin,
        "markets": wanted.markets,
        "priority": wanted.priority,
        "source": API_SOURCE,
        "note": wanted.note,
        "added_at": now,
        "updated_at": now,
    }


def _changes(current: dict[str, Any], wanted: _Wanted) -> dict[str, Any]:
    """The fields that differ from the stored document (``added_at`` never changes)."""
    fields: dict[str, Any] = {
        "markets": wanted.markets,
        "priority": wanted.priority,
        "source": API_SOURCE,
    }
    if wanted.note is not None:
        fields["note"] = wanted.note
    return {key: value for key, value in fields.items() if current.get(key) != value}


def _reason(result: dict[str, Any]) -> str:
    error = result.get("error")
    if isinstance(error, dict):
        return f"{error.get('type')}: {error.get('reason')}"
    return str(error or result.get("status"))
