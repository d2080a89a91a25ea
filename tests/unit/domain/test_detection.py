"""Detection over DE (Amazon sells at 20.00 EUR) -> FR (buy box at P).

Profit of DE->FR for a FR buy-box price P (see test_pricing for the full breakdown):
  P=4800: 4000 - 720 - 425 - 510 - 1681 = 664
  P=4830: 4025 - 725 - 425 - 510 - 1681 = 684   (referral 724.5 -> 725)
  P=4860: 4050 - 729 - 425 - 510 - 1681 = 705
  P=4900: 4083 - 735 - 425 - 510 - 1681 = 732
  P=4000: 3333 - 600 - 425 - 510 - 1681 = 117   (below the 500 minimum)
"""

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.domain.detection import (
    OpenOpportunity,
    detect,
    diff_opportunities,
    evaluate_all_routes,
    fresh_quotes,
)
from app.domain.fx import FxRates
from app.domain.markets import ALL_ROUTES, Market
from app.domain.policy import PricingPolicy
from app.domain.quote import MarketQuote
from tests.keepa_factory import make_quote

POLICY = PricingPolicy()
FX = FxRates(eur_per_gbp=Decimal("1.17"), as_of=datetime(2025, 3, 1, tzinfo=UTC))
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def de(at: datetime = T0) -> MarketQuote:
    return make_quote(market=Market.DE, amazon=2000, last_update=at)


def fr(price: int | None, at: datetime = T0) -> MarketQuote:
    return make_quote(market=Market.FR, buy_box=price, last_update=at)


def quotes(*items: MarketQuote) -> dict[Market, MarketQuote]:
    return {q.market: q for q in items}


# --- freshness -----------------------------------------------------------------------------


def test_fresh_quotes_uses_event_time_of_the_newest_quote() -> None:
    newest = de(T0)
    boundary = fr(4800, T0 - timedelta(hours=24))  # exactly stale_after older: kept
    stale = make_quote(market=Market.IT, amazon=1, last_update=T0 - timedelta(hours=24, minutes=1))
    fresh = fresh_quotes(quotes(newest, boundary, stale), timedelta(hours=24))
    assert set(fresh) == {Market.DE, Market.FR}


def test_old_quotes_are_fresh_when_all_equally_old() -> None:
    # Quotes from 2012 are not stale: there is no wall clock in the decision.
    old = datetime(2012, 1, 1, tzinfo=UTC)
    fresh = fresh_quotes(quotes(de(old), fr(4800, old)), timedelta(hours=24))
    assert len(fresh) == 2


def test_fresh_quotes_of_nothing() -> None:
    assert fresh_quotes({}, timedelta(hours=1)) == {}


# --- all routes ----------------------------------------------------------------------------


def all_markets(stale: Market | None = None) -> dict[Market, MarketQuote]:
    return {
        m: make_quote(
            market=m,
            amazon=2000,
            buy_box=4800,
            last_update=T0 - timedelta(hours=25) if m is stale else T0,
        )
        for m in Market
    }


def test_all_20_routes_of_5_markets_are_evaluated() -> None:
    evaluations = evaluate_all_routes(all_markets(), POLICY, FX)
    assert [e.route for e in evaluations] == list(ALL_ROUTES)
    for evaluation in evaluations:
        gb = Market.GB in (evaluation.buy_market, evaluation.sell_market)
        # 500 g: 450 + 5 x 12 = 510, + 500 customs on GB routes.
        assert evaluation.breakdown.shipping_eur_cents == (1010 if gb else 510)
    de_fr = evaluations[0]
    assert de_fr.route_key == "DE:FR"
    assert de_fr.profit_eur_cents == 664


def test_stale_market_is_left_out_of_every_route() -> None:
    evaluations = evaluate_all_routes(all_markets(stale=Market.IT), POLICY, FX)
    assert len(evaluations) == 12  # 4 markets x 3
    assert all(Market.IT not in e.route for e in evaluations)


def test_routes_without_prices_are_skipped() -> None:
    # DE has no sell price, FR no buy price: only DE->FR exists.
    evaluations = evaluate_all_routes(quotes(de(), fr(4800)), POLICY, FX)
    assert [e.route_key for e in evaluations] == ["DE:FR"]


# --- transitions ---------------------------------------------------------------------------


def test_open_update_close_lifecycle() -> None:
    open_: dict[str, OpenOpportunity] = {}

    step = detect(quotes(de(), fr(4800)), open_, POLICY, FX, T0)
    assert [(e.event, e.route_key, e.profit_eur_cents) for e in step.events] == [
        ("opened", "DE:FR", 664)
    ]
    opened = step.events[0]
    assert opened.first_seen == opened.event_time == T0
    assert opened.reason is None
    open_ = step.open
    assert open_["DE:FR"].profit_eur_cents == 664

    # +20 (684 vs published 664): below the 50 c material change -> no event.
    step = detect(quotes(de(), fr(4830, T0 + HOUR)), open_, POLICY, FX, T0 + HOUR)
    assert step.events == []
    open_ = step.open
    assert open_["DE:FR"].last_seen == T0 + HOUR
    assert open_["DE:FR"].profit_eur_cents == 664  # still the published figure
    assert open_["DE:FR"].evaluation.profit_eur_cents == 684

    # 705: +21 on the last evaluation, +41 on the published 664 -> still nothing.
    step = detect(quotes(de(), fr(4860, T0 + 2 * HOUR)), open_, POLICY, FX, T0 + 2 * HOUR)
    assert step.events == []
    open_ = step.open

    # 732: +68 on the published 664 -> updated, the drift added up.
    step = detect(quotes(de(), fr(4900, T0 + 3 * HOUR)), open_, POLICY, FX, T0 + 3 * HOUR)
    assert [(e.event, e.profit_eur_cents) for e in step.events] == [("updated", 732)]
    assert step.events[0].first_seen == T0
    assert step.events[0].event_time == T0 + 3 * HOUR
    open_ = step.open
    assert open_["DE:FR"].profit_eur_cents == 732
    assert open_["DE:FR"].first_seen == T0

    # 117 < 500 -> closed with the new figures.
    step = detect(quotes(de(), fr(4000, T0 + 4 * HOUR)), open_, POLICY, FX, T0 + 4 * HOUR)
    [closed] = step.events
    assert (closed.event, closed.reason, closed.profit_eur_cents) == (
        "closed",
        "below_threshold",
        117,
    )
    assert closed.first_seen == T0
    assert closed.sell_price_eur_cents == 4000
    assert step.open == {}

    # Still below: nothing more.
    step = detect(quotes(de(), fr(4000, T0 + 5 * HOUR)), {}, POLICY, FX, T0 + 5 * HOUR)
    assert step.events == []
    assert step.open == {}


def test_material_change_downwards_and_exact_threshold() -> None:
    policy = PricingPolicy(material_change_eur_cents=68)
    step = detect(quotes(de(), fr(4900)), {}, policy, FX, T0)
    # 732 -> 664 is a change of exactly 68: updated (threshold inclusive).
    step = detect(quotes(de(), fr(4800, T0 + HOUR)), step.open, policy, FX, T0 + HOUR)
    assert [(e.event, e.profit_eur_cents) for e in step.events] == [("updated", 664)]


def test_zero_threshold_does_not_repeat_identical_figures() -> None:
    policy = PricingPolicy(material_change_eur_cents=0)
    step = detect(quotes(de(), fr(4800)), {}, policy, FX, T0)
    step = detect(quotes(de(), fr(4800, T0 + HOUR)), step.open, policy, FX, T0 + HOUR)
    assert step.events == []
    step = detect(quotes(de(), fr(4830, T0 + 2 * HOUR)), step.open, policy, FX, T0 + 2 * HOUR)
    assert [e.event for e in step.events] == ["updated"]


def test_closed_because_a_quote_became_stale() -> None:
    step = detect(quotes(de(), fr(4800)), {}, POLICY, FX, T0)
    later = T0 + timedelta(hours=25)
    # Only DE is refreshed; FR (T0) is now 25 h older than the newest quote.
    step = detect(quotes(de(later), fr(4800)), step.open, POLICY, FX, later)
    [closed] = step.events
    assert (closed.event, closed.reason) == ("closed", "stale_quote")
    assert closed.profit_eur_cents == 664  # last known figures
    assert closed.event_time == later
    assert closed.first_seen == T0
    assert step.open == {}


def test_not_stale_at_exactly_stale_after() -> None:
    step = detect(quotes(de(), fr(4800)), {}, POLICY, FX, T0)
    later = T0 + timedelta(hours=24)
    step = detect(quotes(de(later), fr(4800)), step.open, POLICY, FX, later)
    assert step.events == []
    assert step.open["DE:FR"].last_seen == later


def test_closed_because_the_sell_price_disappeared() -> None:
    step = detect(quotes(de(), fr(4800)), {}, POLICY, FX, T0)
    step = detect(quotes(de(), fr(None, T0 + HOUR)), step.open, POLICY, FX, T0 + HOUR)
    [closed] = step.events
    assert (closed.event, closed.reason, closed.profit_eur_cents) == ("closed", "no_price", 664)


def test_closed_without_quotes_defaults_to_no_price() -> None:
    step = detect(quotes(de(), fr(4800)), {}, POLICY, FX, T0)
    events, open_ = diff_opportunities(step.open, [], POLICY, T0 + HOUR)
    assert [(e.event, e.reason) for e in events] == [("closed", "no_price")]
    assert open_ == {}


def test_diff_does_not_modify_its_input_and_keeps_last_seen_monotonic() -> None:
    step = detect(quotes(de(), fr(4800)), {}, POLICY, FX, T0)
    before = dict(step.open)
    evaluations = evaluate_all_routes(quotes(de(), fr(4800)), POLICY, FX)
    events, open_ = diff_opportunities(step.open, evaluations, POLICY, T0 - HOUR)
    assert step.open == before
    assert events == []
    assert open_["DE:FR"].last_seen == T0  # an older event time does not move it back


def test_events_of_several_routes_follow_route_order() -> None:
    step = detect(all_markets(), {}, PricingPolicy(min_profit_eur_cents=0), FX, T0)
    opened = [e.route_key for e in step.events]
    expected = [r.key for r in ALL_ROUTES if r.key in opened]
    assert opened == expected
    assert len(opened) > 1


# --- events and state serialisation --------------------------------------------------------


def test_event_id_is_deterministic() -> None:
    first = detect(quotes(de(), fr(4800)), {}, POLICY, FX, T0).events[0]
    again = detect(quotes(de(), fr(4800)), {}, POLICY, FX, T0).events[0]
    expected = hashlib.sha1(
        b"B0TESTAS1N|DE:FR|opened|2025-03-01T12:00:00Z", usedforsecurity=False
    ).hexdigest()
    assert first.event_id == again.event_id == expected
