"""Staleness measured from a time carried by the input (``fetched_at`` of a Keepa event, the
``as_of`` of a re-evaluation request) and :func:`reevaluate` with another profile: hand-built
quotes, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.domain.asin_state import apply_quote, reevaluate
from app.domain.detection import (
    OpenOpportunity,
    Pricing,
    fresh_quotes,
    make_event_id,
    reference_time,
)
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE, with_overrides
from app.domain.quote import MarketQuote
from tests.keepa_factory import make_quote

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLICY = DetectionPolicy(stale_after=timedelta(hours=24))
FX = FxRates(Decimal("1.17"), T0)
SCHEDULE = default_fee_schedule()
PRICING = Pricing(FX, DEFAULT_PROFILE, "v-default", SCHEDULE)
# Minimum profit above the route's 888 cents (hand-computed in test_asin_state: DE 20.00 ->
# FR 50.00 on 2026-11-20 with the default profile): the route is no opportunity under it.
STRICT = with_overrides(DEFAULT_PROFILE, {"thresholds.min_profit_eur_cents": "900"})
STRICT_PRICING = Pricing(FX, STRICT, "v-strict", SCHEDULE)
ASIN = "B0REEVAL01"


def de(at: datetime = T0, *, fetched: datetime | None = None) -> MarketQuote:
    return make_quote(ASIN, Market.DE, amazon=2000, last_update=at, fetched_at=fetched)


def fr(at: datetime = T0, *, fetched: datetime | None = None) -> MarketQuote:
    return make_quote(
        ASIN,
        Market.FR,
        buy_box=5000,
        fba_fee=300,
        referral_pct=15.0,
        last_update=at,
        fetched_at=fetched,
    )


def opened_pair() -> tuple[dict[Market, MarketQuote], dict[str, OpenOpportunity]]:
    step = apply_quote(fr(), apply_quote(de(), {}, {}, POLICY, PRICING).quotes, {}, POLICY, PRICING)
    assert [(e.event, e.route_key, e.profit_eur_cents) for e in step.events] == [
        ("opened", "DE:FR", 888)
    ]
    return step.quotes, step.open


def test_the_reference_time_is_the_newest_quote_or_as_of_when_later() -> None:
    quotes = {Market.DE: de(T0), Market.FR: fr(T0 + timedelta(hours=1))}
    assert reference_time(quotes) == T0 + timedelta(hours=1)
    assert reference_time(quotes, T0) == T0 + timedelta(hours=1)  # earlier as_of: no effect
    assert reference_time(quotes, T0 + timedelta(hours=30)) == T0 + timedelta(hours=30)
    assert reference_time({}, None) is None
    # 24 h exactly before the reference is still fresh, a second more is stale.
    at = T0 + timedelta(hours=24)
    assert set(fresh_quotes(quotes, POLICY.stale_after, as_of=at)) == {Market.DE, Market.FR}
    assert set(fresh_quotes(quotes, POLICY.stale_after, as_of=at + timedelta(seconds=1))) == {
        Market.FR
    }


def test_a_quote_fetched_after_it_was_already_stale_opens_nothing() -> None:
    # The FR quote was last updated at T0 but fetched 24 h 1 min later: older than
    # STALE_AFTER_HOURS in wall-clock time when it arrives. The DE quote is fresh.
    held = apply_quote(de(T0 + timedelta(hours=24)), {}, {}, POLICY, PRICING).quotes
    late = fr(T0, fetched=T0 + timedelta(hours=24, minutes=1))
    step = apply_quote(late, held, {}, POLICY, PRICING)
    assert step.accepted  # kept as the market's latest quote (and in the price history)
    assert step.events == []
    assert step.open == {}


def test_a_quote_fetched_inside_the_window_opens() -> None:
    held = apply_quote(de(T0 + timedelta(hours=23)), {}, {}, POLICY, PRICING).quotes
    # Fetched 23 h 59 min after its last update: still inside the 24 h window.
    step = apply_quote(
        fr(T0, fetched=T0 + timedelta(hours=23, minutes=59)), held, {}, POLICY, PRICING
    )
    assert [(e.event, e.route_key) for e in step.events] == [("opened", "DE:FR")]


def test_a_request_with_a_later_as_of_closes_with_stale_quote() -> None:
    quotes, open_ = opened_pair()
    # Within the window nothing happens (and the route stays open).
    within = reevaluate(quotes, open_, POLICY, PRICING, T0 + timedelta(hours=24))
    assert within.events == []
    assert set(within.open) == {"DE:FR"}
    # Past it: closed, reason stale_quote, at the ASIN's event time (not the request's).
    as_of = T0 + timedelta(hours=24, seconds=1)
    past = reevaluate(quotes, open_, POLICY, PRICING, as_of, cause="wall_clock@x")
    assert [(e.event, e.route_key, e.reason) for e in past.events] == [
        ("closed", "DE:FR", "stale_quote")
    ]
    assert past.events[0].event_time == T0
    assert past.events[0].profit_eur_cents == 888  # the last figures of the route
    assert past.open == {}
    assert past.quotes == quotes  # the quotes are kept


def test_a_profile_change_closes_below_threshold_and_changing_back_reopens() -> None:
    quotes, open_ = opened_pair()
    as_of = T0 + timedelta(hours=1)
    closed = reevaluate(quotes, open_, POLICY, STRICT_PRICING, as_of, cause="profile_changed@1")
    assert [(e.event, e.reason, e.profit_eur_cents, e.profile_version) for e in closed.events] == [
        ("closed", "below_threshold", 888, "v-strict")
    ]
    assert closed.events[0].breakdown.failed_thresholds == ("min_profit",)
    back = reevaluate(quotes, closed.open, POLICY, PRICING, as_of, cause="profile_changed@2")
    assert [(e.event, e.profit_eur_cents, e.profile_version) for e in back.events] == [
        ("opened", 888, "v-default")
    ]
    # A second close at the same event time gets an id of its own (the request is in it).
    again = reevaluate(quotes, back.open, POLICY, STRICT_PRICING, as_of, cause="profile_changed@3")
    assert again.events[0].event == "closed"
    assert again.events[0].event_id != closed.events[0].event_id
    assert closed.events[0].event_id == make_event_id(
        ASIN, "DE:FR", "closed", T0, cause="profile_changed@1"
    )


def test_the_same_inputs_give_the_same_events() -> None:
    quotes, open_ = opened_pair()
    as_of = T0 + timedelta(hours=30)
    first = reevaluate(quotes, open_, POLICY, PRICING, as_of, cause="wall_clock@a")
    second = reevaluate(quotes, open_, POLICY, PRICING, as_of, cause="wall_clock@a")
    assert first == second
    late = fr(T0, fetched=T0 + timedelta(hours=25))
    assert apply_quote(late, quotes, open_, POLICY, PRICING) == apply_quote(
        late, quotes, open_, POLICY, PRICING
    )


def test_reevaluating_nothing_gives_nothing() -> None:
    step = reevaluate({}, {}, POLICY, PRICING, T0)
    assert (step.quotes, step.open, step.events) == ({}, {}, [])
