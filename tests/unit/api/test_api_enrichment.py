"""The products fallback of enrichment filters, with a fake Elasticsearch client."""

from __future__ import annotations

from typing import Any

from app.api.enrichment import products_for, resolve_fallbacks
from app.api.params import OpportunityFilters
from app.api.queries import JOIN_LIMIT
from app.domain.markets import Market
from app.settings import Settings

SETTINGS = Settings(elasticsearch_index_prefix="u-")


class FakeEs:
    def __init__(self, missing: int, hits: list[tuple[str, str]], total: int | None = None) -> None:
        self.missing = missing
        self.hits = hits
        self.total = len(hits) if total is None else total
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def count(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("count", kwargs))
        return {"count": self.missing}

    async def search(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("search", kwargs))
        hits = [{"_source": {"asin": a, "market": m}} for a, m in self.hits]
        return {"hits": {"total": {"value": self.total}, "hits": hits}}

    async def mget(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("mget", kwargs))
        docs = [
            {"_id": i, "found": i.endswith(":FR"), "_source": {"asin": i[:10]}}
            for i in kwargs["ids"]
        ]
        return {"docs": docs}


async def test_no_join_when_every_route_carries_the_field() -> None:
    es = FakeEs(missing=0, hits=[])
    fallbacks, warnings = await resolve_fallbacks(es, SETTINGS, OpportunityFilters(category=5))  # type: ignore[arg-type]
    assert (fallbacks, warnings) == ({}, [])
    assert [c[0] for c in es.calls] == ["count"]
    assert es.calls[0][1]["index"] == "u-opportunities"


async def test_join_groups_asins_by_market() -> None:
    es = FakeEs(missing=3, hits=[("B0000000A1", "FR"), ("B0000000B2", "FR"), ("B0000000A1", "IT")])
    filters = OpportunityFilters.model_validate({"max_sales_rank": 9, "sell_market": "FR,IT"})
    fallbacks, warnings = await resolve_fallbacks(es, SETTINGS, filters)  # type: ignore[arg-type]
    assert warnings == []
    matches = fallbacks["max_sales_rank"]
    assert dict(matches.by_market) == {
        Market.FR: ["B0000000A1", "B0000000B2"],
        Market.IT: ["B0000000A1"],
    }
    assert not matches.truncated
    search = es.calls[1][1]
    assert search["index"] == "u-products"
    assert search["ignore_unavailable"] is True


async def test_a_truncated_join_is_reported() -> None:
    es = FakeEs(missing=1, hits=[("B0000000A1", "GB")], total=JOIN_LIMIT + 1)
    filters = OpportunityFilters(exclude_amazon_seller=True)
    fallbacks, warnings = await resolve_fallbacks(es, SETTINGS, filters)  # type: ignore[arg-type]
    assert fallbacks["exclude_amazon_seller"].truncated
    (warning,) = warnings
    assert warning.startswith("exclude_amazon_seller:")
    assert "may be incomplete" in warning


async def test_products_for_fetches_both_markets_only_when_needed() -> None:
    complete = {
        "asin": "B0000000A1",
        "buy_market": "DE",
        "sell_market": "FR",
        "title": "t",
        "sales_rank": 1,
        "root_category": 2,
        "amazon_sells_in_target": False,
        "image_url": "https://i/x.jpg",
    }
    es = FakeEs(0, [])
    assert await products_for(es, SETTINGS, [complete]) == {}  # type: ignore[arg-type]
    assert es.calls == []
    lacking = {**complete, "image_url": None}
    found = await products_for(es, SETTINGS, [lacking])  # type: ignore[arg-type]
    assert es.calls[0][1]["ids"] == ["B0000000A1:DE", "B0000000A1:FR"]
    assert list(found) == ["B0000000A1:FR"]
