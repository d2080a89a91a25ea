"""``GET /opportunities`` and ``GET /opportunities/{asin}``."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from app.api.converters import opportunity_route
from app.api.deps import AppSettings, EsClient, Lifetimes
from app.api.enrichment import products_for, resolve_fallbacks
from app.api.lifetimes import route_lifetimes
from app.api.models import ErrorResponse, OpportunityDetail, OpportunityPage
from app.api.params import AsinPath, OpportunityFilters
from app.api.queries import (
    ASIN_CARDINALITY_PRECISION,
    opportunity_detail_search,
    opportunity_search,
)
from app.es.indices import OPPORTUNITIES

router = APIRouter(prefix="/opportunities", tags=["opportunities"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "Elasticsearch unavailable."},
}


@router.get(
    "",
    response_model=OpportunityPage,
    summary="Open opportunities, filtered, sorted and paginated",
    responses=_ERRORS,
)
async def list_opportunities(
    filters: Annotated[OpportunityFilters, Query()],
    es: EsClient,
    settings: AppSettings,
) -> OpportunityPage:
    """Open routes (``state=open``). ``best_per_asin`` (default) collapses the routes of an
    ASIN into the one ranking first under the chosen sort; ``total`` then counts ASINs.

    ``max_sales_rank``, ``category`` and ``exclude_amazon_seller`` refer to the product in
    the **sell** market: the opportunity document's ``sales_rank``/``root_category``/
    ``amazon_sells_in_target`` when the worker recorded them, else the ``products`` document
    of the sell market (``amazon_sells_in_target`` = Keepa's AMAZON offer is current there).
    """
    now = datetime.now(UTC)
    fallbacks, warnings = await resolve_fallbacks(es, settings, filters)
    response = await es.search(
        index=settings.index(OPPORTUNITIES), **opportunity_search(filters, fallbacks)
    )
    sources = [hit["_source"] for hit in response["hits"]["hits"]]
    products = await products_for(es, settings, sources)
    total_routes = int(response["hits"]["total"]["value"])
    total, exact = total_routes, True
    if filters.best_per_asin:
        total = int(response.get("aggregations", {}).get("asins", {}).get("value", 0))
        exact = total < ASIN_CARDINALITY_PRECISION
    return OpportunityPage(
        total=total,
        total_routes=total_routes,
        total_exact=exact,
        page=filters.page,
        page_size=filters.page_size,
        pages=math.ceil(total / filters.page_size),
        best_per_asin=filters.best_per_asin,
        sort=filters.sort.value,
        order=filters.order.value,
        items=[opportunity_route(source, now, products) for source in sources],
        warnings=warnings,
        generated_at=now,
    )


@router.get(
    "/{asin}",
    response_model=OpportunityDetail,
    summary="Every route of one ASIN with the full breakdown",
    responses={404: {"model": ErrorResponse, "description": "No route of this ASIN."}, **_ERRORS},
)
async def opportunity_detail(
    asin: AsinPath, es: EsClient, settings: AppSettings, lifetimes: Lifetimes
) -> OpportunityDetail:
    """All routes of the ASIN that were ever an opportunity: open ones first (by profit),
    then closed ones with their ``reason`` and ``closed_at``.

    Each route has its ``lifetime``: how long the route's past spreads lasted and how often it
    reopened, the same for its market pair, and "spreads on ... usually last ..."
    (docs/signals.md, "Lifetime history")."""
    now = datetime.now(UTC)
    response = await es.search(
        index=settings.index(OPPORTUNITIES), **opportunity_detail_search(asin)
    )
    sources = [hit["_source"] for hit in response["hits"]["hits"]]
    if not sources:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no opportunity route for ASIN {asin}")
    products, lifetime = await asyncio.gather(
        products_for(es, settings, sources), route_lifetimes(es, settings, lifetimes, sources)
    )
    routes = [
        opportunity_route(source, now, products).model_copy(update={"lifetime": route_lifetime})
        for source, route_lifetime in zip(sources, lifetime, strict=True)
    ]
    return OpportunityDetail(
        asin=asin,
        title=next((r.title for r in routes if r.title), None),
        image_url=next((r.image_url for r in routes if r.image_url), None),
        open_routes=sum(1 for r in routes if r.state == "open"),
        routes=routes,
        generated_at=now,
    )
