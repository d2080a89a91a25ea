"""The ``arbitrage.opportunities`` event as the alerts read it (docs/contract.md).

:func:`parse_opportunity` validates the fields alerts use and keeps the whole event for the
generic JSON payload. Anything unusable raises :class:`InvalidAlertEventError`. The product links
are built from the (validated) ASIN and markets, so a notification never links elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.domain.asin import is_valid_asin
from app.domain.markets import Market, Route, UnknownMarketError
from app.domain.money import Currency, UnknownCurrencyError
from app.domain.utc import parse_utc

__all__ = ["EVENT_TYPES", "InvalidAlertEventError", "Opportunity", "parse_opportunity"]

EVENT_TYPES = frozenset({"opened", "updated", "closed"})


class InvalidAlertEventError(ValueError):
    """An opportunity event that does not follow the contract."""


@dataclass(frozen=True, slots=True)
class Opportunity:
    """One opportunity event: the figures a notification shows, and the raw event."""

    event: str
    event_id: str
    asin: str
    title: str | None
    buy_market: Market
    sell_market: Market
    buy_url: str
    sell_url: str
    buy_currency: Currency
    sell_currency: Currency
    buy_price_minor: int
    sell_price_minor: int
    profit_eur_cents: int
    roi: Decimal
    margin: Decimal
    event_time: datetime
    first_seen: datetime
    raw: Mapping[str, Any]

    @property
    def route(self) -> Route:
        return Route(self.buy_market, self.sell_market)

    @property
    def route_key(self) -> str:
        return self.route.key


def _str(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidAlertEventError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _int(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidAlertEventError(f"{name} must be an integer, got {value!r}")
    return value


def _ratio(data: Mapping[str, Any], name: str) -> Decimal:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidAlertEventError(f"{name} must be a number, got {value!r}")
    try:
        ratio = Decimal(str(value))
    except InvalidOperation:
        raise InvalidAlertEventError(f"{name} must be a number, got {value!r}") from None
    if not ratio.is_finite():
        raise InvalidAlertEventError(f"{name} must be finite, got {value!r}")
    return ratio


def _time(data: Mapping[str, Any], name: str) -> datetime:
    try:
        return parse_utc(_str(data, name))
    except ValueError as exc:
        raise InvalidAlertEventError(f"{name}: {exc}") from None


def parse_opportunity(data: Any) -> Opportunity:
    """The event's fields, validated; raises :class:`InvalidAlertEventError`."""
    if not isinstance(data, Mapping):
        raise InvalidAlertEventError(f"an event is a JSON object, got {type(data).__name__}")
    event = _str(data, "event")
    if event not in EVENT_TYPES:
        raise InvalidAlertEventError(f"unknown event type {event!r}")
    asin = _str(data, "asin")
    if not is_valid_asin(asin):
        raise InvalidAlertEventError(f"invalid asin {asin!r}")
    try:
        buy_market = Market.parse(_str(data, "buy_market"))
        sell_market = Market.parse(_str(data, "sell_market"))
        buy_currency = Currency.parse(_str(data, "buy_currency"))
        sell_currency = Currency.parse(_str(data, "sell_currency"))
    except (UnknownMarketError, UnknownCurrencyError) as exc:
        raise InvalidAlertEventError(str(exc)) from None
    route = _str(data, "route")
    if route != Route(buy_market, sell_market).key:
        raise InvalidAlertEventError(f"route {route!r} does not match {buy_market}:{sell_market}")
    title = data.get("title")
    if title is not None and not isinstance(title, str):
        raise InvalidAlertEventError(f"title must be a string or null, got {title!r}")
    return Opportunity(
        event=event,
        event_id=_str(data, "event_id"),
        asin=asin,
        title=title or None,
        buy_market=buy_market,
        sell_market=sell_market,
        buy_url=buy_market.product_url(asin),
        sell_url=sell_market.product_url(asin),
        buy_currency=buy_currency,
        sell_currency=sell_currency,
        buy_price_minor=_int(data, "buy_price_minor"),
        sell_price_minor=_int(data, "sell_price_minor"),
        profit_eur_cents=_int(data, "profit_eur_cents"),
        roi=_ratio(data, "roi"),
        margin=_ratio(data, "margin"),
        event_time=_time(data, "event_time"),
        first_seen=_time(data, "first_seen"),
        raw=data,
    )
