"""``GET /stats``: counts, data freshness per market and Keepa token use."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from elasticsearch import ApiError, AsyncElasticsearch
from fastapi import APIRouter

from app.api.converters import age_seconds, parse_time
from app.api.deps import AppSettings, EsClient
from app.api.models import Counts, ErrorResponse, KeepaUsage, MarketFreshness, StatsResponse
from app.api.queries import freshness_search, ingest_runs_search
from app.es.indices import OPPORTUNITIES, PRICE_HISTORY, PRODUCTS, WATCHLIST
from app.settings import Settings

router = APIRouter(tags=["stats"])

#: Written by the ingestion (one document per run: ``finished_at``, ``tokens_consumed``,
#: ``tokens_left``, ...); optional: the stats tolerate its absence.
INGEST_RUNS: Final = "ingest-runs"
KEEPA_WINDOW: Final = timedelta(hours=24)

#: Each field of :class:`Counts`: the logical index it counts and the query (None = all).
_COUNTED: Final[dict[str, tuple[str, dict[str, Any] | None]]] = {
    "open_opportunities": (OPPORTUNITIES, {"term": {"state": "open"}}),
    "opportunities": (OPPORTUNITIES, None),
    "products": (PRODUCTS, None),
    "price_history": (PRICE_HISTORY, None),
    "watchlist": (WATCHLIST, None),
}


async def _count(es: AsyncElasticsearch, index: str, query: dict[str, Any] | None = None) -> int:
    response = await es.count(index=index, ignore_unavailable=True, query=query)
    return int(response["count"])


async def _freshness(
    es: AsyncElasticsearch, settings: Settings, now: datetime
) -> list[MarketFreshness]:
    response = await es.search(
        index=settings.index(PRODUCTS), ignore_unavailable=True, **freshness_search()
    )
    buckets = response.get("aggregations", {}).get("markets", {}).get("buckets", [])
    result = []
    for bucket in sorted(buckets, key=lambda b: str(b["key"])):
        newest = parse_time(bucket["newest"].get("value_as_string"))
        result.append(
            MarketFreshness(
                market=str(bucket["key"]),
                products=int(bucket["doc_count"]),
                newest_observed_at=newest,
                age_seconds=None if newest is None else age_seconds(newest, now),
            )
        )
    return result


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


async def _keepa(es: AsyncElasticsearch, settings: Settings, now: datetime) -> KeepaUsage:
    try:
        response = await es.search(
            index=settings.index(INGEST_RUNS),
            ignore_unavailable=True,
            **ingest_runs_search(now - KEEPA_WINDOW),
        )
    except ApiError as exc:  # an index of another shape: report it, do not fail the stats
        return KeepaUsage(available=False, detail=f"ingest-runs unreadable: {exc.error}")
    hits = response["hits"]["hits"]
    if not hits:
        return KeepaUsage(available=False, detail="no Keepa ingestion run recorded yet")
    last = hits[0]["_source"]
    recent = response.get("aggregations", {}).get("recent", {})
    return KeepaUsage(
        available=True,
        last_run_finished_at=parse_time(last.get("finished_at")),
        last_run_tokens_consumed=_int(last.get("tokens_consumed")),
        tokens_left=_int(last.get("tokens_left")),
        tokens_consumed_24h=_int(recent.get("tokens", {}).get("value")),
        runs_24h=_int(recent.get("doc_count")),
    )


@router.get(
    "/stats",
    response_model=StatsResponse,
    summary="Counts, freshness per market, Keepa token use",
    responses={503: {"model": ErrorResponse, "description": "Elasticsearch unavailable."}},
)
async def stats(es: EsClient, settings: AppSettings) -> StatsResponse:
    """Counts of every index (0 for one that does not exist yet); per market the newest
    observation (``observed_at``, event time) and its age; the last Keepa ingestion run and
    the tokens consumed in the last 24 hours (from the optional ``ingest-runs`` index)."""
    now = datetime.now(UTC)
    counts, freshness, keepa = await asyncio.gather(
        asyncio.gather(
            *(_count(es, settings.index(index), query) for index, query in _COUNTED.values())
        ),
        _freshness(es, settings, now),
        _keepa(es, settings, now),
    )
    return StatsResponse(
        counts=Counts(**dict(zip(_COUNTED, counts, strict=True))),
        freshness=freshness,
        keepa=keepa,
        generated_at=now,
    )
