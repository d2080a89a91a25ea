"""Every cost of one route, line by line, from the fee schedule and the seller's profile.

:func:`price_route` takes the buy and sell :class:`MarketQuote`, the :class:`FxRates`, the
seller's :class:`SellerProfile` and the :class:`FeeSchedule`, and returns a
:class:`RouteBreakdown`: the one pricing model (detection evaluates every route with it).

Money rules:

* each fee is computed in the currency of the market that charges it (the sell market for
  Amazon's fees, the buy market for the purchase) and rounded there, half-up to the minor
  unit, as Amazon charges it; each line is converted to EUR cents once, afterwards;
* every line is its own :class:`FeeLine` (amount, currency, EUR cents, cost or only shown);
  VAT the seller recovers or owes anyway is shown, not deducted: ``profit == net sell -
  sum(cost lines) - net buy`` exactly, in EUR cents;
* thresholds compare exact values (:class:`fractions.Fraction`): an ROI of 0.14997 is below
  15 % although it prints as 0.1500;
* ``estimates`` names every input that was estimated or a figure that is unverified.

The figures in force are those of the observation's date: the newer of the two quotes'
``observed_at`` (UTC), unless ``on`` is passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Literal

from app.domain.fee_schedule import (
    DEFAULT_CATEGORY,
    STORAGE_UNIT_MM3,
    FbaTier,
    FeeSchedule,
    FeeScheduleGapError,
    ReferralRule,
    StorageSize,
    VatRate,
)
from app.domain.fx import FxRates
from app.domain.keepa_prices import PriceType
from app.domain.markets import Market, OnRoute, Route
from app.domain.money import Currency, round_half_up
from app.domain.profile import SellerProfile
from app.domain.quote import MarketQuote

__all__ = [
    "FeeLine",
    "LineKind",
    "NetPriceMemo",
    "RouteBreakdown",
    "Threshold",
    "price_route",
    "profit_upper_bound",
    "purchase_vat_recoverable",
    "referral_fee_minor",
    "route_category",
]

LineKind = Literal[
    "sales_vat",
    "purchase_vat",
    "referral",
    "closing_fee",
    "digital_services_fee",
    "fee_vat",
    "fba",
    "efn",
    "mfn_shipping",
    "storage",
    "inbound_shipping",
    "customs",
    "import_duty",
    "prep",
    "fx_fee",
    "returns_allowance",
]
Threshold = Literal["min_profit", "min_roi", "max_sales_rank"]

_DISPLAY = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class FeeLine:
    """One line of the breakdown. ``is_cost`` False: shown only (recovered / reverse-charged
    VAT, the sale's output VAT already excluded from net sell)."""

    kind: LineKind
    amount_minor: int
    currency: Currency
    eur_cents: int
    is_cost: bool
    note: str


@dataclass(frozen=True, slots=True)
class RouteBreakdown(OnRoute):
    """The full profit computation of one route of one ASIN (immutable, plain data: the
    worker keeps the last one of each open route in its state)."""

    asin: str
    title: str | None  # the sell quote's title, else the buy quote's
    buy_market: Market
    sell_market: Market
    on: date
    category: str  # fee category key (``default`` when unmapped / unknown)
    buy_price_minor: int  # gross, buy market's currency
    sell_price_minor: int  # gross, sell market's currency
    buy_price_eur_cents: int  # gross, converted
    sell_price_eur_cents: int  # gross, converted
    buy_vat_rate: Decimal
    sell_vat_rate: Decimal
    net_buy_minor: int
    net_sell_minor: int
    net_buy_eur_cents: int
    net_sell_eur_cents: int
    lines: tuple[FeeLine, ...]
    profit_eur_cents: int
    investment_eur_cents: int  # net buy + purchase VAT if a cost + inbound, customs, duty,
    # prep, storage (all paid before the sale)
    estimates: tuple[str, ...]
    failed_thresholds: tuple[Threshold, ...]
    eur_per_gbp: Decimal
    buy_observed_at: datetime
    sell_observed_at: datetime

    @property
    def roi(self) -> Fraction:
        """Exact ``profit / investment`` (0 when the investment is <= 0)."""
        if self.investment_eur_cents <= 0:
            return Fraction(0)
        return Fraction(self.profit_eur_cents, self.investment_eur_cents)

    @property
    def margin(self) -> Fraction:
        """Exact ``profit / net sell`` (0 when net sell is <= 0)."""
        if self.net_sell_eur_cents <= 0:
            return Fraction(0)
        return Fraction(self.profit_eur_cents, self.net_sell_eur_cents)

    @property
    def is_opportunity(self) -> bool:
        return not self.failed_thresholds

    @property
    def cost_lines(self) -> tuple[FeeLine, ...]:
        return tuple(line for line in self.lines if line.is_cost)

    @property
    def total_costs_eur_cents(self) -> int:
        return sum(line.eur_cents for line in self.cost_lines)

    @property
    def roi_display(self) -> Decimal:
        """ROI rounded half-up to 4 places, for display only (compare :attr:`roi`)."""
        return _display(self.roi)

    @property
    def margin_display(self) -> Decimal:
        return _display(self.margin)

    def line(self, kind: LineKind) -> FeeLine | None:
        """The first line of that kind, if any."""
        return next((line for line in self.lines if line.kind == kind), None)


def _display(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        _DISPLAY, rounding=ROUND_HALF_UP
    )


def _pct(amount_minor: int, rate: Decimal) -> int:
    return round_half_up(Decimal(amount_minor) * rate)


def referral_fee_minor(rule: ReferralRule, price_minor: int) -> int:
    """Referral fee on a gross price, in the same minor unit, before the minimum.

    ``whole``: the rate of the first tier whose bound is >= price applies to the whole price;
    ``portion``: each tier's rate applies to the part of the price inside it (rounded once).
    """
    if rule.tier_mode == "whole":
        for tier in rule.tiers:
            if tier.up_to_minor is None or price_minor <= tier.up_to_minor:
                return _pct(price_minor, tier.rate)
    total = Decimal(0)
    lower = 0
    for tier in rule.tiers:
        upper = price_minor if tier.up_to_minor is None else min(price_minor, tier.up_to_minor)
        if upper > lower:
            total += Decimal(upper - lower) * tier.rate
        if tier.up_to_minor is None or price_minor <= tier.up_to_minor:
            break
        lower = tier.up_to_minor
    return round_half_up(total)


def _match_tier(
    tiers: Sequence[FbaTier], weight_g: int | None, dims_mm: tuple[int, int, int] | None
) -> tuple[int, list[str]]:
    """Index of the cheapest fitting tier and what was estimated.

    Unknown weight: the largest tier. Weight without dimensions: not assumed flat or small,
    the first standard-parcel tier of that weight. Nothing fits: the largest tier (a lower
    bound of an oversize fee)."""
    last = len(tiers) - 1
    if weight_g is None:
        return last, ["weight_unknown"]
    if dims_mm is None:
        for i, tier in enumerate(tiers):
            if tier.size == "standard_parcel" and weight_g <= tier.max_weight_g:
                return i, ["dimensions_unknown"]
        return last, ["dimensions_unknown", "oversize_priced_as_largest_tier"]
    for i, tier in enumerate(tiers):
        if tier.fits(weight_g, dims_mm):
            return i, []
    return last, ["oversize_priced_as_largest_tier"]


def purchase_vat_recoverable(profile: SellerProfile, *, amazon_offer: bool) -> bool:
    """Whether the VAT in a buy price is recovered (shown, not a cost): the profile recovers
    input VAT and the offer comes with a VAT invoice, which Amazon's own offers always do and
    third-party offers do when the profile says so. A buy quote's offer is Amazon's when its
    buy price is its ``AMAZON`` price."""
    return profile.input_vat_recoverable and (amazon_offer or profile.third_party_vat_invoice)


def _is_amazon_offer(quote: MarketQuote) -> bool:
    amazon = quote.prices.get(PriceType.AMAZON.name)
    return amazon is not None and amazon == quote.buy_price


class _Lines:
    def __init__(self, fx: FxRates) -> None:
        self.fx = fx
        self.lines: list[FeeLine] = []

    def add(
        self, kind: LineKind, amount: int, currency: Currency, note: str, *, cost: bool = True
    ) -> None:
        if amount == 0:
            return
        eur = self.fx.to_eur_cents(amount, currency)
        self.lines.append(FeeLine(kind, amount, currency, eur, cost, note))

    def eur(self, *kinds: LineKind) -> int:
        return sum(line.eur_cents for line in self.lines if line.kind in kinds and line.is_cost)


@dataclass(frozen=True, slots=True)
class _Nets:
    """The date, fee category and VAT-exclusive prices of a route (both prices known)."""

    on: date
    mapped: str | None  # the category Keepa's root selects, None when unmapped / unknown
    category: str
    sell_vat: VatRate
    buy_vat: VatRate
    net_sell: int  # sell market's minor units
    net_buy: int  # buy market's minor units
    net_sell_eur: int
    net_buy_eur: int


def route_category(buy: MarketQuote, sell: MarketQuote, schedule: FeeSchedule) -> str | None:
    """The fee category of the product: Keepa's root category on either side decides (the
    sell side first); None when neither root is mapped."""
    return schedule.category_of_root(sell.market, sell.root_category) or (
        schedule.category_of_root(buy.market, buy.root_category)
    )


#: Net prices already computed in one evaluation of an ASIN's routes: (market, gross price,
#: fee category, date) -> (VAT rate, net price in the market's minor units, net in EUR cents).
#: Valid for one FX rate and schedule only: a caller keeps one per evaluation.
NetPriceMemo = dict[tuple[Market, int, str, date], tuple[VatRate, int, int]]


def _net_price(
    quote: MarketQuote,
    gross: int,
    category: str,
    on: date,
    fx: FxRates,
    schedule: FeeSchedule,
    memo: NetPriceMemo | None,
) -> tuple[VatRate, int, int]:
    key = (quote.market, gross, category, on)
    if memo is not None and (known := memo.get(key)) is not None:
        return known
    vat = schedule.vat_rate(quote.market, category, on)
    net = round_half_up(Decimal(gross) / (1 + vat.rate))
    found = (vat, net, fx.to_eur_cents(net, quote.currency))
    if memo is not None:
        memo[key] = found
    return found


def _net_prices(
    buy: MarketQuote,
    sell: MarketQuote,
    fx: FxRates,
    schedule: FeeSchedule,
    on: date | None,
    memo: NetPriceMemo | None = None,
) -> _Nets:
    assert buy.buy_price is not None
    assert sell.sell_price is not None
    on = on or max(buy.observed_at, sell.observed_at).date()
    mapped = route_category(buy, sell, schedule)
    category = mapped or DEFAULT_CATEGORY
    sell_vat, net_sell, net_sell_eur = _net_price(
        sell, sell.sell_price, category, on, fx, schedule, memo
    )
    buy_vat, net_buy, net_buy_eur = _net_price(buy, buy.buy_price, category, on, fx, schedule, memo)
    return _Nets(
        on=on,
        mapped=mapped,
        category=category,
        sell_vat=sell_vat,
        buy_vat=buy_vat,
        net_sell=net_sell,
        net_buy=net_buy,
        net_sell_eur=net_sell_eur,
        net_buy_eur=net_buy_eur,
    )


def profit_upper_bound(
    buy: MarketQuote,
    sell: MarketQuote,
    fx: FxRates,
    profile: SellerProfile,
    schedule: FeeSchedule,
    *,
    on: date | None = None,
    memo: NetPriceMemo | None = None,
) -> int | None:
    """A cheap bound that :func:`price_route`'s profit never exceeds (None when a price is
    missing), for skipping routes that cannot reach the profit threshold. ``memo`` shares the
    net prices between the routes of one evaluation (one FX rate, one schedule).

    ``profit = net sell - sum(cost lines) - net buy`` (EUR cents, the same net prices as
    here). Every cost line is >= 0 (fees, storage, percentages of non-negative amounts,
    purchase VAT ``gross - net >= 0``) and three of them have known floors: inbound shipping
    ``>= per_unit`` (plus >= 0 per started weight step), prep and, on GB routes, customs.
    So ``profit <= net sell - net buy - per_unit - prep (- customs)``.
    """
    if buy.buy_price is None or sell.sell_price is None:
        return None
    nets = _net_prices(buy, sell, fx, schedule, on, memo)
    route = Route(buy.market, sell.market)
    floor = profile.inbound_for(route).per_unit_eur_cents + profile.prep_eur_cents
    if route.involves_gb:
        floor += profile.gb_customs_eur_cents
    return nets.net_sell_eur - nets.net_buy_eur - floor


def price_route(
    buy: MarketQuote,
    sell: MarketQuote,
    fx: FxRates,
    profile: SellerProfile,
    schedule: FeeSchedule,
    *,
    on: date | None = None,
) -> RouteBreakdown | None:
    """Every cost of buying at ``buy.buy_price`` and selling at ``sell.sell_price``.

    None when either price is missing. Raises ``ValueError`` for quotes of different ASINs or
    of the same market, :class:`FeeScheduleGapError` when the schedule has no figure in force
    for something the route needs (e.g. EFN across the UK-EU border).
    """
    if buy.asin != sell.asin:
        raise ValueError(f"quotes of different ASINs: {buy.asin} / {sell.asin}")
    if buy.market is sell.market:
        raise ValueError(f"buy and sell market are both {buy.market.value}")
    if buy.buy_price is None or sell.sell_price is None:
        return None
    nets = _net_prices(buy, sell, fx, schedule, on)
    on, category, mapped = nets.on, nets.category, nets.mapped
    sell_vat, buy_vat = nets.sell_vat, nets.buy_vat
    net_sell, net_buy = nets.net_sell, nets.net_buy
    route = Route(buy.market, sell.market)
    gross_sell, gross_buy = sell.sell_price, buy.buy_price
    sc, bc = sell.currency, buy.currency
    estimates: set[str] = set()
    lines = _Lines(fx)
    if sell.root_category is None and buy.root_category is None:
        estimates.add("category_unknown")

    # VAT of the sale (owed in the sell market) and of the purchase.
    lines.add(
        "sales_vat",
        gross_sell - net_sell,
        sc,
        f"{sell_vat.rate} {sell.market.value} VAT ({sell_vat.category}) in the sell price",
        cost=False,
    )
    recoverable = purchase_vat_recoverable(profile, amazon_offer=_is_amazon_offer(buy))
    lines.add(
        "purchase_vat",
        gross_buy - net_buy,
        bc,
        f"{buy_vat.rate} {buy.market.value} VAT ({buy_vat.category}) in the buy price, "
        + ("recovered" if recoverable else "not recoverable: a cost"),
        cost=not recoverable,
    )

    # Referral and closing fee (sell market, its currency).
    rule = schedule.referral_rule(category, sell.market, on)
    if rule is None and category != DEFAULT_CATEGORY:
        estimates.add(f"referral_category_not_in_schedule:{category}")
        rule = schedule.referral_rule(DEFAULT_CATEGORY, sell.market, on)
    if rule is None:
        raise FeeScheduleGapError(f"no referral fee for {sell.market.value} on {on}")
    if sell.referral_fee_rate is not None:
        referral = _pct(gross_sell, sell.referral_fee_rate)
        how = f"Keepa rate {sell.referral_fee_rate}"
    else:
        referral = referral_fee_minor(rule, gross_sell)
        how = f"{rule.category} rate(s) {', '.join(str(t.rate) for t in rule.tiers)}"
        if mapped is None:
            estimates.add("referral_rate_assumed")
    if rule.minimum_minor is not None and referral < rule.minimum_minor:
        referral = rule.minimum_minor
        how += f", per-item minimum {rule.minimum_minor}"
    if not rule.sourced.verified:
        estimates.add("unverified:referral")
    lines.add("referral", referral, sc, f"{how} on the gross price {gross_sell}")
    lines.add("closing_fee", rule.closing_fee_minor, sc, f"per-item closing fee ({category})")

    # Fulfilment.
    mode = profile.fulfilment[sell.market].mode
    fba = efn = 0
    if mode in ("local_fba", "efn"):
        if sell.fba_fee is not None:
            fba = sell.fba_fee
            lines.add("fba", fba, sc, "Keepa's FBA fee of the sell market")
        else:
            fba = _card_fee(buy, sell, schedule, on, estimates)
            lines.add("fba", fba, sc, f"{sell.market.value} FBA fee card (size tier)")
        if mode == "efn":
            efn_fee = schedule.efn_fee(profile.home_market, sell.market, on)
            efn = efn_fee.surcharge_minor
            if not efn_fee.sourced.verified:
                estimates.add("unverified:efn")
            lines.add("efn", efn, sc, f"EFN {profile.home_market.value} -> {sell.market.value}")
    else:
        shipping = profile.fulfilment[sell.market].mfn_shipping_minor or 0
        lines.add("mfn_shipping", shipping, sc, "own shipping to the customer (profile)")

    # Monthly storage in Amazon's warehouse: the sell market's (local FBA) or the home
    # market's (EFN: the stock sits there), in that market's currency; none with mfn.
    storage = 0
    storage_market: Market | None = None
    if mode in ("local_fba", "efn") and profile.storage_months > 0:
        storage_market = sell.market if mode == "local_fba" else profile.home_market
        storage, storage_note = _storage_fee(
            buy, sell, schedule, storage_market, profile.storage_months, on, estimates
        )
        lines.add("storage", storage, storage_market.currency, storage_note)
    storage_in_sell_market = storage_market is sell.market

    # Digital Services Fee: a percentage of the selling and/or FBA fees, per fee type.
    # Not on storage: the DSF sources name "Selling on Amazon fees" and "FBA fees" (fulfilment)
    # and do not say that storage is included, so it is not applied to it.
    dsf = 0
    dsf_rule = schedule.dsf_rule(profile.established_in, sell.market, on)
    if dsf_rule is not None:
        if "selling" in dsf_rule.applies_to:
            dsf += _pct(referral + rule.closing_fee_minor, dsf_rule.rate)
        if "fba" in dsf_rule.applies_to:
            dsf += _pct(fba + efn, dsf_rule.rate)
        lines.add(
            "digital_services_fee",
            dsf,
            sc,
            f"{dsf_rule.rate} on {' + '.join(sorted(dsf_rule.applies_to))} fees "
            f"(established in {profile.established_in})",
        )

    # VAT on Amazon's fees: a cost unless registered where they are charged (reverse charge).
    # Storage charged by another market (EFN: the home market) gets its own line there.
    amazon_fees = referral + rule.closing_fee_minor + dsf + fba + efn
    if storage_in_sell_market:
        amazon_fees += storage
    fee_vat_rate = schedule.fee_vat_rate(sell.market, on)
    registered = sell.market in profile.vat_registered_in
    lines.add(
        "fee_vat",
        _pct(amazon_fees, fee_vat_rate.rate),
        sc,
        f"{fee_vat_rate.rate} {sell.market.value} VAT on Amazon's fees of {amazon_fees}: "
        + ("reverse charge (registered), shown only" if registered else "not registered: a cost"),
        cost=not registered,
    )
    if storage_market is not None and not storage_in_sell_market:
        storage_vat = schedule.fee_vat_rate(storage_market, on)
        storage_registered = storage_market in profile.vat_registered_in
        lines.add(
            "fee_vat",
            _pct(storage, storage_vat.rate),
            storage_market.currency,
            f"{storage_vat.rate} {storage_market.value} VAT on Amazon's storage fee of {storage}: "
            + (
                "reverse charge (registered), shown only"
                if storage_registered
                else "not registered: a cost"
            ),
            cost=not storage_registered,
        )

    returns_rate = profile.returns_rate_for(category)
    lines.add(
        "returns_allowance",
        _pct(gross_sell, returns_rate),
        sc,
        f"{returns_rate} of the gross sell price",
    )

    # Currency conversion of amounts not in the home currency.
    home = profile.home_market.currency
    if sc is not home:
        fee_vat_cost = 0 if registered else _pct(amazon_fees, fee_vat_rate.rate)
        payout = max(0, gross_sell - amazon_fees - fee_vat_cost)
        lines.add(
            "fx_fee",
            _pct(payout, profile.fx_fee_rate),
            sc,
            f"{profile.fx_fee_rate} of the {sc.value} payout {payout}",
        )
    if bc is not home:
        lines.add(
            "fx_fee",
            _pct(gross_buy, profile.fx_fee_rate),
            bc,
            f"{profile.fx_fee_rate} of the {bc.value} purchase {gross_buy}",
        )

    # The seller's own costs, EUR cents.
    net_buy_eur = nets.net_buy_eur
    weight = sell.package_weight_g if sell.package_weight_g is not None else buy.package_weight_g
    inbound = profile.inbound_for(route)
    if weight is None:
        estimates.add("weight_unknown")
    shipping_weight = weight if weight is not None else inbound.unknown_weight_g
    lines.add(
        "inbound_shipping",
        inbound.cost_eur_cents(shipping_weight),
        Currency.EUR,
        f"{inbound.per_unit_eur_cents} + {inbound.per_step_eur_cents} per started "
        f"{inbound.step_g} g of {shipping_weight} g",
    )
    if route.involves_gb:
        lines.add("customs", profile.gb_customs_eur_cents, Currency.EUR, "GB customs brokerage")
        lines.add(
            "import_duty",
            _pct(net_buy_eur, profile.import_duty_rate),
            Currency.EUR,
            f"{profile.import_duty_rate} of the net purchase price",
        )
    lines.add("prep", profile.prep_eur_cents, Currency.EUR, "prep per unit")

    net_sell_eur = nets.net_sell_eur
    profit = net_sell_eur - sum(line.eur_cents for line in lines.lines if line.is_cost)
    profit -= net_buy_eur
    # Storage is paid before the sale, like inbound shipping and prep: part of the investment.
    investment = net_buy_eur + lines.eur(
        "purchase_vat", "inbound_shipping", "customs", "import_duty", "prep", "storage"
    )
    roi = Fraction(profit, investment) if investment > 0 else Fraction(0)

    thresholds = profile.thresholds
    failed: list[Threshold] = []
    if profit < thresholds.min_profit_eur_cents:
        failed.append("min_profit")
    if investment <= 0 or roi < Fraction(thresholds.min_roi):
        failed.append("min_roi")
    if thresholds.max_sales_rank is not None and (
        sell.sales_rank is None or sell.sales_rank > thresholds.max_sales_rank
    ):
        failed.append("max_sales_rank")

    return RouteBreakdown(
        asin=buy.asin,
        title=sell.title or buy.title,
        buy_market=buy.market,
        sell_market=sell.market,
        on=on,
        category=category,
        buy_price_minor=gross_buy,
        sell_price_minor=gross_sell,
        buy_price_eur_cents=fx.to_eur_cents(gross_buy, bc),
        sell_price_eur_cents=fx.to_eur_cents(gross_sell, sc),
        buy_vat_rate=buy_vat.rate,
        sell_vat_rate=sell_vat.rate,
        net_buy_minor=net_buy,
        net_sell_minor=net_sell,
        net_buy_eur_cents=net_buy_eur,
        net_sell_eur_cents=net_sell_eur,
        lines=tuple(lines.lines),
        profit_eur_cents=profit,
        investment_eur_cents=investment,
        estimates=tuple(sorted(estimates)),
        failed_thresholds=tuple(failed),
        eur_per_gbp=fx.eur_per_gbp,
        buy_observed_at=buy.observed_at,
        sell_observed_at=sell.observed_at,
    )


def _storage_fee(
    buy: MarketQuote,
    sell: MarketQuote,
    schedule: FeeSchedule,
    market: Market,
    months: int,
    on: date,
    estimates: set[str],
) -> tuple[int, str]:
    """Monthly storage x months for one unit in ``market``'s warehouses, in its minor units,
    rounded half-up once; and the line's note.

    Volume from the package dimensions (sell quote's, else the buy quote's). Unknown
    dimensions: the volume of the largest standard size (the largest FBA tier's box), said as
    ``dimensions_unknown`` (never a volume guessed from the weight). Oversize: dimensions (or
    a weight) beyond every FBA tier of the schedule."""
    rates = schedule.storage_rate(market, on)
    if not rates.sourced.verified:
        estimates.add("unverified:storage")
    weight = sell.package_weight_g if sell.package_weight_g is not None else buy.package_weight_g
    dims = sell.package_dims_mm or buy.package_dims_mm
    largest = schedule.fba_tiers[-1]
    if dims is None:
        estimates.add("dimensions_unknown")
        dims = largest.max_dims_mm
        oversize = weight is not None and weight > largest.max_weight_g
        assumed = " (dimensions unknown: the largest standard size)"
    else:
        known = weight if weight is not None else 0
        oversize = not any(tier.fits(known, dims) for tier in schedule.fba_tiers)
        assumed = ""
    size: StorageSize = "oversize" if oversize else "standard"
    volume_mm3 = dims[0] * dims[1] * dims[2]
    rate = rates.rate_minor(size, on)
    volume = Decimal(volume_mm3) / STORAGE_UNIT_MM3[rates.unit]
    amount = round_half_up(Decimal(rate) * volume * months)
    note = (
        f"{market.value} storage: {volume_mm3} mm3{assumed} = {volume:.6f} {rates.unit} x "
        f"{rate} per {rates.unit} per month ({size}, {rates.season(on).replace('_', '-')}) "
        f"x {months} month(s)"
    )
    return amount, note


def _card_fee(
    buy: MarketQuote, sell: MarketQuote, schedule: FeeSchedule, on: date, estimates: set[str]
) -> int:
    """The sell market's card fee for the product's size tier (sell quote's size, else the
    buy quote's); notes what was estimated."""
    card = schedule.fba_card(sell.market, on)
    weight = sell.package_weight_g if sell.package_weight_g is not None else buy.package_weight_g
    dims = sell.package_dims_mm or buy.package_dims_mm
    index, guessed = _match_tier(schedule.fba_tiers, weight, dims)
    estimates.update(guessed)
    estimates.add("fba_fee_from_card")
    if not card.sourced.verified:
        estimates.add("unverified:fba_card")
    tier = schedule.fba_tiers[index]
    low_price = schedule.low_price_rule(sell.market, on)
    if (
        low_price is not None
        and sell.sell_price is not None
        and sell.sell_price <= low_price.max_price_minor
        and weight is not None
        and low_price.covers(tier.size, weight)
    ):
        estimates.add("low_price_fba_rate_not_applied")
    return card.fees_minor[index]
