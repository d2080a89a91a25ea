"""``GET /stats/lifetimes``: how long spreads lasted, per market pair."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError

from app.api.deps import AppSettings, EsClient, Lifetimes
from app.api.lifetimes import pair_lifetime
from app.api.models import ErrorResponse, LifetimeStats
from app.domain.markets import ALL_ROUTES, Route

router = APIRouter(tags=["stats"])

#: Every market pair, ``BUY:SELL`` (the schema's enum of ``pair``).
PAIRS: Final = [route.key for route in ALL_ROUTES]


def _pair(value: str | None) -> str | None:
    """``de:fr`` -> ``DE:FR``; a 422 like FastAPI's own for anything but a market pair."""
    if value is None:
        return None
    try:
        return Route.from_key(value.strip().upper()).key
    except ValueError as exc:
        raise RequestValidationError(
            [{"type": "market_pair", "loc": ("query", "pair"), "msg": str(exc), "input": value}]
        ) from exc


@router.get(
    "/stats/lifetimes",
    response_model=LifetimeStats,
    summary="Lifetime history per market pair",
    responses={503: {"model": ErrorResponse, "description": "Elasticsearch unavailable."}},
)
async def lifetime_stats(
    es: EsClient,
    settings: AppSettings,
    lifetimes: Lifetimes,
    pair: Annotated[
        str | None,
        Query(
            description="Only this market pair, BUY:SELL (e.g. DE:FR).",
            json_schema_extra={"enum": PAIRS},
        ),
    ] = None,
) -> LifetimeStats:
    """Per market pair (every ASIN), the closed and open episodes, the median and 90th
    percentile lifetime of the closed ones (nearest rank, exact) and the reopen rate; pairs
    without any episode are left out. Computed in event time and reused for
    ``LIFETIME_CACHE_S`` seconds (docs/signals.md, "Lifetime history")."""
    wanted = _pair(pair)
    pairs = await lifetimes.get(es, settings)
    return LifetimeStats(
        until=pairs.until,
        pairs=[
            pair_lifetime(key, summary)
            for key, summary in sorted(pairs.summaries.items())
            if wanted is None or key == wanted
        ],
        generated_at=datetime.now(UTC),
    )
