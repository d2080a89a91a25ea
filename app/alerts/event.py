"""The ``arbitrage.opportunities`` event as the alerts read it (docs/contract.md).

:func:`parse_opportunity` reads the event by its contract
(:class:`app.contracts.opportunities.OpportunityMessage`) into the fields alerts use and keeps
the whole event for the generic JSON payload. Anything unusable raises
:class:`InvalidAlertEventError`. The product links
are built from the (validated) ASIN and markets, so a notification never links elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from app.contracts.base import ContractError
from app.contracts.opportunities import OPPORTUNITY, OpportunityMessage
from app.domain.markets import Market, OnRoute
from app.domain.money import Currency

__all__ = ["EVENT_TYPES", "InvalidAlertEventError", "Opportunity", "parse_opportunity"]

EVENT_TYPES = frozenset({"opened", "updated", "closed"})


class InvalidAlertEventError(ValueError):
    """An opportunity event that does not follow the contract."""


@dataclass(frozen=True, slots=True)
class Opportunity(OnRoute):
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


def parse_opportunity(data: OpportunityMessage | Mapping[str, Any] | Any) -> Opportunity:
    """The event's fields, read by its contract (:class:`OpportunityMessage`, or the same as
    decoded JSON); raises :class:`InvalidAlertEventError`."""
    try:
        message = OPPORTUNITY.convert(data)
    except ContractError as exc:
        raise InvalidAlertEventError(str(exc)) from None
    asin, buy, sell = message.asin, message.buy_market, message.sell_market
    return Opportunity(
        event=message.event,
        event_id=message.event_id,
        asin=asin,
        title=message.title or None,
        buy_market=buy,
        sell_market=sell,
        buy_url=buy.product_url(asin),
        sell_url=sell.product_url(asin),
        buy_currency=message.buy_currency,
        sell_currency=message.sell_currency,
        buy_price_minor=message.buy_price_minor,
        sell_price_minor=message.sell_price_minor,
        profit_eur_cents=message.profit_eur_cents,
        roi=_ratio(message.roi),
        margin=_ratio(message.margin),
        event_time=message.event_time.astimezone(UTC),
        first_seen=message.first_seen.astimezone(UTC),
        raw=data if isinstance(data, Mapping) else msgspec.to_builtins(message),
    )


def _ratio(value: Decimal) -> Decimal:
    ratio = Decimal(str(value))
    if not ratio.is_finite():
        raise InvalidAlertEventError(f"a ratio must be finite, got {value!r}")
    return ratio
