"""``GET /stats/lifetimes``: how long spreads lasted, per market pair."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from app.api.deps import AppSettings, EsClient, Lifetimes
from app.api.lifetimes import pair_lifetime
from app.api.models import ErrorResponse, LifetimeStats
from app.domain.markets import Route

router = APIRouter(tags=["stats"])


def _pair(value: str | None) -> str | None:
    """``de:fr`` -> ``DE:FR``; 422 for anything but two different known markets."""
    if value is None:
        return None
    try:
        return Route.from_key(value.strip().upper()).key
    except ValueError as exc:
        raise HTTPException(422, f"pair: {exc}") from exc


@router.get(
    "/stats/lifetimes",
    response_model=LifetimeStats,
    summary="Lifetime history per market pair",
    responses={
        422: {"model": ErrorResponse, "description": "Not a market pair."},
        503: {"model": ErrorResponse, "description": "Elasticsearch unavailable."},
    },
)
async def lifetime_stats(
    es: EsClient,
    settings: AppSettings,
    lifetimes: Lifetimes,
    pair: Annotated[
        str | None,
        Query(
            description="Only this market pair, BUY:SELL (e.g. DE:FR).",
            pattern=r"^[A-Za-z]{2}:[A-Za-z]{2}$",
        ),
    ] = None,
) -> LifetimeStats:
    """Per market pair (every ASIN), the closed and open episodes, the median and 90th
    percentile lifetime of the closed ones (HDR histogram, within 0.1 %) and the reopen rate
    (exact); pairs without any episode are left out. Computed in event time, reused for
    ``LIFETIME_CACHE_S`` seconds (docs/signals.md, "Lifetime history")."""
    pairs = await lifetimes.get(es, settings)
    wanted = _pair(pair)
    return LifetimeStats(
        until=pairs.until,
        pairs=[
            pair_lifetime(key, summary)
            for key, summary in sorted(pairs.summaries.items())
            if wanted is None or key == wanted
        ],
        generated_at=datetime.now(UTC),
    )
