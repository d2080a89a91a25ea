"""The ``products`` side of opportunity enrichment (I/O; the rules are in
:mod:`app.api.queries` and :mod:`app.api.converters`).

* :func:`resolve_fallbacks`: for each enrichment filter (rank, category, Amazon-as-seller),
  when some open routes lack the field, the matching (ASIN, market) pairs of ``products``.
* :func:`products_for`: the ``products`` documents of the routes of a page, to fill in
  image, rank, category and Amazon-as-seller where the opportunity document lacks them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from elasticsearch import AsyncElasticsearch

from app.api.params import OpportunityFilters
from app.api.queries import (
    ENRICHED_FIELDS,
    JOIN_LIMIT,
    ProductMatches,
    enriched_filters,
    missing_field_count,
    product_join_search,
)
from app.domain.markets import Market
from app.es.indices import OPPORTUNITIES, PRODUCTS
from app.settings import Settings

__all__ = ["products_for", "resolve_fallbacks"]

_PRODUCT_FIELDS = ["asin", "market", "title", *sorted(set(ENRICHED_FIELDS.values()))]


async def resolve_fallbacks(
    es: AsyncElasticsearch, settings: Settings, filters: OpportunityFilters
) -> tuple[dict[str, ProductMatches], list[str]]:
    """The ``products`` matches per enrichment filter, and warnings when one is truncated."""
    fallbacks: dict[str, ProductMatches] = {}
    warnings: list[str] = []
    for enriched in enriched_filters(filters):
        counted = await es.count(
            index=settings.index(OPPORTUNITIES), **missing_field_count(filters, enriched)
        )
        if not counted["count"]:
            continue  # every candidate route carries the field itself
        response = await es.search(
            index=settings.index(PRODUCTS),
            ignore_unavailable=True,
            **product_join_search(enriched, filters.sell_market),
        )
        by_market: dict[Market, list[str]] = defaultdict(list)
        hits = response["hits"]["hits"]
        for hit in hits:
            source = hit["_source"]
            by_market[Market(source["market"])].append(str(source["asin"]))
        total = int(response["hits"]["total"]["value"])
        truncated = total > len(hits)
        if truncated:
            warnings.append(
                f"{enriched.name}: {counted['count']} open route(s) carry no {enriched.field} "
                f"and more than {JOIN_LIMIT} products match in the products index, so the "
                "filter was applied to the first "
                f"{JOIN_LIMIT} of them only; results may be incomplete"
            )
        fallbacks[enriched.name] = ProductMatches(dict(by_market), truncated)
    return fallbacks, warnings


def _needs_products(source: Mapping[str, Any]) -> bool:
    return source.get("title") is None or any(
        source.get(field) is None for field in ENRICHED_FIELDS
    )


async def products_for(
    es: AsyncElasticsearch, settings: Settings, sources: Iterable[Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``products`` documents (by id ``ASIN:MARKET``) of both markets of the routes that
    lack an enrichment field; ``{}`` when none does."""
    ids: set[str] = set()
    for source in sources:
        if _needs_products(source):
            asin = source["asin"]
            ids.update((f"{asin}:{source['sell_market']}", f"{asin}:{source['buy_market']}"))
    if not ids:
        return {}
    response = await es.mget(
        index=settings.index(PRODUCTS), ids=sorted(ids), source=_PRODUCT_FIELDS
    )
    return {doc["_id"]: doc["_source"] for doc in response["docs"] if doc.get("found")}
