"""Keepa's side of push tracking as the push simulation emulates it
(devtools.sample.keepa_tracking): refresh times, threshold crossings, Keepa's tracking object,
and an account's trackings through the real planner diff and notification merge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.contracts.keepa_notifications import NotificationCause
from app.domain.fx import FxRates
from app.domain.keepa_prices import CSV_LENGTH, PriceType
from app.domain.keepa_time import KEEPA_EPOCH, to_keepa_minutes
from app.domain.markets import Market
from app.domain.notification_merge import merge_notification
from app.keepa.tracking.cost import estimated_flow_reduction
from app.keepa.tracking.creation import ThresholdValue, TrackingRequest
from app.keepa.tracking.objects import Tracking
from app.keepa.tracking.plan import META_TAG, Change, SyncPlan, diff
from devtools.sample.generator import MarketSimulator
from devtools.sample.keepa_tracking import (
    SentNotification,
    SimulatedTrackings,
    crosses,
    refresh_offset,
    refresh_times,
    to_main_factor,
    tracking_object,
)
from tests.keepa_factory import make_quote

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FX = FxRates(Decimal("1.17"), T0)
ASIN = "B0PUSHSIM1"
HOUR = timedelta(hours=1)


def request(
    *thresholds: ThresholdValue, main: Market = Market.DE, armed: datetime = T0
) -> TrackingRequest:
    return TrackingRequest(
        asin=ASIN,
        main_market=main,
        thresholds=thresholds,
        update_interval_h=1,
        desired_prices_in_main_currency=True,
        meta_data=f"{META_TAG} armed={to_keepa_minutes(armed)}",
    )


DE_DROP = ThresholdValue(Market.DE, PriceType.NEW_FBA, 2000, True)
GB_RISE = ThresholdValue(Market.GB, PriceType.BUY_BOX_SHIPPING, 3000, False)  # EUR cents


def current(**prices: int) -> list[int]:
    values = [-1] * CSV_LENGTH
    for name, value in prices.items():
        values[PriceType[name]] = value
    return values


# --- refreshes -------------------------------------------------------------------------------


def test_the_refresh_offset_is_a_seeded_whole_minute_within_the_interval() -> None:
    offsets = {refresh_offset(42, f"B0ASIN{i:04d}", Market.FR, HOUR) for i in range(200)}
    assert all(
        timedelta(0) <= o < HOUR and o % timedelta(minutes=1) == timedelta(0) for o in offsets
    )
    assert len(offsets) > 30  # spread over the hour
    assert refresh_offset(42, ASIN, Market.FR, HOUR) == refresh_offset(42, ASIN, Market.FR, HOUR)
    other_seed = [refresh_offset(43, f"B0ASIN{i:04d}", Market.FR, HOUR) for i in range(20)]
    same_seed = [refresh_offset(42, f"B0ASIN{i:04d}", Market.FR, HOUR) for i in range(20)]
    assert other_seed != same_seed


def test_refresh_times_are_the_offset_plus_whole_intervals_in_a_half_open_window() -> None:
    offset = timedelta(minutes=7)
    assert refresh_times(offset, HOUR, T0, T0 + 3 * HOUR) == [
        T0 + offset,
        T0 + HOUR + offset,
        T0 + 2 * HOUR + offset,
    ]
    # the start is in the window, the end is not
    assert refresh_times(offset, HOUR, T0 + offset, T0 + HOUR + offset) == [T0 + offset]
    assert refresh_times(offset, HOUR, T0 + timedelta(minutes=8), T0 + HOUR) == []
    # anchored on Keepa's epoch, whatever the window
    two_hours = timedelta(hours=2)
    times = refresh_times(offset, two_hours, T0, T0 + 6 * HOUR)
    assert len(times) == 3
    assert all((t - KEEPA_EPOCH - offset) % two_hours == timedelta(0) for t in times)
    with pytest.raises(ValueError, match="positive"):
        refresh_times(offset, timedelta(0), T0, T0 + HOUR)


# --- crossings -------------------------------------------------------------------------------


def test_a_drop_fires_strictly_below_and_a_rise_strictly_above() -> None:
    one = Decimal(1)
    assert crosses(DE_DROP, 1999, one)
    assert not crosses(DE_DROP, 2000, one)
    rise = ThresholdValue(Market.DE, PriceType.BUY_BOX_SHIPPING, 3000, False)
    assert crosses(rise, 3001, one)
    assert not crosses(rise, 3000, one)


@pytest.mark.parametrize("value", [-1, -2, 0])
def test_no_offer_no_data_or_zero_never_fires(value: int) -> None:
    assert not crosses(DE_DROP, value, Decimal(1))


def test_a_pound_price_is_compared_in_the_main_currency() -> None:
    factor = to_main_factor(Market.GB, Market.DE, FX)
    assert factor == Decimal("1.17")
    assert to_main_factor(Market.FR, Market.DE, FX) == 1
    # 2564 p = 2999.88 EUR cents, 2565 p = 3001.05
    assert not crosses(GB_RISE, 2564, factor)
    assert crosses(GB_RISE, 2565, factor)


# --- Keepa's tracking object -----------------------------------------------------------------


def test_the_tracking_object_reads_back_as_the_request_with_its_notifications() -> None:
    sent = SentNotification(
        Market.GB, int(PriceType.BUY_BOX_SHIPPING), NotificationCause.DESIRED_PRICE, T0 + HOUR
    )
    tracking = Tracking.from_keepa(tracking_object(request(DE_DROP, GB_RISE), T0, [sent]))
    assert set(tracking.thresholds) == {DE_DROP, GB_RISE}
    assert tracking.main_market is Market.DE
    assert tracking.created_at == T0
    assert tracking.update_interval_h == 1
    assert tracking.is_active
    assert tracking.notifies_via_api
    assert tracking.last_notified_at == T0 + HOUR
    never = Tracking.from_keepa(tracking_object(request(DE_DROP), T0))
    assert never.last_notified_at is None


def test_the_planner_diff_sees_an_unchanged_tracking_until_it_fires() -> None:
    keepa = SimulatedTrackings(FX)
    want = request(DE_DROP, GB_RISE)
    keepa.add(want, T0)
    assert diff({ASIN: want}, keepa.trackings()).unchanged == (ASIN,)
    keepa.refresh(ASIN, Market.DE, T0 + HOUR, current(NEW_FBA=1500))
    (change,) = diff({ASIN: request(DE_DROP, GB_RISE, armed=T0 + 2 * HOUR)}, keepa.trackings()).send
    assert change.kind == "rearm"


# --- an account's trackings ------------------------------------------------------------------


def test_a_crossing_sends_one_notification_with_the_current_prices_then_is_disarmed() -> None:
    keepa = SimulatedTrackings(FX)
    keepa.add(request(DE_DROP, GB_RISE), T0)
    prices = current(NEW_FBA=1899, BUY_BOX_SHIPPING=1950)
    at = T0 + timedelta(minutes=37, seconds=20)
    (notification,) = keepa.refresh(ASIN, Market.DE, at, prices)
    assert notification.asin == ASIN
    assert notification.market is Market.DE
    assert notification.tracking_market is Market.DE
    assert notification.trigger is PriceType.NEW_FBA
    assert notification.cause is NotificationCause.DESIRED_PRICE
    assert notification.current_prices == prices
    assert notification.created_at == T0 + timedelta(minutes=37)  # Keepa minutes
    assert notification.received_at == at
    assert notification.notification_id == notification.identity()
    assert keepa.refresh(ASIN, Market.DE, at + HOUR, prices) == []  # disarmed
    assert keepa.notifications == 1


def test_only_the_refreshed_market_and_tracked_asins_fire() -> None:
    keepa = SimulatedTrackings(FX)
    keepa.add(request(DE_DROP, GB_RISE), T0)
    assert keepa.refresh(ASIN, Market.FR, T0 + HOUR, current(NEW_FBA=100)) == []
    assert keepa.refresh("B0OTHERASN", Market.DE, T0 + HOUR, current(NEW_FBA=100)) == []
    assert keepa.refresh(ASIN, Market.DE, T0 + HOUR, current(NEW_FBA=2000)) == []  # not below
    (rise,) = keepa.refresh(ASIN, Market.GB, T0 + HOUR, current(BUY_BOX_SHIPPING=2565))
    assert rise.market is Market.GB
    assert rise.trigger is PriceType.BUY_BOX_SHIPPING


def test_adding_again_rearms_every_threshold_and_costs_a_token() -> None:
    keepa = SimulatedTrackings(FX)
    plan = SyncPlan(send=(Change("add", request(DE_DROP, GB_RISE)),), remove=(), unchanged=())
    assert keepa.apply(plan, T0) == 1
    low = current(NEW_FBA=1500)
    assert len(keepa.refresh(ASIN, Market.DE, T0 + HOUR, low)) == 1
    rearm = SyncPlan(
        send=(Change("rearm", request(DE_DROP, GB_RISE, armed=T0 + 2 * HOUR)),),
        remove=(),
        unchanged=(),
    )
    assert keepa.apply(rearm, T0 + 2 * HOUR) == 1
    assert keepa.add_tokens == 2
    assert len(keepa.refresh(ASIN, Market.DE, T0 + 3 * HOUR, low)) == 1  # level-triggered
    assert keepa.trackings()[ASIN].last_notified_at == T0 + 3 * HOUR  # history kept


def test_removing_stops_notifications_and_the_refill_rate_reduction() -> None:
    keepa = SimulatedTrackings(FX)
    want = request(DE_DROP, GB_RISE)
    keepa.add(want, T0)
    assert keepa.flow_reduction() == estimated_flow_reduction([want]) == pytest.approx(0.3)
    assert keepa.requests() == {ASIN: want}
    assert keepa.apply(SyncPlan(send=(), remove=(ASIN,), unchanged=()), T0 + HOUR) == 0
    assert keepa.flow_reduction() == 0
    assert keepa.trackings() == {}
    assert keepa.refresh(ASIN, Market.DE, T0 + 2 * HOUR, current(NEW_FBA=1)) == []


def test_a_notification_merges_into_the_stored_quote_with_the_pushed_price() -> None:
    stored = make_quote(ASIN, Market.DE, new_fba=2500, amazon=2600, last_update=T0)
    keepa = SimulatedTrackings(FX)
    keepa.add(request(DE_DROP), T0)
    (notification,) = keepa.refresh(
        ASIN, Market.DE, T0 + HOUR, current(NEW_FBA=1899, NEW=1899, AMAZON=2600)
    )
    merge = merge_notification(stored, notification)
    assert merge.outcome == "merged"
    assert merge.quote is not None
    assert merge.quote.buy_price == 1899
    assert merge.quote.observed_at == T0 + HOUR
    assert merge.quote.source == "notification"
    assert merge_notification(None, notification).outcome == "no_quote"


def test_regular_thresholds_fire_from_the_synthetic_markets_new_and_amazon_values() -> None:
    # The generator fills NEW (the lowest new offer, Amazon's included, without shipping) and
    # AMAZON in stats.current, which the emulator reads by the threshold's price type.
    simulator = MarketSimulator(5, seed=4, start=T0, end=T0 + timedelta(days=1))
    at = T0 + timedelta(hours=5)
    values = [
        (asin, stats)
        for asin in simulator.asins
        if (stats := simulator.product_at(asin, "DE", at)["stats"]["current"])[PriceType.AMAZON] > 0
    ]
    asin, prices = values[0]
    new, amazon = prices[PriceType.NEW], prices[PriceType.AMAZON]
    offers = [prices[PriceType.NEW_FBA], prices[PriceType.NEW_FBM_SHIPPING], amazon]
    assert 0 < new <= min(p for p in offers if p > 0)
    keepa = SimulatedTrackings(FX)
    tracked = TrackingRequest(
        asin=asin,
        main_market=Market.DE,
        thresholds=(
            ThresholdValue(Market.DE, PriceType.AMAZON, amazon + 1, True),
            ThresholdValue(Market.DE, PriceType.NEW, new + 1, True),
            ThresholdValue(Market.DE, PriceType.NEW, new - 1, False),
            ThresholdValue(Market.DE, PriceType.NEW, new, True),  # not strictly below: silent
        ),
        update_interval_h=1,
        desired_prices_in_main_currency=True,
        meta_data=f"{META_TAG} armed={to_keepa_minutes(T0)}",
    )
    keepa.add(tracked, T0)
    fired = keepa.refresh(asin, Market.DE, at, prices)
    assert [n.trigger for n in fired] == [PriceType.AMAZON, PriceType.NEW, PriceType.NEW]
    assert all(n.current_prices == list(prices) for n in fired)
