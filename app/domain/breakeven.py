"""Break-even prices of an ASIN: per market, the highest buy price and the lowest sell price at
which some route still opens, and the Keepa tracking thresholds they give (issue 11).

Pure: no I/O, no clock; the time the prices would be seen at comes in as ``at``.

**What "opens" means.** Exactly the detector's decision for a quote of the market carrying the
price: :func:`hypothetical_quote` is the market's stored quote with its buy (or sell) price
replaced, observed at ``at`` (every other field kept); the routes are those between it and
the other markets' quotes that :func:`app.domain.detection.fresh_quotes` keeps (measured as
:func:`app.domain.asin_state.apply_quote` measures it for that quote); a route opens when
:func:`app.domain.fees.price_route` gives a breakdown that fails no threshold of the profile
(``RouteBreakdown.is_opportunity``), so ``apply_quote`` of that quote on an ASIN with no open
route publishes ``opened`` for it. A route the fee schedule cannot price opens nothing.

**The bounds** (:class:`PriceBound`), over every price from 1 to
:data:`~app.domain.keepa_prices.MAX_PRICE_MINOR` (larger prices are rejected as corrupt):

* ``buy_max``: the highest buy price at which some route buying in the market (to any other
  market with a sell price) opens; ``sell_min``: the lowest sell price at which some route
  selling there (from any other market with a buy price) opens. No price on the far side of
  a bound opens any route: the bound is the extreme of the whole profitable set, not the
  boundary nearest the current price.
* ``all_open_from``: the price from which every price to the end of the range on the
  profitable side (``1 .. buy_max``, ``sell_min .. MAX_PRICE_MINOR``) opens some route, and
  ``contiguous`` when that is the bound itself: the profitable set is one interval. It is not
  always: rounding makes the profit dip by a cent here and there (each line is rounded on its
  own), and a referral fee whose rate applies to the whole price jumps at a tier bound (8 % up
  to EUR 10.00, 15 % above), so a sell price just above it can lose what a lower one earns.
  The bound stays the extreme of the whole set; the tracking thresholds use it (a crossing
  into a gap notifies for nothing, a crossing into the set is never missed).
* ``None`` when no price opens a route: no counterpart quote (or only stale ones), a threshold
  no price can meet (``max_sales_rank``), routes the fee schedule cannot price.
* Who sells the buy offer changes the purchase VAT when the profile recovers VAT only with an
  invoice that third parties may not give (:func:`app.domain.fees.purchase_vat_recoverable`):
  ``buy_max`` is for a third party's offer, ``amazon_buy_max`` for Amazon's own (the same
  bound when the seller changes nothing).

**How they are found** without re-implementing the fee math: a search over integer prices
that evaluates the real :func:`~app.domain.fees.price_route` on a few prices and bounds the
rest with facts about the breakdown, each checked by a property test
(``tests/unit/domain/test_breakeven.py``): as either price rises, the net sell price ``N``
(EUR cents) and the sum ``D`` of the cost lines and the net buy price (so ``profit = N - D``)
never fall, and neither does the investment. So on a price interval ``[lo, hi]`` every profit
is at most ``N(hi) - D(lo)`` and at least ``N(lo) - D(hi)``, which, against the profile's
thresholds (profit >= ``min_profit``, profit >= ``min_roi`` x investment), rules out or
proves a whole interval from its two ends. One exception, absorbed by a slack of
:data:`COST_SLACK_EUR_CENTS`: with a currency-conversion fee on the payout of a sale, a step
of the sell price that raises Amazon's fees lowers that fee, and the lines, converted and
rounded one by one, can make ``D`` drop by a cent. Intervals are split where a straight line
through the ends puts the decision: an ASIN quoted on five markets costs about 250
evaluations, 16 ms on one core (``bench/breakeven_timing.py``; docs/pricing.md, "Break-even
prices").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from fractions import Fraction
from typing import Literal, NamedTuple

from app.domain.detection import Pricing, fresh_quotes
from app.domain.envelope import BUY_PRICE_FALLBACK, BUY_PRICE_TYPES, SELL_PRICE_TYPES
from app.domain.fee_schedule import FeeScheduleGapError
from app.domain.fees import price_route, purchase_vat_recoverable
from app.domain.keepa_prices import MAX_PRICE_MINOR, PriceType
from app.domain.markets import Market, Route
from app.domain.money import Currency, Money
from app.domain.policy import DetectionPolicy
from app.domain.profile import SellerProfile
from app.domain.quote import MarketQuote
from app.domain.utc import require_utc

__all__ = [
    "COST_SLACK_EUR_CENTS",
    "DEFAULT_MAX_PROBES",
    "MIN_PRICE_MINOR",
    "TRACKING_PRICE_TYPES",
    "Breakeven",
    "PriceBound",
    "Side",
    "TrackingPriceTypes",
    "TrackingThreshold",
    "breakevens",
    "hypothetical_quote",
    "market_breakeven",
    "tracking_thresholds",
]

Side = Literal["buy", "sell"]
#: Which Keepa price types a tracking's thresholds watch (:func:`tracking_thresholds`):
#: ``marketplace`` the ones a quote's prices come from, ``regular`` Keepa's regular types only
#: (``AMAZON`` and ``NEW``: a tenth of the refill-rate cost, app.keepa.tracking.cost).
TrackingPriceTypes = Literal["regular", "marketplace"]
TRACKING_PRICE_TYPES: tuple[TrackingPriceTypes, ...] = ("regular", "marketplace")

#: The lowest price searched (a price of 0 is no price: Keepa's current values are > 0).
MIN_PRICE_MINOR = 1
#: How far ``D`` (costs + net buy, EUR cents) may fall as a price rises when the profile has a
#: currency-conversion fee (see the module doc); 0 without one.
COST_SLACK_EUR_CENTS = 3
#: Evaluations allowed per route and phase (finding a bound, proving it contiguous): a guard
#: against a profit that stays within the slack of the threshold over a long price range,
#: never reached with the shipped schedule (a search takes a few dozen).
DEFAULT_MAX_PROBES = 2_000

#: Cents a straight line through two evaluations may be off at a price between them (every
#: line is rounded on its own): the next proof of an open run is aimed this far inside what
#: the line says (1 took the fewest evaluations on the bench's sample).
_ROUNDING = 1
_SALES_RANK = "max_sales_rank"  # the one threshold no price changes (the sell quote's rank)


@dataclass(frozen=True, slots=True)
class PriceBound:
    """One break-even price of one market (module doc)."""

    price: Money
    #: The routes that open at :attr:`price` (keys, ``"DE:FR"``).
    routes: tuple[str, ...]
    #: From this price on, every price to the end of the range on the profitable side (up to
    #: ``MAX_PRICE_MINOR`` from a sell bound, down to 1 from a buy bound) opens some route:
    #: :attr:`price` itself when the profitable set is one interval; None when the end of the
    #: range opens nothing (or the proof ran out of evaluations).
    all_open_from: Money | None

    @property
    def contiguous(self) -> bool:
        """Every price from :attr:`price` to the end of the range on the profitable side
        opens some route: the profitable set is one interval."""
        return self.all_open_from == self.price


@dataclass(frozen=True, slots=True)
class Breakeven:
    """The break-even prices of one market of one ASIN, in that market's currency."""

    asin: str
    market: Market
    #: Highest buy price of a third party's offer that opens a route buying here.
    buy_max: PriceBound | None
    #: Highest buy price of Amazon's own offer that opens a route buying here.
    amazon_buy_max: PriceBound | None
    #: Lowest sell price that opens a route selling here.
    sell_min: PriceBound | None
    #: When the first counterpart quote the bounds rely on becomes stale (its ``observed_at``
    #: + the policy's ``stale_after``): the bounds must be recomputed by then. None without
    #: counterparts.
    fresh_until: datetime | None
    #: Routes the fee schedule cannot price (route key -> why): they open at no price.
    unpriced: dict[str, str] = field(default_factory=dict)
    #: Routes whose search ran out of evaluations (:data:`DEFAULT_MAX_PROBES`): left out.
    undetermined: tuple[str, ...] = ()

    @property
    def currency(self) -> Currency:
        return self.market.currency


def hypothetical_quote(
    quote: MarketQuote, side: Side, price_minor: int, at: datetime, *, amazon_offer: bool = False
) -> MarketQuote:
    """``quote`` with its buy (``side="buy"``) or sell price replaced by ``price_minor``,
    observed and fetched at ``at`` (or at the quote's own ``observed_at`` when that is later,
    so :func:`app.domain.asin_state.apply_quote` accepts it); every other field is kept.

    For a buy price, ``amazon_offer`` says whose offer it is: the ``AMAZON`` entry of
    ``prices`` is set to the price (Amazon's offer) or removed (a third party's): that entry is
    what tells the detector (:func:`app.domain.fees.purchase_vat_recoverable`)."""
    seen = max(require_utc(at, "at"), quote.observed_at)
    if side == "sell":
        return replace(quote, sell_price=price_minor, observed_at=seen, fetched_at=seen)
    prices = dict(quote.prices)
    if amazon_offer:
        prices[PriceType.AMAZON.name] = price_minor
    else:
        prices.pop(PriceType.AMAZON.name, None)
    return replace(quote, buy_price=price_minor, prices=prices, observed_at=seen, fetched_at=seen)


class _OutOfProbesError(Exception):
    """A route search used up its evaluations."""


class _Probe(NamedTuple):
    opens: bool
    dead: bool  # fails a threshold no price changes
    net_sell: int  # N, EUR cents
    costs: int  # D = N - profit, EUR cents
    investment: int  # EUR cents


class _RouteSearch:
    """Evaluations of one route with the price of one side of ``quote`` replaced."""

    __slots__ = (
        "_at",
        "_counterpart",
        "_left",
        "_memo",
        "_min_profit",
        "_min_roi",
        "_pricing",
        "_quote",
        "amazon_offer",
        "route",
        "side",
        "slack",
    )

    def __init__(
        self,
        quote: MarketQuote,
        counterpart: MarketQuote,
        side: Side,
        at: datetime,
        pricing: Pricing,
        *,
        amazon_offer: bool,
    ) -> None:
        self._quote = quote
        self._counterpart = counterpart
        self.side = side
        self._at = at
        self._pricing = pricing
        self.amazon_offer = amazon_offer
        if side == "buy":
            self.route = Route(quote.market, counterpart.market)
        else:
            self.route = Route(counterpart.market, quote.market)
        thresholds = pricing.profile.thresholds
        self._min_profit = thresholds.min_profit_eur_cents
        self._min_roi = Fraction(thresholds.min_roi)
        self.slack = _cost_slack(pricing.profile)
        self._memo: dict[int, _Probe] = {}
        self._left = DEFAULT_MAX_PROBES

    def budget(self, probes: int) -> None:
        self._left = probes

    def probe(self, price: int) -> _Probe:
        """The detector's verdict at ``price`` and the figures the bounds use; raises
        :class:`FeeScheduleGapError` for a route the schedule cannot price."""
        known = self._memo.get(price)
        if known is not None:
            return known
        if self._left <= 0:
            raise _OutOfProbesError(self.route.key)
        self._left -= 1
        quote = hypothetical_quote(
            self._quote, self.side, price, self._at, amazon_offer=self.amazon_offer
        )
        buy, sell = (quote, self._counterpart) if self.side == "buy" else (self._counterpart, quote)
        fx, profile, schedule = self._pricing.fx, self._pricing.profile, self._pricing.schedule
        breakdown = price_route(buy, sell, fx, profile, schedule)
        assert breakdown is not None  # both prices are set
        found = _Probe(
            opens=breakdown.is_opportunity,
            dead=_SALES_RANK in breakdown.failed_thresholds,
            net_sell=breakdown.net_sell_eur_cents,
            costs=breakdown.net_sell_eur_cents - breakdown.profit_eur_cents,
            investment=breakdown.investment_eur_cents,
        )
        self._memo[price] = found
        return found

    def need(self, investment: int) -> Fraction:
        """The least profit the thresholds accept with that investment."""
        return max(Fraction(self._min_profit), self._min_roi * investment)

    def may_open(self, lo: _Probe, hi: _Probe) -> bool:
        """False when no price between the prices of ``lo`` and ``hi`` can open the route."""
        if lo.dead or hi.dead or hi.investment <= 0:
            return False
        best = hi.net_sell - lo.costs + self.slack
        return best >= self._min_profit and best >= self._min_roi * lo.investment

    def all_open(self, lo: _Probe, hi: _Probe) -> bool:
        """True when every price between the prices of ``lo`` and ``hi`` opens the route."""
        if not (lo.opens and hi.opens) or lo.investment <= 0:
            return False
        worst = lo.net_sell - hi.costs - self.slack
        return worst >= self._min_profit and worst >= self._min_roi * hi.investment

    def margin(self, probe: _Probe) -> Fraction:
        return probe.net_sell - probe.costs - self.need(probe.investment)


def _cost_slack(profile: SellerProfile) -> int:
    return COST_SLACK_EUR_CENTS if profile.fx_fee_rate > 0 else 0


def _near_part_end(s: _RouteSearch, a: int, b: int, ascending: bool) -> int:
    """Where to split ``[a, b]`` (its near end does not open): the far end of the largest
    near part a straight line through the two ends says the bounds rule out. Ascending, the
    near part is ``[a, m]`` (``a <= m < b``), descending ``[m, b]`` (``a < m <= b``); the near
    end alone when the line says nothing can be ruled out."""
    pa, pb = s.probe(a), s.probe(b)
    if ascending:
        # [a, m] is ruled out when N(m) - D(a) + slack < need(inv(a)).
        headroom = -s.margin(pa) - s.slack - 1  # N, rounded at both ends: a cent off at most
        rise = Fraction(pb.net_sell - pa.net_sell, b - a)
        if headroom <= 0:
            return a
        if rise <= 0:
            return b - 1
        return min(b - 1, a + max(0, math.ceil(headroom / rise) - 1))
    # [m, b] is ruled out when N(b) - D(m) + slack < need(inv(m)).
    headroom = -s.margin(pb) - s.slack
    at_a = pb.net_sell - pa.costs + s.slack - s.need(pa.investment)
    rise = (at_a + headroom) / (b - a)
    if headroom <= 0:
        return b
    if rise <= 0:
        return a + 1
    return max(a + 1, b - max(0, math.ceil(headroom / rise) - 1))


def _first_open(s: _RouteSearch, lo: int, hi: int, ascending: bool) -> int | None:
    """The lowest (``ascending``) or highest price in ``[lo, hi]`` that opens the route."""
    pending = [(lo, hi)]
    while pending:
        a, b = pending.pop()
        while True:
            near, far = (a, b) if ascending else (b, a)
            p_near = s.probe(near)
            if p_near.dead:
                return None
            if p_near.opens:
                return near
            if a == b:
                break
            p_far = s.probe(far)
            if not s.may_open(*((p_near, p_far) if ascending else (p_far, p_near))):
                break
            if b - a == 1:
                if p_far.opens:
                    return far
                break
            m = _near_part_end(s, a, b, ascending)
            if m == near:  # only the near end is ruled out
                a, b = (a + 1, b) if ascending else (a, b - 1)
                continue
            p_m = s.probe(m)
            if ascending:
                if not s.may_open(p_near, p_m):
                    a = m  # [a, m] ruled out: m does not open either
                else:
                    pending.append((m + 1, b))
                    b = m
            elif not s.may_open(p_m, p_near):
                b = m
            else:
                pending.append((a, m - 1))
                a = m
    return None


def _extend(s: _RouteSearch, cur: int, limit: int, ascending: bool) -> int:
    """The farthest price ``q`` towards ``limit`` such that the bounds prove every price
    between ``cur`` (which opens) and ``q`` opens the route; ``cur`` when none."""
    p_cur = s.probe(cur)
    margin = s.margin(p_cur) - s.slack
    if margin < 0:
        return cur
    q = limit
    while q != cur:
        p_q = s.probe(q)
        lo, hi = (p_cur, p_q) if ascending else (p_q, p_cur)
        if s.all_open(lo, hi):
            return q
        # Where a straight line through cur and q says the proof stops holding.
        if ascending:  # N(cur) - D(q) - slack >= need(inv(q))
            at_q = p_cur.net_sell - p_q.costs - s.slack - s.need(p_q.investment)
        else:  # N(q) - D(cur) - slack >= need(inv(cur))
            at_q = p_q.net_sell - p_cur.costs - s.slack - s.need(p_cur.investment)
        span = abs(q - cur)
        fall = (margin - at_q) / span
        if fall <= 0:
            steps = span // 2
        else:
            steps = min(span - 1, math.floor(max(Fraction(0), margin - _ROUNDING) / fall))
        q = cur + steps if ascending else cur - steps
    return cur


def _union_first(searches: list[_RouteSearch], lo: int, hi: int, ascending: bool) -> int | None:
    """The lowest (``ascending``) or highest price in ``[lo, hi]`` that opens one of the
    routes: each route searches only where it would beat the best so far."""
    best: int | None = None
    for s in searches:
        a, b = lo, hi
        if best is not None:
            a, b = (a, best - 1) if ascending else (best + 1, b)
        if a <= b and (found := _first_open(s, a, b, ascending)) is not None:
            best = found
    return best


def _all_open_from(searches: list[_RouteSearch], start: int, ascending: bool) -> int | None:
    """The price from which every price to the end of the range on the profitable side
    (up when ``ascending``) opens some route, ``start`` (which opens) at best; None when the
    last price of the range opens nothing. ``searches[0]`` opens at ``start``."""
    limit = MAX_PRICE_MINOR if ascending else MIN_PRICE_MINOR
    step = 1 if ascending else -1
    order = list(searches)  # the route that carries the proof first
    run = cur = start
    while cur != limit:
        lead = order[0]
        if lead.probe(cur).opens:
            reached = _extend(lead, cur, limit, ascending)
            if reached == cur and lead.probe(cur + step).opens:
                reached = cur + step
            if reached != cur:
                cur = reached
                continue
        # The lead route does not carry on from cur: another one may.
        for i, s in enumerate(order[1:], 1):
            if s.probe(cur).opens and (reached := _extend(s, cur, limit, ascending)) != cur:
                order.insert(0, order.pop(i))
                cur = reached
                break
        else:
            cur += step
            opening = next((i for i, s in enumerate(order) if s.probe(cur).opens), None)
            if opening is None:  # a gap: the run starts again at the next price that opens
                lo, hi = (cur, limit) if ascending else (limit, cur)
                following = _union_first(order, lo, hi, ascending)
                if following is None:
                    return None
                run = cur = following
                opening = next(i for i, s in enumerate(order) if s.probe(cur).opens)
            order.insert(0, order.pop(opening))
    return run


def _side_bound(
    quote: MarketQuote,
    side: Side,
    counterparts: list[MarketQuote],
    at: datetime,
    pricing: Pricing,
    *,
    amazon_offer: bool,
    max_probes: int,
    unpriced: dict[str, str],
    undetermined: list[str],
) -> PriceBound | None:
    ascending = side == "sell"
    live: list[_RouteSearch] = []
    best: int | None = None
    for counterpart in counterparts:
        s = _RouteSearch(quote, counterpart, side, at, pricing, amazon_offer=amazon_offer)
        s.budget(max_probes)
        try:
            if s.probe(MIN_PRICE_MINOR if ascending else MAX_PRICE_MINOR).dead:
                continue  # a threshold no price meets
            lo, hi = MIN_PRICE_MINOR, MAX_PRICE_MINOR
            if best is not None:
                lo, hi = (lo, best - 1) if ascending else (best + 1, hi)
            found = _first_open(s, lo, hi, ascending) if lo <= hi else None
        except FeeScheduleGapError as exc:
            unpriced[s.route.key] = str(exc)
            continue
        except _OutOfProbesError:
            if s.route.key not in undetermined:
                undetermined.append(s.route.key)
            continue
        live.append(s)
        if found is not None:
            best = found
    if best is None:
        return None
    for s in live:
        s.budget(max_probes)  # a new budget for the proof: each has at least one left for best
    opening = [s for s in live if s.probe(best).opens]
    try:
        solid = _all_open_from(opening + [s for s in live if s not in opening], best, ascending)
    except _OutOfProbesError:
        solid = None  # not proven
    return PriceBound(
        price=Money(best, quote.currency),
        routes=tuple(s.route.key for s in opening),
        all_open_from=None if solid is None else Money(solid, quote.currency),
    )


def market_breakeven(
    market: Market,
    quotes: Mapping[Market, MarketQuote],
    policy: DetectionPolicy,
    pricing: Pricing,
    at: datetime,
    *,
    max_probes: int = DEFAULT_MAX_PROBES,
) -> Breakeven:
    """The break-even prices of ``market`` (which must have a quote in ``quotes``, the ASIN's
    latest quote per market) for a price seen at ``at`` (module doc)."""
    quote = quotes[market]
    seen = hypothetical_quote(quote, "sell", MIN_PRICE_MINOR, at)
    fresh = fresh_quotes({**quotes, market: seen}, policy.stale_after, as_of=seen.fetched_at)
    others = [fresh[m] for m in Market if m in fresh and m is not market]
    fx = pricing.fx
    sellers = sorted(
        (q for q in others if q.sell_price is not None),
        key=lambda q: -fx.to_eur_cents(q.sell_price or 0, q.currency),
    )
    buyers = sorted(
        (q for q in others if q.buy_price is not None),
        key=lambda q: fx.to_eur_cents(q.buy_price or 0, q.currency),
    )
    unpriced: dict[str, str] = {}
    undetermined: list[str] = []

    def bound(side: Side, counterparts: list[MarketQuote], amazon: bool) -> PriceBound | None:
        return _side_bound(
            quote,
            side,
            counterparts,
            at,
            pricing,
            amazon_offer=amazon,
            max_probes=max_probes,
            unpriced=unpriced,
            undetermined=undetermined,
        )

    buy_max = bound("buy", sellers, False)
    profile = pricing.profile
    seller_matters = purchase_vat_recoverable(profile, amazon_offer=True) != (
        purchase_vat_recoverable(profile, amazon_offer=False)
    )
    amazon_buy_max = bound("buy", sellers, True) if seller_matters else buy_max
    sell_min = bound("sell", buyers, False)
    used = [*sellers, *buyers]
    fresh_until = min(q.observed_at for q in used) + policy.stale_after if used else None
    return Breakeven(
        asin=quote.asin,
        market=market,
        buy_max=buy_max,
        amazon_buy_max=amazon_buy_max,
        sell_min=sell_min,
        fresh_until=fresh_until,
        unpriced=unpriced,
        undetermined=tuple(undetermined),
    )


def breakevens(
    quotes: Mapping[Market, MarketQuote],
    policy: DetectionPolicy,
    pricing: Pricing,
    at: datetime,
    *,
    max_probes: int = DEFAULT_MAX_PROBES,
) -> dict[Market, Breakeven]:
    """The break-even prices of every market that has a quote in ``quotes`` (one ASIN's latest
    quote per market, as the detector holds them), in :class:`Market` order, for prices seen
    at ``at``. A market without a quote has none: there is no stored quote to carry a price.
    Raises ``ValueError`` for quotes of different ASINs or filed under another market."""
    if max_probes < 1:
        raise ValueError(f"max_probes must be >= 1, got {max_probes}")
    asins = {q.asin for q in quotes.values()}
    if len(asins) > 1:
        raise ValueError(f"quotes of different ASINs: {sorted(asins)}")
    for market, quote in quotes.items():
        if quote.market is not market:
            raise ValueError(f"the quote of {quote.market.value} is filed under {market.value}")
    return {
        m: market_breakeven(m, quotes, policy, pricing, at, max_probes=max_probes)
        for m in Market
        if m in quotes
    }


@dataclass(frozen=True, slots=True)
class TrackingThreshold:
    """One threshold of a Keepa tracking: notify when the price of ``price_type`` (the index
    of Keepa's ``csvType``) in ``market`` falls below (``is_drop``) or rises above ``value``,
    in that market's currency."""

    market: Market
    price_type: PriceType
    value: Money
    is_drop: bool

    @property
    def csv_type(self) -> int:
        return int(self.price_type)


#: The price types a third party's buy offer can show up in: the ones a quote's buy price is
#: the lowest of, but Amazon's, and the fallback (app.domain.envelope).
_THIRD_PARTY_BUY_TYPES: tuple[PriceType, ...] = (
    *(t for t in BUY_PRICE_TYPES if t is not PriceType.AMAZON),
    BUY_PRICE_FALLBACK,
)

#: Per mode: the drop types of a third party's buy offer (``buy_max``), of Amazon's
#: (``amazon_buy_max``), and the rise types of the sell price (``sell_min``).
_MODE_TYPES: dict[
    TrackingPriceTypes,
    tuple[tuple[PriceType, ...], tuple[PriceType, ...], tuple[PriceType, ...]],
] = {
    "marketplace": (_THIRD_PARTY_BUY_TYPES, (PriceType.AMAZON,), SELL_PRICE_TYPES),
    "regular": ((PriceType.NEW,), (PriceType.AMAZON,), (PriceType.NEW,)),
}


def tracking_thresholds(
    results: Iterable[Breakeven], price_types: TrackingPriceTypes
) -> list[TrackingThreshold]:
    """The thresholds that make Keepa notify when a price crosses into the profitable side of
    a break-even (module doc), per market in the order given, on the price types of
    ``price_types``.

    ``marketplace``: the price types the quote's prices come from, a complete trigger:

    * a drop below ``buy_max + 1`` (that is, to ``buy_max`` or less) of every price type a
      quote's buy price can come from (:data:`app.domain.envelope.BUY_PRICE_TYPES` and the
      fallback ``NEW``): the buy price is the lowest of them, so it cannot reach the bound
      without one of them crossing; ``AMAZON`` with ``amazon_buy_max``;
    * a rise above ``sell_min - 1`` (to ``sell_min`` or more) of every price type the sell
      price can come from (:data:`app.domain.envelope.SELL_PRICE_TYPES`).

    ``regular``: Keepa's regular price types only (a tenth of the cost):

    * buy side, still complete: a drop of ``AMAZON`` below ``amazon_buy_max + 1`` and of
      ``NEW`` below ``buy_max + 1``. Keepa's ``NEW`` is the lowest new offer of the market,
      Amazon's included, without shipping, so at one moment it is at most ``NEW_FBA`` and
      ``NEW_FBM_SHIPPING`` (and it is the fallback itself): a third party's buy price cannot
      reach ``buy_max`` without ``NEW`` doing so, an Amazon buy price is ``AMAZON``
      (docs/tracking.md, "Price types": when this holds);
    * sell side, a proxy: a rise of ``NEW`` above ``sell_min - 1``. Every new offer is then at
      ``sell_min`` or more, so the Buy Box (a new offer, with shipping) is too: the trigger
      never fires for nothing, but it misses a Buy Box rise while a cheaper offer keeps
      ``NEW`` below the bound (polling still sees it).

    The value is the first price on the unprofitable side, so that a strict comparison by
    Keepa ("below", "above") still notifies at the bound itself; with a non-strict one it
    notifies one minor unit early, which costs one re-evaluation. Every price on the other
    side of a bound opens nothing (module doc), so no opening is missed; a bound that is not
    ``contiguous`` can notify for a price that opens nothing. Values are in the market's own
    currency: Keepa reads them in the tracking's main currency unless told otherwise.
    """
    third_party, amazon, sell = _MODE_TYPES[price_types]
    found: list[TrackingThreshold] = []
    for result in results:
        market = result.market
        for bound, types in ((result.amazon_buy_max, amazon), (result.buy_max, third_party)):
            if bound is not None:
                value = replace(bound.price, amount_minor=bound.price.amount_minor + 1)
                found.extend(TrackingThreshold(market, t, value, True) for t in types)
        if result.sell_min is not None:
            price = result.sell_min.price
            value = replace(price, amount_minor=price.amount_minor - 1)
            found.extend(TrackingThreshold(market, t, value, False) for t in sell)
    return found
