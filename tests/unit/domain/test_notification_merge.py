"""Merging a Keepa notification into the stored quote of its market
(:func:`app.domain.notification_merge.merge_notification`): a hand-made stored quote and the
notification of tests/unit/keepa/data/ (Keepa's JSON, read by the real parser); the expected
quote is written out by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.contracts.keepa_notifications import KeepaNotification, NotificationCause
from app.domain.keepa_prices import CSV_LENGTH, PRICE_TYPES_READ, PriceType
from app.domain.markets import Market
from app.domain.notification_merge import merge_notification
from app.domain.quote import MarketQuote
from app.keepa.tracking.notifications import convert_notification, parse_notification
from tests.keepa_factory import keepa_notification, make_quote

DATA = Path(__file__).parents[1] / "keepa" / "data"
ASIN = "B07QK9XW3T"
RECEIVED = datetime(2025, 3, 14, 9, 11, 40, tzinfo=UTC)
#: createDate 7468391 Keepa minutes after 2011-01-01T00:00Z = 124,473 h 11 min = 5,186 days
#: 9 h 11 min; 5,186 days = 14 years (5,114 days with 2012, 2016, 2020, 2024) + 72 days.
CREATED = datetime(2025, 3, 14, 9, 11, tzinfo=UTC)

#: What the worker held for amazon.fr (the notification's notificationDomainId 4) before.
STORED = MarketQuote(
    asin=ASIN,
    market=Market.FR,
    title="Küchenwerk Gusseisen Bräter 28 cm",
    observed_at=datetime(2025, 3, 14, 8, 0, tzinfo=UTC),
    fetched_at=datetime(2025, 3, 14, 8, 5, tzinfo=UTC),
    buy_price=3390,
    sell_price=3490,
    referral_fee_rate=Decimal("0.15"),
    fba_fee=512,
    package_weight_g=5200,
    package_length_mm=360,
    package_width_mm=300,
    package_height_mm=180,
    sales_rank=4711,
    root_category=3167641,
    image_url="https://m.media-amazon.com/images/I/71kQm4ZxJbL.jpg",
    amazon_in_stock=True,
    prices={"AMAZON": 3490, "NEW": 3300, "NEW_FBA": 3390, "BUY_BOX_SHIPPING": 3490},
)


def _body() -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads((DATA / "notification.json").read_bytes())
    return body


def _notification(**changes: Any) -> KeepaNotification:
    return parse_notification(
        orjson.dumps({**_body(), **changes}), source="webhook", received_at=RECEIVED
    )


def _prices(**values: int) -> list[int]:
    """The fixture's currentPrices with some price types changed."""
    prices: list[int] = list(_body()["currentPrices"])
    for name, value in values.items():
        prices[PriceType[name]] = value
    return prices


def test_the_notifications_prices_replace_the_stored_ones_and_the_rest_is_kept() -> None:
    notification = _notification()
    assert (notification.market, notification.created_at) == (Market.FR, CREATED)
    merge = merge_notification(STORED, notification)
    assert merge.outcome == "merged"
    # currentPrices: AMAZON 3290, NEW 3190, NEW_FBM_SHIPPING 3340, NEW_FBA 3290,
    # BUY_BOX_SHIPPING 3290 (USED, SALES, LISTPRICE... are not prices a quote reads).
    # buy = min(AMAZON 3290, NEW_FBA 3290, NEW_FBM_SHIPPING 3340) = 3290; sell = the buy box.
    assert merge.quote == MarketQuote(
        asin=ASIN,
        market=Market.FR,
        title="Küchenwerk Gusseisen Bräter 28 cm",
        observed_at=CREATED,
        fetched_at=RECEIVED,
        buy_price=3290,
        sell_price=3290,
        referral_fee_rate=Decimal("0.15"),
        fba_fee=512,
        package_weight_g=5200,
        package_length_mm=360,
        package_width_mm=300,
        package_height_mm=180,
        sales_rank=4711,  # the notification's SALES (5120) is not taken: the rank is kept
        root_category=3167641,
        image_url="https://m.media-amazon.com/images/I/71kQm4ZxJbL.jpg",
        amazon_in_stock=True,
        prices={
            "AMAZON": 3290,
            "NEW": 3190,
            "NEW_FBM_SHIPPING": 3340,
            "NEW_FBA": 3290,
            "BUY_BOX_SHIPPING": 3290,
        },
        source="notification",
        notification_id=notification.notification_id,
    )


def test_no_offer_removes_a_price_type_no_data_keeps_it() -> None:
    prices = _prices(AMAZON=-1, NEW_FBA=-2, BUY_BOX_SHIPPING=-1, NEW_FBM_SHIPPING=0)
    merge = merge_notification(STORED, _notification(currentPrices=prices))
    quote = merge.quote
    assert quote is not None
    # AMAZON and the buy box gone (-1), the FBM offer's 0 is no price, NEW_FBA kept (-2)
    assert quote.prices == {"NEW": 3190, "NEW_FBA": 3390}
    assert (quote.buy_price, quote.sell_price) == (3390, 3390)  # NEW_FBA both ways
    assert quote.amazon_in_stock is False


def test_the_buy_price_falls_back_to_new_and_a_short_list_keeps_the_rest() -> None:
    stored = replace(STORED, prices={"AMAZON": 3490, "BUY_BOX_SHIPPING": 3490})
    # Only AMAZON (-1) and NEW (3190) in the list: NEW_FBA, NEW_FBM_SHIPPING and the buy
    # box have no entry, which keeps the stored buy box and adds nothing else.
    merge = merge_notification(stored, _notification(currentPrices=[-1, 3190]))
    assert merge.quote is not None
    assert merge.quote.prices == {"NEW": 3190, "BUY_BOX_SHIPPING": 3490}
    assert (merge.quote.buy_price, merge.quote.sell_price) == (3190, 3490)


def test_an_older_notification_is_not_applied() -> None:
    later = replace(STORED, observed_at=CREATED + timedelta(minutes=1))
    assert merge_notification(later, _notification()).outcome == "out_of_order"
    # The same time is not older (apply_quote's rule): it is applied.
    same_time = replace(STORED, observed_at=CREATED)
    assert merge_notification(same_time, _notification()).outcome == "merged"


def test_the_same_notification_twice_is_a_duplicate() -> None:
    first = merge_notification(STORED, _notification()).quote
    assert first is not None
    again = merge_notification(first, _notification())  # the webhook's retry
    assert (again.outcome, again.quote) == ("duplicate", None)
    # Read back from Keepa's queue: the same notification (same id), another source.
    [*_, queued] = [
        item
        for item in orjson.loads((DATA / "notification_queue_response.json").read_bytes())[
            "notifications"
        ]
        if item["createDate"] == 7468391
    ]
    copy = convert_notification(queued, source="queue", received_at=RECEIVED)
    assert copy.notification_id == first.notification_id
    assert merge_notification(first, copy).outcome == "duplicate"


def test_another_notification_with_the_same_time_and_prices_is_a_duplicate() -> None:
    first = merge_notification(STORED, _notification()).quote
    assert first is not None
    # Another cause (another id), same minute, same prices: nothing new.
    other = _notification(trackingNotificationCause=3)
    assert other.notification_id != first.notification_id
    assert merge_notification(first, other).outcome == "duplicate"
    # One price differs: merged.
    moved = _notification(trackingNotificationCause=3, currentPrices=_prices(NEW_FBA=3280))
    merged = merge_notification(first, moved)
    assert merged.outcome == "merged"
    assert merged.quote is not None
    assert merged.quote.buy_price == 3280


def test_an_expired_notification_and_one_without_a_stored_quote() -> None:
    expired = _notification(trackingNotificationCause=0, currentPrices=None)
    assert expired.cause is NotificationCause.EXPIRED
    assert merge_notification(STORED, expired).outcome == "expired"
    assert merge_notification(None, expired).outcome == "expired"
    assert merge_notification(None, _notification()).outcome == "no_quote"


def test_a_quote_of_another_asin_or_market_is_refused() -> None:
    with pytest.raises(ValueError, match="merged into the quote of"):
        merge_notification(replace(STORED, market=Market.DE), _notification())


_PRICE = st.one_of(st.just(-1), st.integers(min_value=1, max_value=99_999))


@given(st.fixed_dictionaries({t: _PRICE for t in PRICE_TYPES_READ}))
def test_a_merged_quote_prices_like_a_product_with_the_same_current_prices(
    values: dict[PriceType, int],
) -> None:
    """The buy price, sell price and "Amazon sells" of the merge are those the product
    parser gives a product whose current prices are the notification's (one rule)."""
    available = {t: v for t, v in values.items() if v > 0}
    product = make_quote(
        ASIN,
        Market.FR,
        amazon=available.get(PriceType.AMAZON),
        new=available.get(PriceType.NEW),
        fbm=available.get(PriceType.NEW_FBM_SHIPPING),
        new_fba=available.get(PriceType.NEW_FBA),
        buy_box=available.get(PriceType.BUY_BOX_SHIPPING),
    )
    current = [-2] * CSV_LENGTH
    for price_type, value in values.items():
        current[price_type] = value
    notification = keepa_notification(ASIN, Market.FR, values, created_at=CREATED)
    assert notification.current_prices == current
    merged = merge_notification(STORED, notification).quote
    assert merged is not None
    assert merged.prices == product.prices
    assert (merged.buy_price, merged.sell_price, merged.amazon_in_stock) == (
        product.buy_price,
        product.sell_price,
        product.amazon_in_stock,
    )
