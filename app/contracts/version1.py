"""Version 1 of ``arbitrage.opportunities`` and of the ``open-opportunities`` state, read
and converted to version 2 (never written).

Version 1 was priced by the former single pricing policy: net sell, referral fee, FBA fee,
shipping (GB customs included), net buy, all in EUR cents. A consumer upgraded in place still
has such messages on its topic, and a worker upgraded in place still has such open routes in
its table; both are read, their figures carried as lines of a
:class:`app.domain.fees.RouteBreakdown`:

* ``sales_vat`` (shown), ``referral``, ``fba`` and ``inbound_shipping`` (shipping incl. GB
  customs), each in EUR (version 1 computed in EUR), and ``purchase_vat``: shown when the
  version-1 net buy was net of it (VAT recovered), a cost when it was the gross price; so
  ``profit == net sell - cost lines - net buy`` still holds to the cent, and the investment is
  version 1's ROI base (net buy + shipping, with the VAT when it was a cost);
* what version 1 did not record is unknown or empty: the category and the profile version are
  :data:`UNKNOWN`, no threshold is named as failed, and the only estimate is
  ``fba_fee_estimated`` when version 1 said so; the VAT rates are the markets' standard
  rates, the only ones version 1 applied.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Final, Literal

import msgspec

from app.domain.fees import FeeLine, LineKind, RouteBreakdown
from app.domain.markets import Market
from app.domain.money import Currency, round_half_up

__all__ = ["UNKNOWN", "CostsV1", "route_breakdown_v1"]

#: Category and profile version of a version-1 record (not recorded then).
UNKNOWN: Final = "unknown"


class CostsV1(msgspec.Struct, frozen=True, kw_only=True):
    """A version-1 ``breakdown``: the components of the profit, EUR cents."""

    net_sell_eur_cents: int
    vat_sell_eur_cents: int
    referral_fee_eur_cents: int
    fba_fee_eur_cents: int
    shipping_eur_cents: int
    net_buy_eur_cents: int  # net of VAT when recovered, the gross price otherwise
    vat_buy_eur_cents: int


def _net_minor(gross_minor: int, rate: Decimal) -> int:
    return round_half_up(Decimal(gross_minor) / (1 + rate))


def route_breakdown_v1(
    *,
    asin: str,
    title: str | None,
    buy_market: Market,
    sell_market: Market,
    buy_price_minor: int,
    sell_price_minor: int,
    buy_price_eur_cents: int,
    sell_price_eur_cents: int,
    costs: CostsV1,
    profit_eur_cents: int,
    purchase_vat_is_cost: bool,
    fba_fee_estimated: bool,
    eur_per_gbp: Decimal,
    buy_observed_at: datetime,
    sell_observed_at: datetime,
) -> RouteBreakdown:
    """The version-1 figures of one route as a breakdown (see the module doc)."""
    c = costs
    net_buy = c.net_buy_eur_cents - (c.vat_buy_eur_cents if purchase_vat_is_cost else 0)

    def line(kind: LineKind, cents: int, note: str, *, cost: bool = True) -> FeeLine:
        return FeeLine(kind, cents, Currency.EUR, cents, cost, f"version 1: {note}")

    candidates = [
        line("sales_vat", c.vat_sell_eur_cents, "VAT in the sell price", cost=False),
        line(
            "purchase_vat",
            c.vat_buy_eur_cents,
            "VAT in the buy price, " + ("not recovered" if purchase_vat_is_cost else "recovered"),
            cost=purchase_vat_is_cost,
        ),
        line("referral", c.referral_fee_eur_cents, "referral fee"),
        line("fba", c.fba_fee_eur_cents, "FBA fee"),
        line("inbound_shipping", c.shipping_eur_cents, "shipping (GB customs included)"),
    ]
    lines = tuple(x for x in candidates if x.eur_cents)
    investment = c.net_buy_eur_cents + c.shipping_eur_cents
    failed: tuple[Literal["min_profit", "min_roi", "max_sales_rank"], ...] = ()
    return RouteBreakdown(
        asin=asin,
        title=title,
        buy_market=buy_market,
        sell_market=sell_market,
        on=max(buy_observed_at, sell_observed_at).astimezone(UTC).date(),
        category=UNKNOWN,
        buy_price_minor=buy_price_minor,
        sell_price_minor=sell_price_minor,
        buy_price_eur_cents=buy_price_eur_cents,
        sell_price_eur_cents=sell_price_eur_cents,
        buy_vat_rate=buy_market.vat_rate,
        sell_vat_rate=sell_market.vat_rate,
        net_buy_minor=_net_minor(buy_price_minor, buy_market.vat_rate),
        net_sell_minor=_net_minor(sell_price_minor, sell_market.vat_rate),
        net_buy_eur_cents=net_buy,
        net_sell_eur_cents=c.net_sell_eur_cents,
        lines=lines,
        profit_eur_cents=profit_eur_cents,
        investment_eur_cents=investment,
        estimates=("fba_fee_estimated",) if fba_fee_estimated else (),
        failed_thresholds=failed,
        eur_per_gbp=eur_per_gbp,
        buy_observed_at=buy_observed_at,
        sell_observed_at=sell_observed_at,
    )
