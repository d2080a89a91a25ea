"""Would it really sell? The quality signals of an opportunity's sell market, read from the
Keepa product of that market (the mapping :mod:`app.domain.envelope` parses).

Pure: no I/O, no clock. Every field Keepa does not give (absent, ``null``, a ``-1``/``-2``
sentinel, a malformed value) is ``None``, "unknown", never zero; a signal never raises (it
is metadata: a quirk must not cost a quote). Prices are minor units of the market's
currency, like the quote's; the expected monthly profit is EUR cents, like the profit it
multiplies. The Keepa fields, their sources and the methods: docs/signals.md.

* sell-price stability (:class:`PriceStability`): the current value of the sell price type
  against its 30- and 90-day weighted means (``stats.avg30``/``stats.avg90``), its 90-day
  low/high (``stats.minInInterval``/``maxInInterval``: the products are requested with
  ``stats=90``, :data:`app.domain.keepa_prices.STATS_DAYS`), and a spike flag:
  ``current > avg90 x (1 + spike_share)``;
* demand (:class:`Demand`): sales rank, ``stats.salesRankDrops30``/``90``, ``monthlySold``
  and an estimated monthly unit sales figure (:func:`estimate_monthly_sales`);
* competition (:class:`Competition`): the new-offer count (COUNT_NEW), whether Amazon
  itself sells, and Amazon's buy box share (``stats.buyBoxStats``);
* restrictions (:class:`Restrictions`): hazardous material, adult product, heat sensitive;
* expected monthly profit (:func:`opportunity_signals`): profit per unit x the estimated
  sales shared equally by the new offers and the newcomer, ``sales / (offers + 1)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Final, Literal

from app.domain.errors import InvalidEnvelope
from app.domain.keepa_prices import (
    MAX_PRICE_MINOR,
    NO_OFFER,
    PriceType,
    current_price,
    is_int,
    sales_rank,
)
from app.domain.markets import Market
from app.domain.money import round_half_up

__all__ = [
    "Competition",
    "Demand",
    "MarketSignals",
    "OpportunitySignals",
    "PriceStability",
    "Restrictions",
    "SalesEstimateMethod",
    "estimate_monthly_sales",
    "expected_monthly_units",
    "market_signals",
    "opportunity_signals",
    "with_sell_price",
]

#: How :attr:`Demand.estimated_monthly_sales` was had (:func:`estimate_monthly_sales`).
SalesEstimateMethod = Literal["monthly_sold", "sales_rank_drops_30", "sales_rank_drops_90"]

#: Keepa's ``availabilityAmazon`` codes (``Product.AvailabilityType``): -1 no Amazon offer,
#: 0 in stock, 1 pre-order, 2 unknown, 3 back-order, 4 delayed.
_AMAZON_HAS_AN_OFFER: Final = frozenset({0, 1, 3, 4})
_AMAZON_NO_OFFER: Final = -1


@dataclass(frozen=True, slots=True)
class PriceStability:
    """The sell price type's current value against its history (minor units of the market's
    currency; ``None`` = unknown). ``spike`` is unknown without both ``current`` and
    ``avg90``."""

    price_type: PriceType | None
    current: int | None
    avg30: int | None
    avg90: int | None
    low_90: int | None
    high_90: int | None
    spike: bool | None

    @property
    def current_to_avg30(self) -> Fraction | None:
        """``current / avg30``, exact (1.25 = 25 % above the 30-day average)."""
        return _ratio(self.current, self.avg30)

    @property
    def current_to_avg90(self) -> Fraction | None:
        """``current / avg90``, exact."""
        return _ratio(self.current, self.avg90)


@dataclass(frozen=True, slots=True)
class Demand:
    """How well the product sells in the market. Counts are units; ``None`` = unknown."""

    sales_rank: int | None
    rank_drops_30: int | None
    rank_drops_90: int | None
    monthly_sold: int | None
    estimated_monthly_sales: int | None
    estimate_method: SalesEstimateMethod | None


@dataclass(frozen=True, slots=True)
class Competition:
    """Who else sells the product new in the market. ``amazon_buy_box_share`` is the share
    of the stats interval (0..1, exact from Keepa's percentage) Amazon held the buy box."""

    new_offer_count: int | None
    amazon_sells: bool | None
    amazon_buy_box_share: Decimal | None


@dataclass(frozen=True, slots=True)
class Restrictions:
    """Flags that can keep a seller from selling the product (``None`` = unknown).
    ``hazardous_aspects`` lists the ``aspect`` of each of Keepa's ``hazardousMaterials``."""

    hazardous_material: bool | None
    hazardous_aspects: tuple[str, ...]
    adult_product: bool | None
    heat_sensitive: bool | None

    @property
    def restricted(self) -> bool | None:
        """True when a flag is set, False when every flag is known and clear, else unknown."""
        flags = (self.hazardous_material, self.adult_product, self.heat_sensitive)
        if any(flag is True for flag in flags):
            return True
        return None if any(flag is None for flag in flags) else False


@dataclass(frozen=True, slots=True)
class MarketSignals:
    """The signals of one product on one (sell) market."""

    market: Market
    stability: PriceStability
    demand: Demand
    competition: Competition
    restrictions: Restrictions


@dataclass(frozen=True, slots=True)
class OpportunitySignals:
    """The sell market's signals and what they make of a profit per unit (EUR cents):
    ``expected_monthly_units`` a new seller can expect to sell (exact), and
    ``expected_monthly_profit_eur_cents`` = profit per unit x those units, rounded half up;
    both unknown when the sales estimate or the new-offer count is."""

    sell: MarketSignals
    profit_per_unit_eur_cents: int
    expected_monthly_units: Fraction | None
    expected_monthly_profit_eur_cents: int | None

    @property
    def expected_monthly_units_display(self) -> Decimal | None:
        """:attr:`expected_monthly_units` rounded half up to 2 places, for display only."""
        units = self.expected_monthly_units
        if units is None:
            return None
        return (Decimal(units.numerator) / Decimal(units.denominator)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )


def market_signals(
    product: Mapping[str, Any],
    market: Market,
    sell_price_type: PriceType | None,
    *,
    spike_share: Decimal,
    current_prices: Mapping[str, int] | None = None,
) -> MarketSignals:
    """The signals of ``product`` (a Keepa product of ``market``) whose sell price is taken
    from ``sell_price_type`` (:func:`app.domain.envelope.sell_price_type` of the quote's
    prices; ``None`` when the quote has no sell price). ``spike_share``: the detection
    policy's (:attr:`app.domain.policy.DetectionPolicy.spike_share`).

    ``current_prices``: the quote's current value per price type read (``MarketQuote.prices``,
    by the same :func:`~app.domain.keepa_prices.current_price`) when the caller has them: the
    current sell and Amazon prices are then looked up instead of read again from ``csv``
    (the same values, without parsing the histories twice on the worker's hot path)."""
    csv_value = product.get("csv")
    csv: Sequence[object] = csv_value if isinstance(csv_value, list) else []
    stats_value = product.get("stats")
    stats: Mapping[str, Any] = stats_value if isinstance(stats_value, dict) else {}
    current_value = stats.get("current")
    stats_current = current_value if isinstance(current_value, list) else None
    return MarketSignals(
        market=market,
        stability=_stability(
            csv, stats, stats_current, sell_price_type, spike_share, current_prices
        ),
        demand=_demand(product, csv, stats, stats_current),
        competition=Competition(
            new_offer_count=_new_offer_count(csv, stats_current),
            amazon_sells=_amazon_sells(product, csv, stats_current, current_prices),
            amazon_buy_box_share=_amazon_buy_box_share(stats, market),
        ),
        restrictions=_restrictions(product),
    )


def opportunity_signals(sell: MarketSignals, profit_per_unit_eur_cents: int) -> OpportunitySignals:
    """What ``sell``'s signals make of a profit of ``profit_per_unit_eur_cents`` a unit."""
    units = expected_monthly_units(sell.demand, sell.competition)
    return OpportunitySignals(
        sell=sell,
        profit_per_unit_eur_cents=profit_per_unit_eur_cents,
        expected_monthly_units=units,
        expected_monthly_profit_eur_cents=(
            None if units is None else round_half_up(profit_per_unit_eur_cents * units)
        ),
    )


def with_sell_price(
    signals: MarketSignals,
    sell_price_type: PriceType | None,
    current: int | None,
    *,
    spike_share: Decimal,
) -> MarketSignals:
    """``signals`` with a new current sell price (``current`` of ``sell_price_type``; both
    ``None`` when the quote has no sell price): what a Keepa notification, which carries
    current prices only, changes of a stored quote's signals
    (:mod:`app.domain.notification_merge`).

    The stored averages and 90-day range still describe the sell price type they were read
    for: the spike flag is recomputed with the new price against them. When the sell price
    now comes from another price type (e.g. the buy box was lost and NEW_FBA is sold at),
    the stored statistics are another type's: the stability is unknown but for the current
    price. Demand, competition and restrictions are kept as stored."""
    old = signals.stability
    if sell_price_type is None:
        stability = PriceStability(None, None, None, None, None, None, None)
    elif sell_price_type == old.price_type:
        stability = PriceStability(
            price_type=old.price_type,
            current=current,
            avg30=old.avg30,
            avg90=old.avg90,
            low_90=old.low_90,
            high_90=old.high_90,
            spike=_spike(current, old.avg90, spike_share),
        )
    else:
        stability = PriceStability(sell_price_type, current, None, None, None, None, None)
    return MarketSignals(
        market=signals.market,
        stability=stability,
        demand=signals.demand,
        competition=signals.competition,
        restrictions=signals.restrictions,
    )


def estimate_monthly_sales(
    monthly_sold: int | None, rank_drops_30: int | None, rank_drops_90: int | None
) -> tuple[int, SalesEstimateMethod] | None:
    """Units the product sells a month in the market, and how that was had:

    1. ``monthlySold`` when Keepa has it: Amazon's own "bought in past month" figure for this
       very ASIN (a lower bound Amazon rounds down, e.g. 1000 for "1K+");
    2. else ``salesRankDrops30``: every drop of the sales rank is at least one sale, so the
       drops are a lower bound of the month's sales (several sales between two rank
       readings make one drop);
    3. else ``salesRankDrops90 // 3``: the same lower bound, averaged over 90 days (floored:
       a whole unit, never more than the drops say).

    ``None`` when none is known. A known 0 (no drop) is an estimate of 0, not unknown.
    """
    if monthly_sold is not None:
        return monthly_sold, "monthly_sold"
    if rank_drops_30 is not None:
        return rank_drops_30, "sales_rank_drops_30"
    if rank_drops_90 is not None:
        return rank_drops_90 // 3, "sales_rank_drops_90"
    return None


def expected_monthly_units(demand: Demand, competition: Competition) -> Fraction | None:
    """Units a new seller can expect to sell a month: the estimated monthly sales shared
    equally by the ``new_offer_count`` offers and the newcomer,
    ``sales / (new_offer_count + 1)`` (exact); unknown when either is."""
    sales, offers = demand.estimated_monthly_sales, competition.new_offer_count
    if sales is None or offers is None:
        return None
    return Fraction(sales, offers + 1)


# --- reading Keepa's fields (tolerant: anything unusable is None) -----------------------


def _ratio(numerator: int | None, denominator: int | None) -> Fraction | None:
    if numerator is None or denominator is None:
        return None
    return Fraction(numerator, denominator)


def _price(value: object) -> int | None:
    """A price in minor units: > 0 and not above :data:`MAX_PRICE_MINOR` (-1 "no offer",
    -2 "no data" and 0 are not prices)."""
    return value if is_int(value) and 0 < value <= MAX_PRICE_MINOR else None


def _positive(value: object) -> int | None:
    return value if is_int(value) and value > 0 else None


def _count(value: object) -> int | None:
    """A count: >= 0 (Keepa's -1/-2 say "no data")."""
    return value if is_int(value) and value >= 0 else None


def _indexed(array: object, index: int) -> object:
    if isinstance(array, list) and index < len(array):
        return array[index]
    return None


def _extreme(stats: Mapping[str, Any], name: str, index: int) -> int | None:
    """The value of a ``[keepaMinute, value]`` pair of ``stats[name][index]``."""
    pair = _indexed(stats.get(name), index)
    if isinstance(pair, list) and len(pair) == 2:
        return _price(pair[1])
    return None


def _stability(
    csv: Sequence[object],
    stats: Mapping[str, Any],
    stats_current: Sequence[object] | None,
    price_type: PriceType | None,
    spike_share: Decimal,
    current_prices: Mapping[str, int] | None,
) -> PriceStability:
    if price_type is None:
        return PriceStability(None, None, None, None, None, None, None)
    current = _current(csv, stats_current, price_type, current_prices)
    avg30 = _price(_indexed(stats.get("avg30"), price_type))
    avg90 = _price(_indexed(stats.get("avg90"), price_type))
    return PriceStability(
        price_type=price_type,
        current=current,
        avg30=avg30,
        avg90=avg90,
        low_90=_extreme(stats, "minInInterval", price_type),
        high_90=_extreme(stats, "maxInInterval", price_type),
        spike=_spike(current, avg90, spike_share),
    )


def _spike(current: int | None, avg90: int | None, spike_share: Decimal) -> bool | None:
    """``current > avg90 x (1 + spike_share)``, exact; unknown without either."""
    if current is None or avg90 is None:
        return None
    # exact in integers: share = n / d, current > avg90 x (d + n) / d
    n, d = spike_share.as_integer_ratio()
    return current * d > avg90 * (d + n)


def _demand(
    product: Mapping[str, Any],
    csv: Sequence[object],
    stats: Mapping[str, Any],
    stats_current: Sequence[object] | None,
) -> Demand:
    drops_30 = _count(stats.get("salesRankDrops30"))
    drops_90 = _count(stats.get("salesRankDrops90"))
    # monthlySold is only set when Amazon shows "bought in past month": 0 is "no value".
    monthly_sold = _positive(product.get("monthlySold"))
    estimate = estimate_monthly_sales(monthly_sold, drops_30, drops_90)
    return Demand(
        sales_rank=sales_rank(product, csv, stats_current),
        rank_drops_30=drops_30,
        rank_drops_90=drops_90,
        monthly_sold=monthly_sold,
        estimated_monthly_sales=None if estimate is None else estimate[0],
        estimate_method=None if estimate is None else estimate[1],
    )


def _newest(csv: Sequence[object], index: PriceType) -> int | None:
    """The newest value of the pair history ``csv[index]`` (sentinels included)."""
    entry = _indexed(csv, index)
    if isinstance(entry, list) and entry and len(entry) % 2 == 0 and is_int(entry[-1]):
        return entry[-1]
    return None


def _new_offer_count(csv: Sequence[object], stats_current: Sequence[object] | None) -> int | None:
    """COUNT_NEW now: ``stats.current[11]`` when >= 0, else the newest point of ``csv[11]``
    when >= 0 (like a price: ``stats.current`` wins unless it is a sentinel)."""
    from_stats = _count(_indexed(stats_current, PriceType.COUNT_NEW))
    if from_stats is not None:
        return from_stats
    return _count(_newest(csv, PriceType.COUNT_NEW))


def _current(
    csv: Sequence[object],
    stats_current: Sequence[object] | None,
    price_type: PriceType,
    current_prices: Mapping[str, int] | None,
) -> int | None:
    """The current value of ``price_type``: looked up in ``current_prices`` when given, else
    read (``None`` for a value :func:`current_price` refuses: a signal never raises)."""
    if current_prices is not None:
        return current_prices.get(price_type.name)
    try:
        return current_price(csv, stats_current, price_type)
    except InvalidEnvelope:
        return None


def _amazon_sells(
    product: Mapping[str, Any],
    csv: Sequence[object],
    stats_current: Sequence[object] | None,
    current_prices: Mapping[str, int] | None,
) -> bool | None:
    """Amazon sells the product new in the market: it has a current AMAZON price, or
    ``availabilityAmazon`` says it has an offer (in stock, pre-order, back-order, delayed);
    it does not when ``availabilityAmazon`` is -1 (no Amazon offer) or, without that, the
    AMAZON price type's ``stats.current`` or newest ``csv`` value is -1 (no offer now);
    else unknown."""
    if _current(csv, stats_current, PriceType.AMAZON, current_prices) is not None:
        return True
    availability = product.get("availabilityAmazon")
    if is_int(availability):
        if availability in _AMAZON_HAS_AN_OFFER:
            return True
        if availability == _AMAZON_NO_OFFER:
            return False
    index = PriceType.AMAZON
    if NO_OFFER in (_indexed(stats_current, index), _newest(csv, index)):
        return False
    return None


def _amazon_buy_box_share(stats: Mapping[str, Any], market: Market) -> Decimal | None:
    """Amazon's ``percentageWon`` in ``stats.buyBoxStats`` / 100; 0 when the statistics are
    there without Amazon (it never held the buy box in the interval); unknown without
    ``buyBoxStats`` (only sent when the product was requested with ``buybox`` or ``offers``)
    or with an unusable percentage."""
    buy_box_stats = stats.get("buyBoxStats")
    if not isinstance(buy_box_stats, dict):
        return None
    entry = buy_box_stats.get(market.amazon_seller_id)
    if entry is None:
        return Decimal(0)
    won = entry.get("percentageWon") if isinstance(entry, dict) else None
    if isinstance(won, bool) or not isinstance(won, int | float):
        return None
    try:
        percent = Decimal(str(won))  # the float Keepa sent, as written
    except InvalidOperation:  # pragma: no cover - str() of an int/float is a valid Decimal
        return None
    if not (percent.is_finite() and 0 <= percent <= 100):
        return None
    return percent / 100


def _flag(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _restrictions(product: Mapping[str, Any]) -> Restrictions:
    hazardous = product.get("hazardousMaterials")
    aspects: tuple[str, ...] = ()
    hazardous_material: bool | None = None
    if isinstance(hazardous, list):
        hazardous_material = bool(hazardous)
        aspects = tuple(
            str(entry["aspect"])
            for entry in hazardous
            if isinstance(entry, dict) and isinstance(entry.get("aspect"), str)
        )
    return Restrictions(
        hazardous_material=hazardous_material,
        hazardous_aspects=aspects,
        adult_product=_flag(product.get("isAdultProduct")),
        heat_sensitive=_flag(product.get("isHeatSensitive")),
    )
