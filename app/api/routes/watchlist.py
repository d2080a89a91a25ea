"""``GET /watchlist`` (open), ``POST /watchlist``, ``DELETE /watchlist/{asin}`` (token)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status

from app.api.deps import AppSettings, EsClient, WriteAuth
from app.api.models import ErrorResponse, WatchlistPage, WatchlistWriteResult
from app.api.params import AsinPath, PageParams, WatchlistUpsert
from app.api.watchlist import AsyncWatchlist
from app.es.watchlist import WatchlistWriteError

router = APIRouter(prefix="/watchlist", tags=["watchlist"])

_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong bearer token."},
    502: {"model": ErrorResponse, "description": "Elasticsearch refused a write."},
    503: {
        "model": ErrorResponse,
        "description": "Writes disabled (no usable API_TOKEN) or Elasticsearch unavailable.",
    },
}


@router.get("", response_model=WatchlistPage, summary="Tracked ASINs")
async def list_watchlist(
    page: Annotated[PageParams, Query()], es: EsClient, settings: AppSettings
) -> WatchlistPage:
    """Highest priority first, then by ASIN. Open to everyone (no token needed)."""
    total, items = await AsyncWatchlist(es, settings).page(page)
    return WatchlistPage(total=total, page=page.page, page_size=page.page_size, items=items)


@router.post(
    "",
    response_model=WatchlistWriteResult,
    summary="Track ASINs (or change their markets/priority)",
    dependencies=[WriteAuth],
    responses={
        400: {"model": ErrorResponse, "description": "The body cannot be decoded."},
        **_WRITE_ERRORS,
    },
)
async def add_to_watchlist(
    body: WatchlistUpsert, es: EsClient, settings: AppSettings
) -> WatchlistWriteResult:
    """Idempotent: posting the same body twice changes nothing the second time."""
    try:
        return await AsyncWatchlist(es, settings).upsert(
            body.asins, body.markets, body.priority, body.note, datetime.now(UTC)
        )
    except WatchlistWriteError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, str(exc)) from exc


@router.delete(
    "/{asin}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Stop tracking an ASIN",
    dependencies=[WriteAuth],
    responses={
        404: {"model": ErrorResponse, "description": "Not on the watchlist."},
        **_WRITE_ERRORS,
    },
)
async def remove_from_watchlist(asin: AsinPath, es: EsClient, settings: AppSettings) -> Response:
    if not await AsyncWatchlist(es, settings).remove(asin):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"ASIN {asin} is not on the watchlist")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
