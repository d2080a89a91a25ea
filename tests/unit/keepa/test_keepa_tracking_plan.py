"""The push-tracking planner (app.keepa.tracking.plan): thresholds from hand-computed
break-evens, the main currency, the budget rule, the diff against Keepa's trackings.

Quotes and profile as in tests/unit/domain/test_breakeven.py (default profile, EUR/GBP 1.17,
quotes observed 2025-03-01 12:00 UTC): DE Amazon 20.00 and an FR buy box 50.00 (FBA 3.00,
15 % referral) give a DE buy break-even of 24.78 and an FR sell break-even of 44.11 (both
computed by hand there); GB Amazon 15.00 against the same FR quote a GB buy break-even of
16.22 GBP.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.domain.breakeven import Breakeven, TrackingThreshold, breakevens
from app.domain.detection import Pricing
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.keepa_prices import PriceType
from app.domain.keepa_time import to_keepa_minutes
from app.domain.markets import Market
from app.domain.money import Currency, Money
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE, Thresholds
from app.domain.quote import MarketQuote
from app.domain.watchlist import WatchlistEntry
from app.keepa.tracking import Tracking, TrackingRequest
from app.keepa.tracking.cost import is_marketplace_tracking
from app.keepa.tracking.creation import API_NOTIFICATION_TYPE
from app.keepa.tracking.plan import (
    META_TAG,
    Candidate,
    TokenBudget,
    TrackingPolicy,
    armed_at,
    candidate,
    desired_request,
    diff,
    main_market,
    select,
)
from tests.keepa_factory import make_quote

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
AT = T0 + timedelta(minutes=5)
FX = FxRates(Decimal("1.17"), T0)
PRICING = Pricing(FX, DEFAULT_PROFILE, "v-default", default_fee_schedule())
DETECTION = DetectionPolicy()
POLICY = TrackingPolicy(flow_share=0.5, price_types="marketplace")
REGULAR = TrackingPolicy(flow_share=0.5, price_types="regular")
ASIN = "B0BREAKEV1"

_THIRD_PARTY_BUY = (PriceType.NEW_FBA, PriceType.NEW_FBM_SHIPPING, PriceType.NEW)
_SELL = (PriceType.BUY_BOX_SHIPPING, PriceType.NEW_FBA)


def quotes(*items: MarketQuote) -> dict[Market, MarketQuote]:
    return {q.market: q for q in items}


def de_fr(asin: str = ASIN) -> dict[Market, MarketQuote]:
    return quotes(
        make_quote(asin, Market.DE, amazon=2000, last_update=T0),
        make_quote(asin, Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0, last_update=T0),
    )


def thresholds_of(request: TrackingRequest) -> set[tuple[Market, PriceType, int, bool]]:
    return {(t.market, t.price_type, t.value, t.is_drop) for t in request.thresholds}


def keepa_view(
    request: TrackingRequest,
    *,
    set_at: datetime = AT,
    notified_at: datetime | None = None,
    **overrides: Any,
) -> Tracking:
    """The tracking object Keepa returns after adding ``request`` at ``set_at`` (Keepa's
    format: threshold histories, notificationCSV), optionally notified at ``notified_at``."""
    minute = to_keepa_minutes(set_at)
    body = request.to_keepa()
    obj: dict[str, Any] = {
        "asin": body["asin"],
        "createDate": minute,
        "isActive": True,
        "ttl": body["ttl"],
        "expireNotify": body["expireNotify"],
        "mainDomainId": body["mainDomainId"],
        "updateInterval": body["updateInterval"],
        "metaData": body.get("metaData"),
        "thresholdValues": [
            {
                "thresholdValueCSV": [minute, t["thresholdValue"]],
                "domain": t["domain"],
                "csvType": t["csvType"],
                "isDrop": t["isDrop"],
            }
            for t in body["thresholdValues"]
        ],
        "notifyIf": [],
        "notificationType": list(API_NOTIFICATION_TYPE),
        "notificationCSV": []
        if notified_at is None
        else [3, 10, 5, 1, to_keepa_minutes(notified_at)],
        "individualNotificationInterval": -1,
    }
    obj.update(overrides)
    return Tracking.from_keepa(obj)


# --- thresholds ------------------------------------------------------------------------------


def test_thresholds_of_a_euro_asin_are_the_break_evens_in_their_own_currency() -> None:
    entry = WatchlistEntry(ASIN, ("DE", "FR"), priority=3)
    c = candidate(entry, de_fr(), PRICING, DETECTION, POLICY, AT)
    assert c.request is not None
    # DE: drop below 2478 + 1 = 2479 of every buy price type (AMAZON: Amazon's offer has the
    # same break-even, its VAT being recovered too); FR: rise above 4411 - 1 = 4410 of the
    # sell price types. No conversion: DE is the main market, both are euro markets.
    expected = {(Market.DE, t, 2479, True) for t in (PriceType.AMAZON, *_THIRD_PARTY_BUY)}
    expected |= {(Market.FR, t, 4410, False) for t in _SELL}
    assert thresholds_of(c.request) == expected
    assert c.request.main_market is Market.DE
    assert c.request.desired_prices_in_main_currency
    assert c.request.update_interval_h == 1
    assert c.request.to_keepa()["notificationType"] == list(API_NOTIFICATION_TYPE)
    assert armed_at(c.request.meta_data) == AT.replace(second=0)
    # DE 20.00 is below its break-even 24.78: the route is open now.
    assert c.closeness == 0.0
    # Marketplace price types (New FBA, Buy Box): 9 tokens per update, 2 markets, hourly.
    assert c.flow == pytest.approx(9 * 2 / 60)


def test_regular_thresholds_watch_amazon_and_new_at_a_tenth_of_the_cost() -> None:
    entry = WatchlistEntry(ASIN, ("DE", "FR"), priority=3)
    c = candidate(entry, de_fr(), PRICING, DETECTION, REGULAR, AT)
    assert c.request is not None
    # The same break-evens: DE drops of AMAZON and NEW below 2479, FR a rise of NEW above 4410.
    assert thresholds_of(c.request) == {
        (Market.DE, PriceType.AMAZON, 2479, True),
        (Market.DE, PriceType.NEW, 2479, True),
        (Market.FR, PriceType.NEW, 4410, False),
    }
    assert not is_marketplace_tracking(c.request)
    # Regular price types: 0.9 tokens per update, 2 markets, hourly (a tenth of marketplace).
    assert c.flow == pytest.approx(0.9 * 2 / 60)
    marketplace = candidate(entry, de_fr(), PRICING, DETECTION, POLICY, AT)
    assert c.flow == pytest.approx(marketplace.flow / 10)
    assert c.closeness == marketplace.closeness == 0.0


def test_the_break_evens_come_from_the_function_given() -> None:
    # A simulation passes a memo of breakevens(): the candidate uses it, with the quotes of
    # the entry's markets and the time of the sync.
    calls: list[tuple[frozenset[Market], datetime]] = []

    def counted(
        q: Mapping[Market, MarketQuote], policy: DetectionPolicy, pricing: Pricing, at: datetime
    ) -> dict[Market, Breakeven]:
        calls.append((frozenset(q), at))
        return breakevens(q, policy, pricing, at)

    entry = WatchlistEntry(ASIN, ("DE", "FR"))
    c = candidate(entry, de_fr(), PRICING, DETECTION, REGULAR, AT, breakevens=counted)
    assert calls == [(frozenset({Market.DE, Market.FR}), AT)]
    assert c == candidate(entry, de_fr(), PRICING, DETECTION, REGULAR, AT)

    def nothing(
        q: Mapping[Market, MarketQuote], policy: DetectionPolicy, pricing: Pricing, at: datetime
    ) -> dict[Market, Breakeven]:
        return {m: Breakeven(ASIN, m, None, None, None, None) for m in q}

    c = candidate(entry, de_fr(), PRICING, DETECTION, REGULAR, AT, breakevens=nothing)
    assert c.request is None
    assert c.reason == "no price opens a route"


def test_closeness_is_the_smallest_move_to_a_break_even() -> None:
    # DE Amazon 30.00 is above the buy break-even 24.78: 1 - 2478 / 3000 = 0.174; the FR sell
    # break-even against DE at 30.00 is farther than FR's 50.00 is from it? FR at 50.00 would
    # need the DE buy at <= 24.78, so from FR's side the route needs a sell price above 50.00:
    # closeness is the smaller of the two moves, at most 0.174.
    q = quotes(
        make_quote(ASIN, Market.DE, amazon=3000, last_update=T0),
        make_quote(ASIN, Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0, last_update=T0),
    )
    c = candidate(WatchlistEntry(ASIN, ("DE", "FR")), q, PRICING, DETECTION, POLICY, AT)
    assert c.request is not None
    assert 0 < c.closeness <= 1 - 2478 / 3000


def test_gb_thresholds_are_converted_to_the_euro_main_currency_early_side() -> None:
    # GB buy 16.22 GBP: drop below 1623 p = 1623 x 1.17 x 1.02 = 1936.89 -> 1937 EUR cents
    # (up: notifies early); a GB sell break-even of 43.89 GBP: rise above 4388 p = 4388 x
    # 1.17 x 0.98 = 5031.28 -> 5031 (down: notifies early). FR stays as it is.
    found = [
        TrackingThreshold(Market.GB, PriceType.NEW_FBA, Money(1623, Currency.GBP), True),
        TrackingThreshold(Market.GB, PriceType.BUY_BOX_SHIPPING, Money(4388, Currency.GBP), False),
        TrackingThreshold(Market.FR, PriceType.BUY_BOX_SHIPPING, Money(4410, Currency.EUR), False),
    ]
    request = desired_request(ASIN, found, FX, POLICY, AT)
    assert request is not None
    assert request.main_market is Market.FR
    assert thresholds_of(request) == {
        (Market.GB, PriceType.NEW_FBA, 1937, True),
        (Market.GB, PriceType.BUY_BOX_SHIPPING, 5031, False),
        (Market.FR, PriceType.BUY_BOX_SHIPPING, 4410, False),
    }


def test_a_gb_only_tracking_stays_in_pence() -> None:
    found = [TrackingThreshold(Market.GB, PriceType.NEW, Money(1623, Currency.GBP), True)]
    request = desired_request(ASIN, found, FX, POLICY, AT)
    assert request is not None
    assert request.main_market is Market.GB
    assert thresholds_of(request) == {(Market.GB, PriceType.NEW, 1623, True)}


def test_gb_buy_against_fr_sell_from_real_quotes() -> None:
    # GB Amazon 15.00 GBP -> FR 50.00: GB buy break-even 1622 p (test_breakeven), so GB's
    # drop threshold 1623 p in EUR: 1937 as above; FR (a euro market) is the main one.
    q = quotes(
        make_quote(ASIN, Market.GB, amazon=1500, last_update=T0),
        make_quote(ASIN, Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0, last_update=T0),
    )
    c = candidate(WatchlistEntry(ASIN, ("FR", "GB")), q, PRICING, DETECTION, POLICY, AT)
    assert c.request is not None
    assert c.request.main_market is Market.FR
    gb = {(t.price_type, t.value) for t in c.request.thresholds if t.market is Market.GB}
    assert (PriceType.NEW_FBA, 1937) in gb


def test_only_the_entry_markets_count() -> None:
    # Watched in DE and IT only: the FR quote is not a counterpart, so no route, no tracking.
    c = candidate(WatchlistEntry(ASIN, ("DE", "IT")), de_fr(), PRICING, DETECTION, POLICY, AT)
    assert c.request is None
    assert c.reason == "quotes in < 2 markets"


def test_no_price_opens_a_route_no_tracking() -> None:
    # A sales-rank limit the FR quote (rank 1234) fails whatever the prices: no bound at all.
    strict = replace(DEFAULT_PROFILE, thresholds=replace(Thresholds(), max_sales_rank=1000))
    pricing = replace(PRICING, profile=strict)
    c = candidate(WatchlistEntry(ASIN, ("DE", "FR")), de_fr(), pricing, DETECTION, POLICY, AT)
    assert c.request is None
    assert c.reason == "no price opens a route"


def test_main_market_prefers_euro() -> None:
    assert main_market([Market.GB, Market.ES, Market.IT]) is Market.IT
    assert main_market([Market.GB]) is Market.GB
    with pytest.raises(ValueError, match="at least one market"):
        main_market([])


# --- budget ---------------------------------------------------------------------------------


def fake_candidate(asin: str, priority: int, closeness: float, flow: float) -> Candidate:
    found = [TrackingThreshold(Market.DE, PriceType.NEW, Money(1000, Currency.EUR), True)]
    return Candidate(asin, priority, closeness, desired_request(asin, found, FX, POLICY, AT), flow)


def test_budget_takes_priority_then_closeness_within_the_share() -> None:
    # Nominal rate 15 + 5 = 20 tokens/min, share 0.5: 10 tokens/min for push tracking.
    budget = TokenBudget(refill_rate=15, flow_reduction=5.0)
    cands = [
        fake_candidate("B000000001", 0, 0.00, 4.0),  # closest, but priority 0
        fake_candidate("B000000002", 5, 0.30, 4.0),  # priority 5: first
        fake_candidate("B000000003", 5, 0.10, 4.0),  # priority 5, closer: before 2
        fake_candidate("B000000004", 1, 0.20, 2.0),  # priority 1: third, fits (4+4+2 = 10)
        Candidate("B000000005", 9, math.inf, None, 0.0, "no price opens a route"),
    ]
    chosen = select(cands, budget, POLICY)
    assert [c.asin for c in chosen.chosen] == ["B000000003", "B000000002", "B000000004"]
    assert chosen.flow_budget == pytest.approx(10.0)
    assert chosen.flow_used == pytest.approx(10.0)
    assert chosen.polling["B000000005"] == "no price opens a route"
    assert chosen.polling["B000000001"].startswith("over the push budget")


def test_a_zero_share_pushes_nothing() -> None:
    chosen = select(
        [fake_candidate("B000000001", 10, 0.0, 0.1)],
        TokenBudget(20),
        TrackingPolicy(flow_share=0.0),
    )
    assert chosen.chosen == ()
    assert set(chosen.polling) == {"B000000001"}


def test_policy_is_validated() -> None:
    with pytest.raises(ValueError, match="flow_share"):
        TrackingPolicy(flow_share=1.5)
    with pytest.raises(ValueError, match="update_interval_h"):
        TrackingPolicy(update_interval_h=0)
    with pytest.raises(ValueError, match="price_types"):
        TrackingPolicy(price_types="cheap")  # type: ignore[arg-type]


# --- diff -----------------------------------------------------------------------------------


def desired_de_fr(asin: str = ASIN, at: datetime = AT) -> TrackingRequest:
    c = candidate(WatchlistEntry(asin, ("DE", "FR")), de_fr(asin), PRICING, DETECTION, POLICY, at)
    assert c.request is not None
    return c.request


def test_a_new_asin_is_added_and_a_second_sync_sends_nothing() -> None:
    want = {ASIN: desired_de_fr()}
    first = diff(want, {})
    assert [(c.kind, c.request.asin) for c in first.send] == [("add", ASIN)]
    # Keepa now holds what we sent; the next sync (an hour later, same quotes) sends nothing.
    later = {ASIN: desired_de_fr(at=AT + timedelta(hours=1))}
    second = diff(later, {ASIN: keepa_view(want[ASIN])})
    assert second.empty
    assert second.unchanged == (ASIN,)


def test_changed_thresholds_are_updated() -> None:
    want = desired_de_fr()
    held = keepa_view(want)
    q = de_fr()
    q[Market.FR] = make_quote(
        ASIN, Market.FR, buy_box=5200, fba_fee=300, referral_pct=15.0, last_update=T0
    )
    c = candidate(WatchlistEntry(ASIN, ("DE", "FR")), q, PRICING, DETECTION, POLICY, AT)
    assert c.request is not None
    plan = diff({ASIN: c.request}, {ASIN: held})
    assert [(ch.kind, ch.detail) for ch in plan.send] == [("update", "thresholds")]


def test_other_settings_are_updated() -> None:
    want = desired_de_fr()
    for overrides, detail in (
        ({"isActive": False}, "inactive"),
        ({"updateInterval": 6}, "updateInterval 6 -> 1"),
        ({"mainDomainId": 4}, "main market FR -> DE"),
        ({"notificationType": [False] * 7}, "API channel off"),
        ({"metaData": "set by hand"}, "not ours"),
    ):
        plan = diff({ASIN: want}, {ASIN: keepa_view(want, **overrides)})
        assert [(c.kind, c.detail) for c in plan.send] == [("update", detail)]


def test_a_fired_tracking_is_rearmed_once() -> None:
    want = desired_de_fr()
    fired = keepa_view(want, notified_at=AT + timedelta(minutes=7))
    later = AT + timedelta(minutes=15)
    plan = diff({ASIN: desired_de_fr(at=later)}, {ASIN: fired})
    assert [c.kind for c in plan.send] == ["rearm"]
    rearmed = plan.send[0].request
    # Keepa now holds the re-armed tracking (metaData: armed after the notification).
    after = keepa_view(rearmed, set_at=later, notified_at=AT + timedelta(minutes=7))
    assert diff({ASIN: desired_de_fr(at=later + timedelta(minutes=15))}, {ASIN: after}).empty


def test_unwatched_and_unchosen_trackings_are_removed_foreign_ones_kept() -> None:
    ours = keepa_view(desired_de_fr("B000000009"))
    foreign = keepa_view(desired_de_fr("B000000008"), metaData="my own tracking")
    plan = diff({ASIN: desired_de_fr()}, {"B000000009": ours, "B000000008": foreign})
    assert plan.remove == ("B000000009",)
    assert plan.foreign == ("B000000008",)
    assert [c.kind for c in plan.send] == ["add"]


def test_armed_at_reads_only_our_meta_data() -> None:
    assert armed_at(None) is None
    assert armed_at("someone else armed=7468410") is None
    assert armed_at(f"{META_TAG} armed=notanumber") is None
    assert armed_at(f"{META_TAG} armed={to_keepa_minutes(AT)}") == AT.replace(second=0)
