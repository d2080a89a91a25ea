"""Pure conversions of Elasticsearch ``_source`` documents into response models (no I/O).

Documents are written by the worker (see ``app/es/documents.py``); missing optional fields
become ``None``. Opportunity enrichment fields absent from the opportunity document are
taken from the ``products`` documents of the route's markets (see :mod:`app.api.queries`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from app.api.models import (
    Breakdown,
    HistoryPoint,
    OpportunityRoute,
    ProductQuote,
    SellSignals,
    WatchlistItem,
)
from app.domain.markets import Market
from app.domain.utc import parse_utc

__all__ = [
    "age_seconds",
    "history_point",
    "opportunity_route",
    "parse_time",
    "product_quote",
    "watchlist_item",
]


def parse_time(value: object) -> datetime | None:
    """An ISO-8601 string (or epoch milliseconds) from Elasticsearch as a UTC datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str):
        try:
            return parse_utc(value)
        except ValueError:
            return None
    return None


def age_seconds(since: datetime | None, now: datetime) -> int:
    """Whole seconds from ``since`` to ``now``; 0 when ``since`` is unknown or in the future."""
    if since is None:
        return 0
    return max(0, int((now - since).total_seconds()))


def _breakdown(value: object) -> Breakdown | None:
    """The document's breakdown; None for one written before the fee breakdown (no lines)."""
    if not isinstance(value, Mapping) or not isinstance(value.get("lines"), list):
        return None
    return Breakdown.model_validate(value)


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def opportunity_route(
    source: Mapping[str, Any],
    now: datetime,
    products: Mapping[str, Mapping[str, Any]] | None = None,
) -> OpportunityRoute:
    """An ``opportunities`` document as a route.

    ``products``: ``products`` documents by id (``ASIN:MARKET``); the sell market's fills
    ``sales_rank``/``category``/``amazon_sells_in_target`` and the image when the
    opportunity document lacks them (the buy market's is a second choice for the image).
    """
    asin = str(source["asin"])
    buy = Market(source["buy_market"])
    sell = Market(source["sell_market"])
    sell_product = (products or {}).get(f"{asin}:{sell.value}") or {}
    buy_product = (products or {}).get(f"{asin}:{buy.value}") or {}
    first_seen = parse_time(source.get("first_seen"))
    last_seen = parse_time(source.get("last_seen")) or parse_time(source.get("event_time"))
    if first_seen is None or last_seen is None:
        raise ValueError(f"opportunity document of {asin} has no first_seen/last_seen")
    amazon = source.get("amazon_sells_in_target")
    if amazon is None and "amazon_in_stock" in sell_product:
        amazon = bool(sell_product["amazon_in_stock"])
    return OpportunityRoute(
        asin=asin,
        route=source.get("route") or f"{buy.value}:{sell.value}",
        state="closed" if source.get("state") == "closed" else "open",
        last_event=source.get("last_event"),
        reason=source.get("reason"),
        title=_first(source.get("title"), sell_product.get("title"), buy_product.get("title")),
        image_url=_first(
            source.get("image_url"), sell_product.get("image_url"), buy_product.get("image_url")
        ),
        buy_market=buy,
        sell_market=sell,
        buy_url=source.get("buy_url") or buy.product_url(asin),
        sell_url=source.get("sell_url") or sell.product_url(asin),
        buy_currency=source.get("buy_currency") or buy.currency.value,
        sell_currency=source.get("sell_currency") or sell.currency.value,
        buy_price_minor=source["buy_price_minor"],
        sell_price_minor=source["sell_price_minor"],
        buy_price_eur_cents=source["buy_price_eur_cents"],
        sell_price_eur_cents=source["sell_price_eur_cents"],
        profit_eur_cents=source["profit_eur_cents"],
        roi=source["roi"],
        margin=source["margin"],
        breakdown=_breakdown(source.get("breakdown")),
        fee_category=source.get("category"),
        estimates=list(source.get("estimates") or []),
        failed_thresholds=list(source.get("failed_thresholds") or []),
        profile_version=source.get("profile_version"),
        fx_eur_per_gbp=source.get("fx_eur_per_gbp"),
        buy_observed_at=parse_time(source.get("buy_observed_at")),
        sell_observed_at=parse_time(source.get("sell_observed_at")),
        first_seen=first_seen,
        last_seen=last_seen,
        closed_at=parse_time(source.get("closed_at")),
        age_seconds=age_seconds(first_seen, now),
        sales_rank=_first(source.get("sales_rank"), sell_product.get("sales_rank")),
        category=_first(source.get("root_category"), sell_product.get("root_category")),
        amazon_sells_in_target=amazon,
        sell_signals=_sell_signals(source.get("sell_signals")),
        expected_monthly_units=source.get("expected_monthly_units"),
        expected_monthly_profit_eur_cents=source.get("expected_monthly_profit_eur_cents"),
        open_for_seconds=source.get("open_for_seconds"),
    )


def _sell_signals(value: object) -> SellSignals | None:
    """The document's ``sell_signals`` object; None when absent (a route last evaluated
    before signals existed)."""
    return SellSignals.model_validate(value) if isinstance(value, Mapping) else None


#: ``products`` fields that :class:`ProductQuote` takes as they are (same name, may be absent).
_PRODUCT_FIELDS: tuple[str, ...] = (
    "title",
    "fx_eur_per_gbp",
    "referral_fee_rate",
    "fba_fee_minor",
    "package_weight_g",
    "package_length_mm",
    "package_width_mm",
    "package_height_mm",
    "image_url",
    "amazon_in_stock",
)


def _observation(source: Mapping[str, Any], index: str) -> dict[str, Any]:
    """The fields that a ``products`` and a ``price-history`` document share (one
    observation, see ``app.es.documents``), as arguments of the response models."""
    market = Market(source["market"])
    observed_at = parse_time(source.get("observed_at"))
    if observed_at is None:
        raise ValueError(f"{index} document {source.get('asin')}:{market} has no observed_at")
    return {
        "market": market,
        "currency": source.get("currency") or market.currency.value,
        "observed_at": observed_at,
        "buy_price_minor": source.get("buy_price_minor"),
        "sell_price_minor": source.get("sell_price_minor"),
        "buy_price_eur_cents": source.get("buy_price_eur_cents"),
        "sell_price_eur_cents": source.get("sell_price_eur_cents"),
        "sales_rank": source.get("sales_rank"),
        "prices": dict(source.get("prices") or {}),
    }


def product_quote(source: Mapping[str, Any], now: datetime) -> ProductQuote:
    """A ``products`` document as the latest quote of its market."""
    observation = _observation(source, "products")
    market: Market = observation["market"]
    return ProductQuote(
        **observation,
        **{name: source.get(name) for name in _PRODUCT_FIELDS},
        category=source.get("root_category"),
        product_url=source.get("product_url") or market.product_url(str(source.get("asin"))),
        fetched_at=parse_time(source.get("fetched_at")),
        indexed_at=parse_time(source.get("indexed_at")),
        age_seconds=age_seconds(observation["observed_at"], now),
    )


def history_point(source: Mapping[str, Any]) -> HistoryPoint:
    """A ``price-history`` document as a chart point."""
    return HistoryPoint(**_observation(source, "price-history"))


def watchlist_item(source: Mapping[str, Any]) -> WatchlistItem:
    """A ``watchlist`` document."""
    markets = source.get("markets") or []
    return WatchlistItem(
        asin=str(source["asin"]),
        markets=[markets] if isinstance(markets, str) else [str(m) for m in markets],
        priority=source.get("priority"),
        added_at=parse_time(source.get("added_at")),
        updated_at=parse_time(source.get("updated_at")),
        source=source.get("source"),
        note=source.get("note"),
    )
