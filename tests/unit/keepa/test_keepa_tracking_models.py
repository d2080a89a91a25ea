"""Tracking creation objects, tracking objects and their cost, in Keepa's formats; the
fixtures agree with the ``keepa`` package's models of Keepa's Java structs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from keepa.models.backend import Notification, Response, Tracking, TrackingRequest
from keepa_fakes import load_json

from app.domain.keepa_prices import PriceType
from app.domain.markets import Market
from app.keepa import KeepaError
from app.keepa.tracking import NotifyIf, NotifyIfType, ThresholdValue
from app.keepa.tracking import Tracking as OurTracking
from app.keepa.tracking import TrackingRequest as OurRequest
from app.keepa.tracking.cost import (
    estimated_flow_reduction,
    is_marketplace_tracking,
)

SELL_FR = ThresholdValue(Market.FR, PriceType.BUY_BOX_SHIPPING, 3150, is_drop=False)
BUY_DE = ThresholdValue(Market.DE, PriceType.NEW_FBA, 2350, is_drop=True)


def test_creation_object_in_keepas_format() -> None:
    request = OurRequest(
        asin=" b07qk9xw3t",
        main_market=Market.DE,
        thresholds=(BUY_DE, SELL_FR),
        notify_if=(NotifyIf(Market.DE, PriceType.NEW_FBA, NotifyIfType.BACK_IN_STOCK),),
        update_interval_h=2,
        meta_data="arbitrage-tracker",
    )
    assert request.asin == "B07QK9XW3T"
    assert request.to_keepa() == {
        "asin": "B07QK9XW3T",
        "ttl": 0,
        "expireNotify": True,
        "desiredPricesInMainCurrency": False,
        "mainDomainId": 3,
        "updateInterval": 2,
        "notificationType": [False, False, False, False, False, True, False],
        "individualNotificationInterval": -1,
        "thresholdValues": [
            {"thresholdValue": 2350, "domain": 3, "csvType": 10, "isDrop": True},
            {"thresholdValue": 3150, "domain": 4, "csvType": 18, "isDrop": False},
        ],
        "notifyIf": [{"domain": 3, "csvType": 10, "notifyIfType": 1}],
        "metaData": "arbitrage-tracker",
    }
    assert request.markets == {Market.DE, Market.FR}
    # What the Java reference client would send (keepa's model of TrackingRequest).
    assert TrackingRequest.model_validate(request.to_keepa()).mainDomainId == 3


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"asin": "B07-QK9"}, "invalid ASIN"),
        ({"update_interval_h": 0}, "1 to 25 hours"),
        ({"update_interval_h": 26}, "1 to 25 hours"),
        ({"update_interval_h": True}, "1 to 25 hours"),
        ({"rearm_after_min": -2}, "-1 or more"),
        ({"ttl_h": 1.5}, "ttl_h must be an integer"),
        ({"meta_data": "x" * 501}, "longer than 500"),
    ],
)
def test_invalid_creation_objects(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OurRequest(**{"asin": "B07QK9XW3T", "main_market": Market.DE, **fields})


@pytest.mark.parametrize("value", [-1, True, 12.5])
def test_threshold_values_are_non_negative_integers(value: Any) -> None:
    with pytest.raises(ValueError, match="non-negative integer"):
        ThresholdValue(Market.DE, PriceType.NEW, value, is_drop=True)


def test_threshold_price_types_are_keepas() -> None:
    with pytest.raises(ValueError, match="is not a valid PriceType"):
        ThresholdValue(Market.DE, 99, 100, is_drop=True)  # type: ignore[arg-type]
    assert ThresholdValue(Market.DE, 18, 1, is_drop=False).price_type is PriceType.BUY_BOX_SHIPPING  # type: ignore[arg-type]


def test_a_tracking_read_back_has_the_thresholds_we_sent() -> None:
    """Keepa answers with ``thresholdValueCSV`` histories; a tracking object with the
    creation form's ``thresholdValue`` is read alike (what a sync compares)."""
    request = OurRequest(asin="B07QK9XW3T", main_market=Market.DE, thresholds=(BUY_DE, SELL_FR))
    echoed = {**request.to_keepa(), "createDate": 7468410, "isActive": True}
    tracking = OurTracking.from_keepa(echoed)
    assert tracking.thresholds == request.thresholds
    assert tracking.created_at == datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
    assert tracking.last_notified_at is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mainDomainId": 1}, "untracked Keepa domain id 1"),
        ({"createDate": "yesterday"}, r"Expected `int`, got `str` - at `\$.createDate`"),
        ({"asin": None}, r"at `\$.asin`"),
        ({"thresholdValues": [{"domain": 3, "csvType": 0, "isDrop": True}]}, "has no value"),
        (
            {"thresholdValues": [{"thresholdValue": 1, "domain": 3, "csvType": 77, "isDrop": 1}]},
            "Expected `bool`",
        ),
        ({"notifyIf": [{"domain": 3, "csvType": 10, "notifyIfType": 7}]}, "not a valid Notify"),
    ],
)
def test_invalid_tracking_objects_are_keepa_errors(change: dict[str, Any], message: str) -> None:
    obj = {**load_json("tracking_object.json"), **change}
    with pytest.raises(KeepaError, match=message):
        OurTracking.from_keepa(obj)


def test_fixtures_are_valid_for_keepas_backend_models() -> None:
    tracking = Tracking.model_validate(load_json("tracking_object.json"))
    assert tracking.thresholdValues is not None
    assert tracking.thresholdValues[1] is not None
    assert tracking.thresholdValues[1].thresholdValueCSV == [7466970, 2290, 7467630, 2350]
    notification = Notification.model_validate(load_json("notification.json"))
    assert (notification.domainId, notification.notificationDomainId) == (3, 4)
    added = Response.model_validate(load_json("tracking_add_response.json"))
    assert added.error is not None
    assert added.trackings is not None
    assert len(added.trackings) == 2
    assert added.tokenFlowReduction == 1.0
    queue = Response.model_validate(load_json("notification_queue_response.json"))
    assert queue.notifications is not None
    assert len(queue.notifications) == 3
    listed = Response.model_validate(load_json("tracking_list_response.json"))
    assert listed.asinList == ["B07QK9XW3T", "B0CHX1W1XY", "3499626225"]


def trackings(n: int, interval: int, *thresholds: ThresholdValue) -> list[OurRequest]:
    return [
        OurRequest(
            asin=f"B0TEST{i:04d}",
            main_market=Market.DE,
            thresholds=thresholds,
            update_interval_h=interval,
        )
        for i in range(n)
    ]


def regular(n: int, interval: int, markets: int = 1) -> list[OurRequest]:
    new = [ThresholdValue(m, PriceType.NEW, 1000, is_drop=True) for m in list(Market)[:markets]]
    return trackings(n, interval, *new)


def test_refill_reduction_matches_keepas_examples() -> None:
    # "2000 Regular Trackings on a single locale with an update interval of 1 hour: 30"
    assert estimated_flow_reduction(regular(2000, 1)) == pytest.approx(30.0)
    # "700 Marketplace Trackings on a single locale, update interval 12 hours: 8.75"
    assert estimated_flow_reduction(trackings(700, 12, SELL_FR)) == pytest.approx(8.75)


def test_refill_reduction_counts_markets_and_price_types() -> None:
    assert estimated_flow_reduction(regular(100, 1, markets=3)) == pytest.approx(4.5)
    mixed = OurRequest(asin="B07QK9XW3T", main_market=Market.DE, thresholds=(BUY_DE, SELL_FR))
    assert is_marketplace_tracking(mixed)  # NEW_FBA and the Buy Box are marketplace types
    assert not is_marketplace_tracking(regular(1, 1)[0])
    assert estimated_flow_reduction([mixed]) == pytest.approx(9.0 * 2 / 60)
    assert estimated_flow_reduction([]) == 0.0
