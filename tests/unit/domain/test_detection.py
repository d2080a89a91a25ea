"""Detection over DE (Amazon sells at 20.00 EUR) -> FR (buy box at P), priced by
app.domain.fees.price_route with the default seller profile on 2025-03-01.

Profit of DE->FR for a FR buy-box price P (500 g, 200 x 150 x 50 mm: FR card
extra_large_envelope 425; referral 15 % (default category); Digital Services Fee of a
DE-established seller on FR from 2024-10-01 to 2026-03-19: 2 % of the referral + 2 % of the
FBA fee, each rounded; storage of one month in the FR warehouse (March: January-September),
0.0015 m3 x 2865 c/m3 = 4.2975 -> 4; VAT on fees reverse-charged (shown only); inbound
450 + 5 x 12 = 510; net buy 2000 / 1.19 = 1680.67 -> 1681):
  P=4800: 4000 - 720 - 425 - (14 + 9) - 4 - 510 - 1681 = 637   (14.4 -> 14, 8.5 -> 9)
  P=4830: 4025 - 725 - 425 - (15 + 9) - 4 - 510 - 1681 = 656   (referral 724.5 -> 725; 14.5 -> 15)
  P=4860: 4050 - 729 - 425 - (15 + 9) - 4 - 510 - 1681 = 677   (14.58 -> 15)
  P=4900: 4083 - 735 - 425 - (15 + 9) - 4 - 510 - 1681 = 704   (4083.33 -> 4083; 14.7 -> 15)
  P=4000: 3333 - 600 - 425 - (12 + 9) - 4 - 510 - 1681 = 92    (below the 500 minimum)
"""

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.domain.detection import (
    OpenOpportunity,
    Pricing,
    detect,
    diff_opportunities,
    evaluate_all_routes,
    fresh_quotes,
)
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.markets import ALL_ROUTES, Market
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE, SellFulfilment, Thresholds
from app.domain.quote import MarketQuote
from tests.keepa_factory import make_quote

POLICY = DetectionPolicy()
FX = FxRates(eur_per_gbp=Decimal("1.17"), as_of=datetime(2025, 3, 1, tzinfo=UTC))
PRICING = Pricing(FX, DEFAULT_PROFILE, "v-default", default_fee_schedule())
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
    evaluations = evaluate_all_routes(all_markets(), POLICY, PRICING)
    assert [e.route for e in evaluations] == list(ALL_ROUTES)
    for evaluation in evaluations:
        gb = Market.GB in (evaluation.buy_market, evaluation.sell_market)
        # 500 g: inbound 450 + 5 x 12 = 510, and a customs line of 500 on GB routes only.
        inbound, customs = evaluation.line("inbound_shipping"), evaluation.line("customs")
        assert inbound is not None
        assert inbound.eur_cents == 510
        assert (customs.eur_cents if customs else 0) == (500 if gb else 0)
    de_fr = evaluations[0]
    assert de_fr.route_key == "DE:FR"
    assert de_fr.profit_eur_cents == 637


def test_stale_market_is_left_out_of_every_route() -> None:
    evaluations = evaluate_all_routes(all_markets(stale=Market.IT), POLICY, PRICING)
    assert len(evaluations) == 12  # 4 markets x 3
    assert all(Market.IT not in e.route for e in evaluations)


def test_routes_without_prices_are_skipped() -> None:
    # DE has no sell price, FR no buy price: only DE->FR exists.
    evaluations = evaluate_all_routes(quotes(de(), fr(4800)), POLICY, PRICING)
    assert [e.route_key for e in evaluations] == ["DE:FR"]


# --- transitions ---------------------------------------------------------------------------


def test_open_update_close_lifecycle() -> None:
    open_: dict[str, OpenOpportunity] = {}

    step = detect(quotes(de(), fr(4800)), open_, POLICY, PRICING, T0)
    assert [(e.event, e.route_key, e.profit_eur_cents) for e in step.events] == [
        ("opened", "DE:FR", 637)
    ]
    opened = step.events[0]
    assert opened.first_seen == opened.event_time == T0
    assert opened.reason is None
    open_ = step.open
    assert open_["DE:FR"].profit_eur_cents == 637

    # +19 (656 vs published 637): below the 50 c material change -> no event.
    step = detect(quotes(de(), fr(4830, T0 + HOUR)), open_, POLICY, PRICING, T0 + HOUR)
    assert step.events == []
    open_ = step.open
    assert open_["DE:FR"].last_seen == T0 + HOUR
    assert open_["DE:FR"].profit_eur_cents == 637  # still the published figure
    assert open_["DE:FR"].evaluation.profit_eur_cents == 656

    # 677: +21 on the last evaluation, +40 on the published 637 -> still nothing.
    step = detect(quotes(de(), fr(4860, T0 + 2 * HOUR)), open_, POLICY, PRICING, T0 + 2 * HOUR)
    assert step.events == []
    open_ = step.open

    # 704: +67 on the published 637 -> updated, the drift added up.
    step = detect(quotes(de(), fr(4900, T0 + 3 * HOUR)), open_, POLICY, PRICING, T0 + 3 * HOUR)
    assert [(e.event, e.profit_eur_cents) for e in step.events] == [("updated", 704)]
    assert step.events[0].first_seen == T0
    assert step.events[0].event_time == T0 + 3 * HOUR
    open_ = step.open
    assert open_["DE:FR"].profit_eur_cents == 704
    assert open_["DE:FR"].first_seen == T0

    # 92 < 500 -> closed with the new figures (min_profit failed; ROI 92 / 2195 < 15 %).
    step = detect(quotes(de(), fr(4000, T0 + 4 * HOUR)), open_, POLICY, PRICING, T0 + 4 * HOUR)
    [closed] = step.events
    assert (closed.event, closed.reason, closed.profit_eur_cents) == (
        "closed",
        "below_threshold",
        92,
    )
    assert closed.breakdown.failed_thresholds == ("min_profit", "min_roi")
    assert closed.profile_version == "v-default"
    assert closed.first_seen == T0
    assert closed.breakdown.sell_price_eur_cents == 4000
    assert step.open == {}

    # Still below: nothing more.
    step = detect(quotes(de(), fr(4000, T0 + 5 * HOUR)), {}, POLICY, PRICING, T0 + 5 * HOUR)
    assert step.events == []
    assert step.open == {}


def test_material_change_downwards_and_exact_threshold() -> None:
    policy = DetectionPolicy(material_change_eur_cents=67)
    step = detect(quotes(de(), fr(4900)), {}, policy, PRICING, T0)
    # 704 -> 637 is a change of exactly 67: updated (threshold inclusive).
    step = detect(quotes(de(), fr(4800, T0 + HOUR)), step.open, policy, PRICING, T0 + HOUR)
    assert [(e.event, e.profit_eur_cents) for e in step.events] == [("updated", 637)]


def test_zero_threshold_does_not_repeat_identical_figures() -> None:
    policy = DetectionPolicy(material_change_eur_cents=0)
    step = detect(quotes(de(), fr(4800)), {}, policy, PRICING, T0)
    step = detect(quotes(de(), fr(4800, T0 + HOUR)), step.open, policy, PRICING, T0 + HOUR)
    assert step.events == []
    step = detect(quotes(de(), fr(4830, T0 + 2 * HOUR)), step.open, policy, PRICING, T0 + 2 * HOUR)
    assert [e.event for e in step.events] == ["updated"]


def test_closed_because_a_quote_became_stale() -> None:
    step = detect(quotes(de(), fr(4800)), {}, POLICY, PRICING, T0)
    later = T0 + timedelta(hours=25)
    # Only DE is refreshed; FR (T0) is now 25 h older than the newest quote.
    step = detect(quotes(de(later), fr(4800)), step.open, POLICY, PRICING, later)
    [closed] = step.events
    assert (closed.event, closed.reason) == ("closed", "stale_quote")
    assert closed.profit_eur_cents == 637  # last known figures
    assert closed.event_time == later
    assert closed.first_seen == T0
    assert step.open == {}


def test_not_stale_at_exactly_stale_after() -> None:
    step = detect(quotes(de(), fr(4800)), {}, POLICY, PRICING, T0)
    later = T0 + timedelta(hours=24)
    step = detect(quotes(de(later), fr(4800)), step.open, POLICY, PRICING, later)
    assert step.events == []
    assert step.open["DE:FR"].last_seen == later


def test_closed_because_the_sell_price_disappeared() -> None:
    step = detect(quotes(de(), fr(4800)), {}, POLICY, PRICING, T0)
    step = detect(quotes(de(), fr(None, T0 + HOUR)), step.open, POLICY, PRICING, T0 + HOUR)
    [closed] = step.events
    assert (closed.event, closed.reason, closed.profit_eur_cents) == ("closed", "no_price", 637)


def test_closed_without_quotes_defaults_to_no_price() -> None:
    step = detect(quotes(de(), fr(4800)), {}, POLICY, PRICING, T0)
    events, open_ = diff_opportunities(step.open, [], POLICY, "v-default", T0 + HOUR)
    assert [(e.event, e.reason) for e in events] == [("closed", "no_price")]
    assert open_ == {}


def test_diff_does_not_modify_its_input_and_keeps_last_seen_monotonic() -> None:
    step = detect(quotes(de(), fr(4800)), {}, POLICY, PRICING, T0)
    before = dict(step.open)
    evaluations = evaluate_all_routes(quotes(de(), fr(4800)), POLICY, PRICING)
    events, open_ = diff_opportunities(step.open, evaluations, POLICY, "v-default", T0 - HOUR)
    assert step.open == before
    assert events == []
    assert open_["DE:FR"].last_seen == T0  # an older event time does not move it back


def test_events_of_several_routes_follow_route_order() -> None:
    anything = replace(DEFAULT_PROFILE, thresholds=Thresholds(min_profit_eur_cents=0))
    step = detect(all_markets(), {}, POLICY, replace(PRICING, profile=anything), T0)
    opened = [e.route_key for e in step.events]
    expected = [r.key for r in ALL_ROUTES if r.key in opened]
    assert opened == expected
    assert len(opened) > 1


# --- events and state serialisation --------------------------------------------------------


def test_event_id_is_deterministic() -> None:
    first = detect(quotes(de(), fr(4800)), {}, POLICY, PRICING, T0).events[0]
    again = detect(quotes(de(), fr(4800)), {}, POLICY, PRICING, T0).events[0]
    expected = hashlib.sha1(
        b"B0TESTAS1N|DE:FR|opened|2025-03-01T12:00:00Z", usedforsecurity=False
    ).hexdigest()
    assert first.event_id == again.event_id == expected


# --- the profile decides -------------------------------------------------------------------


def test_the_profile_thresholds_decide_and_the_event_carries_its_version() -> None:
    # 637 profit, ROI 637 / (1681 + 510 + 4) = 0.2902: opens with the default thresholds ...
    assert [e.event for e in detect(quotes(de(), fr(4800)), {}, POLICY, PRICING, T0).events] == [
        "opened"
    ]
    # ... not with a minimum ROI of 30 %, and the breakdown says which threshold failed.
    picky = replace(DEFAULT_PROFILE, thresholds=Thresholds(min_roi=Decimal("0.30")))
    step = detect(quotes(de(), fr(4800)), {}, POLICY, replace(PRICING, profile=picky), T0)
    assert step.events == []
    [evaluation] = step.evaluations
    assert evaluation.failed_thresholds == ("min_roi",)


def test_a_route_the_schedule_cannot_price_is_reported_not_raised() -> None:
    # EFN from DE to GB has no figure in the schedule (UK-EU border): no evaluation of the
    # routes selling on GB, reported in `unpriced`; the other routes are priced.
    efn_gb = replace(
        DEFAULT_PROFILE,
        fulfilment={**DEFAULT_PROFILE.fulfilment, Market.GB: SellFulfilment(mode="efn")},
    )
    step = detect(all_markets(), {}, POLICY, replace(PRICING, profile=efn_gb), T0)
    assert sorted(step.unpriced) == ["DE:GB", "ES:GB", "FR:GB", "IT:GB"]
    assert all(e.sell_market is not Market.GB for e in step.evaluations)
    assert any(e.buy_market is Market.GB for e in step.evaluations)
