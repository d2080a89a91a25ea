"""What-if pricing for ``POST /profit/quote``: pure functions, no I/O and no clock.

The route handler reads the stored quotes (Elasticsearch ``products``, as the sink wrote them),
the seller profile and the EUR/GBP rate in force (the compacted topics, as ``GET /profile``
and the scheduler read them) and the request time; everything else happens here:

* :func:`flatten_overrides` turns the request's partial profile into the dotted ``KEY=VALUE``
  strings of :func:`app.domain.profile.with_overrides` (the CLI's ``arbitrage profile set``
  format), so an override is validated exactly like a published profile;
* :func:`offer_quotes` turns explicit offers into :class:`MarketQuote` objects;
* :func:`quote_routes` prices every route with :func:`app.domain.fees.price_route` (the
  worker's one pricing model) and says why a route has no price;
* :func:`quoted_route` / :func:`breakdown_model` shape a :class:`RouteBreakdown` for the API.

For an ASIN, the quotes the worker would ignore (more than ``stale_after`` older than the
newest, :func:`app.domain.detection.fresh_quotes`) are reported as ``stale_quote``, and the
fee date defaults to the newer quote's date, as in the worker: with the same profile and rate,
a route's profit is the one of its opportunity document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from app.api.models import Breakdown, BreakdownLine, QuotedRoute, UnpricedRoute
from app.api.params import MAX_PROFILE_OVERRIDES, BuyOffer, SellerKind, SellOffer
from app.domain.detection import fresh_quotes
from app.domain.fee_schedule import FeeSchedule, FeeScheduleGapError
from app.domain.fees import RouteBreakdown, price_route
from app.domain.fx import FxRates
from app.domain.keepa_prices import PriceType
from app.domain.markets import ALL_ROUTES, Market, Route
from app.domain.profile import ProfileError, SellerProfile
from app.domain.quote import MarketQuote

__all__ = [
    "OFFERS_ASIN",
    "Priced",
    "breakdown_model",
    "flatten_overrides",
    "offer_quotes",
    "quote_routes",
    "quoted_route",
]

#: The ASIN of explicit offers inside the computation (never shown: the answer has none).
OFFERS_ASIN: Final = "OFFERS0000"
#: Deepest nesting of the override mapping (``inbound_shipping_by_route.DE:FR.step_g`` is 3).
_MAX_DEPTH: Final = 4
_MAX_TEXT: Final = 200


def _text(path: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, int | float | str):
        text = str(value)
        if len(text) > _MAX_TEXT:
            raise ProfileError(path, f"value longer than {_MAX_TEXT} characters")
        return text
    raise ProfileError(path, f"must be a scalar, got {type(value).__name__}")


def flatten_overrides(raw: Mapping[str, Any]) -> dict[str, str]:
    """``{"fulfilment": {"FR": {"mode": "mfn"}}, "thresholds.min_roi": 0.2}`` ->
    ``{"fulfilment.FR.mode": "mfn", "thresholds.min_roi": "0.2"}``.

    Scalars become the strings ``with_overrides`` parses (``true``/``false``, numbers as
    written, ``null`` -> ``none``); a list becomes one comma-separated value (it replaces
    the whole list, e.g. ``vat_registered_in``). Raises :class:`ProfileError` naming the path
    for a list of non-scalars, nesting deeper than 4 levels, or more than
    ``MAX_PROFILE_OVERRIDES`` values.
    """
    flat: dict[str, str] = {}

    def walk(prefix: str, node: Mapping[str, Any], depth: int) -> None:
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, Mapping):
                if depth >= _MAX_DEPTH:
                    raise ProfileError(path, f"nested deeper than {_MAX_DEPTH} levels")
                walk(path, value, depth + 1)
                continue
            if isinstance(value, list):
                flat[path] = ",".join(_text(f"{path}.{i}", item) for i, item in enumerate(value))
            else:
                flat[path] = _text(path, value)
            if len(flat) > MAX_PROFILE_OVERRIDES:
                raise ProfileError("profile", f"at most {MAX_PROFILE_OVERRIDES} values")

    walk("", raw, 1)
    return flat


def _offer_quote(offer: BuyOffer | SellOffer, title: str | None, at: datetime) -> MarketQuote:
    common: dict[str, Any] = {
        "asin": OFFERS_ASIN,
        "market": offer.market,
        "title": title,
        "observed_at": at,
        "fetched_at": at,
        "root_category": offer.root_category,
        "package_weight_g": offer.package_weight_g,
        "package_length_mm": offer.package_length_mm,
        "package_width_mm": offer.package_width_mm,
        "package_height_mm": offer.package_height_mm,
    }
    if isinstance(offer, BuyOffer):
        amazon = offer.seller is SellerKind.AMAZON
        return MarketQuote(
            **common,
            buy_price=offer.price_minor,
            sell_price=None,
            prices={PriceType.AMAZON.name: offer.price_minor} if amazon else {},
            amazon_in_stock=amazon,
        )
    rate = offer.referral_fee_rate
    return MarketQuote(
        **common,
        buy_price=None,
        sell_price=offer.price_minor,
        referral_fee_rate=None if rate is None else Decimal(str(rate)),
        fba_fee=offer.fba_fee_minor,
        sales_rank=offer.sales_rank,
    )


def offer_quotes(
    buy: Sequence[BuyOffer], sell: Sequence[SellOffer], title: str | None, at: datetime
) -> tuple[dict[Market, MarketQuote], dict[Market, MarketQuote]]:
    """The buy and the sell offers as quotes observed at ``at`` (by market)."""
    return (
        {o.market: _offer_quote(o, title, at) for o in buy},
        {o.market: _offer_quote(o, title, at) for o in sell},
    )


@dataclass(frozen=True, slots=True)
class Priced:
    """Every route between the known markets: a breakdown, or why there is none."""

    routes: list[RouteBreakdown] = field(default_factory=list)
    unpriced: list[UnpricedRoute] = field(default_factory=list)


def _unpriced(route: Route, reason: Any, detail: str) -> UnpricedRoute:
    return UnpricedRoute(
        route=route.key,
        buy_market=route.buy,
        sell_market=route.sell,
        reason=reason,
        detail=detail,
    )


def quote_routes(
    buy_quotes: Mapping[Market, MarketQuote],
    sell_quotes: Mapping[Market, MarketQuote],
    fx: FxRates,
    profile: SellerProfile,
    schedule: FeeSchedule,
    *,
    on: date | None,
    stale_after: timedelta | None = None,
) -> Priced:
    """Every route (in :data:`ALL_ROUTES` order) from a market of ``buy_quotes`` to another
    of ``sell_quotes``, priced on ``on`` (None: the newer quote's date).

    With ``stale_after`` (an ASIN's stored quotes, the same mapping on both sides), a quote
    more than that older than the newest is not used, as in the worker.
    """
    fresh: Mapping[Market, MarketQuote] | None = None
    if stale_after is not None:
        fresh = fresh_quotes({**buy_quotes, **sell_quotes}, stale_after)
    priced = Priced()
    for route in ALL_ROUTES:
        buy, sell = buy_quotes.get(route.buy), sell_quotes.get(route.sell)
        if buy is None or sell is None:
            continue
        if fresh is not None and (route.buy not in fresh or route.sell not in fresh):
            old = buy if route.buy not in fresh else sell
            priced.unpriced.append(
                _unpriced(
                    route,
                    "stale_quote",
                    f"the {old.market.value} quote of {old.observed_at:%Y-%m-%d %H:%M} UTC is "
                    f"more than {stale_after} older than the newest quote",
                )
            )
            continue
        if buy.buy_price is None:
            priced.unpriced.append(
                _unpriced(route, "no_buy_price", f"no buy price in {route.buy.value}")
            )
            continue
        if sell.sell_price is None:
            priced.unpriced.append(
                _unpriced(route, "no_sell_price", f"no sell price in {route.sell.value}")
            )
            continue
        try:
            breakdown = price_route(buy, sell, fx, profile, schedule, on=on)
        except FeeScheduleGapError as exc:
            priced.unpriced.append(_unpriced(route, "fee_schedule_gap", str(exc)))
            continue
        assert breakdown is not None  # both prices are known
        priced.routes.append(breakdown)
    return priced


def breakdown_model(b: RouteBreakdown) -> Breakdown:
    """The API's breakdown (the one of the opportunity documents) of a route."""
    return Breakdown(
        fees_on=b.on,
        net_sell_eur_cents=b.net_sell_eur_cents,
        net_buy_eur_cents=b.net_buy_eur_cents,
        sell_vat_rate=float(b.sell_vat_rate),
        buy_vat_rate=float(b.buy_vat_rate),
        total_costs_eur_cents=b.total_costs_eur_cents,
        investment_eur_cents=b.investment_eur_cents,
        lines=[
            BreakdownLine(
                kind=line.kind,
                amount_minor=line.amount_minor,
                currency=line.currency.value,
                eur_cents=line.eur_cents,
                is_cost=line.is_cost,
                note=line.note,
            )
            for line in b.lines
        ],
    )


def quoted_route(b: RouteBreakdown, profile_version: str) -> QuotedRoute:
    """One priced route as the API shows it."""
    return QuotedRoute(
        route=b.route_key,
        buy_market=b.buy_market,
        sell_market=b.sell_market,
        buy_currency=b.buy_market.currency.value,
        sell_currency=b.sell_market.currency.value,
        buy_price_minor=b.buy_price_minor,
        sell_price_minor=b.sell_price_minor,
        buy_price_eur_cents=b.buy_price_eur_cents,
        sell_price_eur_cents=b.sell_price_eur_cents,
        profit_eur_cents=b.profit_eur_cents,
        roi=float(b.roi_display),
        margin=float(b.margin_display),
        is_opportunity=b.is_opportunity,
        failed_thresholds=list(b.failed_thresholds),
        fee_category=b.category,
        estimates=list(b.estimates),
        profile_version=profile_version,
        fx_eur_per_gbp=float(b.eur_per_gbp),
        breakdown=breakdown_model(b),
        buy_observed_at=b.buy_observed_at,
        sell_observed_at=b.sell_observed_at,
    )
