"""``GET /products/{asin}`` and ``GET /products/{asin}/history``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from app.api.converters import history_point, product_quote
from app.api.deps import AppSettings, EsClient
from app.api.models import ErrorResponse, PriceHistory, ProductView
from app.api.params import AsinPath, HistoryParams
from app.api.queries import history_search, product_search
from app.domain.markets import Market
from app.es.indices import PRICE_HISTORY, PRODUCTS

router = APIRouter(prefix="/products", tags=["products"])

_ORDER = {market: i for i, market in enumerate(Market)}

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "The ASIN was never observed."},
    503: {"model": ErrorResponse, "description": "Elasticsearch unavailable."},
}


def _unknown(asin: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"ASIN {asin} was never observed")


@router.get(
    "/{asin}",
    response_model=ProductView,
    summary="The latest quote of an ASIN in each market",
    responses=_ERRORS,
)
async def product(asin: AsinPath, es: EsClient, settings: AppSettings) -> ProductView:
    now = datetime.now(UTC)
    response = await es.search(index=settings.index(PRODUCTS), **product_search(asin))
    sources = [hit["_source"] for hit in response["hits"]["hits"]]
    if not sources:
        raise _unknown(asin)
    quotes = sorted((product_quote(s, now) for s in sources), key=lambda q: _ORDER[q.market])
    return ProductView(
        asin=asin,
        title=next((q.title for q in quotes if q.title), None),
        image_url=next((q.image_url for q in quotes if q.image_url), None),
        markets=quotes,
        generated_at=now,
    )


@router.get(
    "/{asin}/history",
    response_model=PriceHistory,
    summary="Price history of an ASIN for charts",
    responses=_ERRORS,
)
async def product_history(
    asin: AsinPath,
    params: Annotated[HistoryParams, Query()],
    es: EsClient,
    settings: AppSettings,
) -> PriceHistory:
    """Observations oldest first (the newest ``limit`` when there are more), in the market's
    minor unit and in EUR cents. 404 only when the ASIN was never observed at all."""
    response = await es.search(index=settings.index(PRICE_HISTORY), **history_search(asin, params))
    hits = response["hits"]["hits"]
    total = int(response["hits"]["total"]["value"])
    if not hits:
        known = await es.count(index=settings.index(PRODUCTS), query={"term": {"asin": asin}})
        if not known["count"]:
            raise _unknown(asin)
    points = [history_point(hit["_source"]) for hit in reversed(hits)]
    return PriceHistory(asin=asin, total=total, truncated=total > len(points), points=points)
