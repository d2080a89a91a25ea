"""A quote carries its market's signals: parsed with the Keepa product
(:func:`app.domain.envelope.quote_from_keepa_product`), kept by a notification merge with the
stability of the new sell price (:func:`app.domain.notification_merge.merge_notification`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.domain.envelope import quote_from_keepa_product
from app.domain.keepa_prices import PriceType
from app.domain.markets import Market
from app.domain.notification_merge import merge_notification
from app.domain.quote import MarketQuote
from app.domain.signals import MarketSignals, PriceStability, market_signals
from tests.keepa_factory import DEFAULT_FETCHED_AT, keepa_notification, keepa_product, make_quote

BB = PriceType.BUY_BOX_SHIPPING
FBA = PriceType.NEW_FBA


def _stored_fr() -> tuple[dict[str, Any], MarketQuote]:
    product = keepa_product(
        market=Market.FR,
        buy_box=2499,
        new_fba=2450,
        avg30={BB: 2399, FBA: 2400},
        avg90={BB: 2299, FBA: 2300},
        range_90={BB: (1999, 2599)},
        new_offers=4,
        rank_drops=(45, 130),
    )
    return product, quote_from_keepa_product(product, Market.FR, DEFAULT_FETCHED_AT)


def test_the_quote_carries_the_signals_of_its_sell_price_type() -> None:
    product, _ = _stored_fr()
    quote = quote_from_keepa_product(product, Market.FR, DEFAULT_FETCHED_AT)
    assert quote.signals == market_signals(product, Market.FR, BB, spike_share=Decimal("0.20"))
    assert quote.signals is not None
    # sell price 2499 (buy box) against avg90 2299: 2499 <= 2758.8, no spike
    assert (_signals(quote).stability.current, _signals(quote).stability.spike) == (2499, False)
    assert _signals(quote).stability.current == quote.sell_price
    assert _signals(quote).demand.estimated_monthly_sales == 45
    assert _signals(quote).competition.new_offer_count == 4


def test_the_spike_share_is_the_callers() -> None:
    product, _ = _stored_fr()
    # 2499 > 2299 x 1.05 = 2413.95: a spike at a 5 % threshold
    quote = quote_from_keepa_product(
        product, Market.FR, DEFAULT_FETCHED_AT, spike_share=Decimal("0.05")
    )
    assert quote.signals is not None
    assert _signals(quote).stability.spike is True


def test_a_quote_refuses_the_signals_of_another_market() -> None:
    de = make_quote(market=Market.DE, buy_box=2000)
    fr = make_quote(market=Market.FR, buy_box=2000)
    with pytest.raises(ValueError, match="signals of DE"):
        replace(fr, signals=de.signals)


def _signals(quote: MarketQuote) -> MarketSignals:
    assert quote.signals is not None
    return quote.signals


def _merged(prices: dict[PriceType, int], spike_share: Decimal = Decimal("0.20")) -> MarketQuote:
    _, stored = _stored_fr()
    notification = keepa_notification(market=Market.FR, prices=prices)
    merge = merge_notification(stored, notification, spike_share=spike_share)
    assert merge.outcome == "merged"
    assert merge.quote is not None
    return merge.quote


def test_a_notification_sets_its_sell_price_against_the_stored_averages() -> None:
    _, stored = _stored_fr()
    quote = _merged({BB: 2899})
    # new sell price 2899 > 2299 x 1.20 = 2758.8: now a spike; averages and range kept
    assert _signals(quote).stability == PriceStability(
        price_type=BB, current=2899, avg30=2399, avg90=2299, low_90=1999, high_90=2599, spike=True
    )
    # demand, competition and restrictions: as the stored quote's
    assert _signals(quote).demand == _signals(stored).demand
    assert _signals(quote).competition == _signals(stored).competition
    assert _signals(quote).restrictions == _signals(stored).restrictions
    # back to 2758, not above 2758.8: no spike
    assert _signals(_merged({BB: 2758})).stability.spike is False


def test_a_notification_moving_the_sell_price_to_another_type_leaves_the_averages_unknown() -> None:
    quote = _merged({BB: -1, FBA: 2890})  # the buy box is gone: sold at NEW_FBA now
    assert quote.sell_price == 2890
    # the stored averages are the buy box's: not NEW_FBA's (a quote keeps only its sell type's)
    assert _signals(quote).stability == PriceStability(FBA, 2890, None, None, None, None, None)


def test_a_notification_without_a_sell_price_leaves_no_stability() -> None:
    quote = _merged({BB: -1, FBA: -1})
    assert quote.sell_price is None
    assert _signals(quote).stability == PriceStability(None, None, None, None, None, None, None)


def test_a_quote_without_signals_stays_without() -> None:
    _, stored = _stored_fr()
    bare = replace(stored, signals=None)
    later = keepa_notification(
        market=Market.FR, prices={BB: 2899}, created_at=bare.observed_at + timedelta(hours=1)
    )
    merge = merge_notification(bare, later)
    assert merge.quote is not None
    assert merge.quote.signals is None
