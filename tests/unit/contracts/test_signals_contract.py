"""The quality signals through the contracts: the quotes table (version 3; versions 2 and 1,
without signals, still read), the observation, and the opportunity event (version 3: the sell
market's signals and the expected monthly profit; version 2 still read)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
import orjson
import pytest

from app.contracts.base import ContractError, encode
from app.contracts.observations import OBSERVATION, Observation
from app.contracts.opportunities import OPPORTUNITY, OpportunityMessage
from app.contracts.tables import QUOTES_STATE, QuotesState
from app.domain.detection import OpportunityEvent, Pricing, detect
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.keepa_prices import PriceType
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE
from app.domain.quote import MarketQuote
from tests.keepa_factory import make_quote

BB = PriceType.BUY_BOX_SHIPPING
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PRICING = Pricing(FxRates(Decimal("1.17"), T0), DEFAULT_PROFILE, "v-test", default_fee_schedule())


def _fr() -> MarketQuote:
    return make_quote(
        market=Market.FR,
        buy_box=2499,
        avg30={BB: 2399},
        avg90={BB: 2299},
        range_90={BB: (1999, 2599)},
        new_offers=4,
        rank_drops=(45, 130),
        monthly_sold=300,
        buy_box_stats={Market.FR.amazon_seller_id: 62.5},
    )


def test_the_quotes_state_is_version_3_and_keeps_the_signals() -> None:
    state = QuotesState(quotes={Market.FR: _fr()})
    data = QUOTES_STATE.encode(state)
    raw = orjson.loads(data)
    assert raw["schema_version"] == 3
    signals = raw["quotes"]["FR"]["signals"]
    assert signals["stability"]["avg90"] == 2299
    assert signals["competition"]["amazon_buy_box_share"] == "0.625"
    assert signals["demand"]["estimate_method"] == "monthly_sold"
    restored = QUOTES_STATE.decode(data)
    assert restored == state
    assert restored.quotes[Market.FR].signals == _fr().signals


def test_a_version_2_state_is_read_without_signals() -> None:
    """As the worker wrote it before quotes carried signals."""
    quotes = msgspec.to_builtins({Market.FR: _fr()})
    del quotes["FR"]["signals"]
    old = orjson.dumps({"schema_version": 2, "quotes": quotes, "profile_version": "v1"})
    state = QUOTES_STATE.decode(old)
    assert state.quotes == {Market.FR: replace(_fr(), signals=None)}
    assert state.profile_version == "v1"


def test_the_observation_carries_the_signals_both_ways() -> None:
    quote = _fr()
    message = OBSERVATION.decode(encode(Observation.from_quote(quote)))
    assert message.signals is not None
    assert message.signals.competition.amazon_buy_box_share == Decimal("0.625")
    assert message.to_quote() == quote
    # An observation published before the field existed has no signals.
    raw = orjson.loads(encode(Observation.from_quote(quote)))
    del raw["signals"]
    assert OBSERVATION.decode(orjson.dumps(raw)).to_quote() == replace(quote, signals=None)


# --- the opportunity event ----------------------------------------------------------------


def _opened(**fr: Any) -> tuple[OpportunityEvent, dict[Market, MarketQuote]]:
    """DE 20.00 (Amazon) -> FR 48.00: profit 637 cents (worked out line by line in
    tests/unit/contracts/test_messages.py, test_an_opportunity_message_is_the_event_as_json)."""
    quotes = {
        Market.DE: make_quote(market=Market.DE, amazon=2000, last_update=T0),
        Market.FR: make_quote(
            market=Market.FR,
            buy_box=4800,
            last_update=T0,
            sales_rank=4321,
            root_category=77,
            amazon=4999,
            **fr,
        ),
    }
    [event] = detect(quotes, {}, DetectionPolicy(), PRICING, T0).events
    assert event.breakdown.profit_eur_cents == 637
    return event, quotes


def test_the_event_carries_the_sell_markets_signals_and_expected_monthly_profit() -> None:
    event, quotes = _opened(avg90={BB: 3900}, new_offers=4, rank_drops=(45, 130))
    message = OpportunityMessage.from_event(event, quotes[Market.FR], quotes[Market.DE])
    data = orjson.loads(encode(message))
    assert data["schema_version"] == 3
    signals = data["sell_signals"]
    assert signals["market"] == "FR"
    # 4800 > 3900 x 1.20 = 4680: a spike
    assert (signals["stability"]["current"], signals["stability"]["spike"]) == (4800, True)
    assert signals["demand"]["estimated_monthly_sales"] == 45
    assert signals["competition"]["new_offer_count"] == 4
    # 45 sales shared by 4 offers and the newcomer: 45 / 5 = 9 units; 9 x 637 = 5733 cents
    assert data["expected_monthly_units"] == "9.00"
    assert data["expected_monthly_profit_eur_cents"] == 5733
    assert OPPORTUNITY.decode(encode(message)) == message


def test_the_expected_profit_is_exact_and_the_units_rounded_for_display_only() -> None:
    event, quotes = _opened(new_offers=2, monthly_sold=100)
    message = OpportunityMessage.from_event(event, quotes[Market.FR])
    # 100 / 3 = 33.333... units (display 33.33); 637 x 100 / 3 = 21233.33 -> 21233
    # (rounding the units first would say 637 x 33.33 = 21231.21)
    assert message.expected_monthly_units == Decimal("33.33")
    assert message.expected_monthly_profit_eur_cents == 21233


def test_unknown_sales_or_offers_leave_the_expected_profit_unknown() -> None:
    event, quotes = _opened(rank_drops=(45, 130))  # no offer count
    message = OpportunityMessage.from_event(event, quotes[Market.FR])
    assert message.sell_signals is not None
    assert message.sell_signals.competition.new_offer_count is None
    assert (message.expected_monthly_units, message.expected_monthly_profit_eur_cents) == (
        None,
        None,
    )
    # no sell quote (or one stored without signals): no signals at all
    bare = OpportunityMessage.from_event(event, replace(quotes[Market.FR], signals=None))
    assert (bare.sell_signals, bare.expected_monthly_profit_eur_cents) == (None, None)


def test_a_version_2_event_is_read_without_signals() -> None:
    event, quotes = _opened(new_offers=4, rank_drops=(45, 130))
    raw = orjson.loads(encode(OpportunityMessage.from_event(event, quotes[Market.FR])))
    for field in ("sell_signals", "expected_monthly_units", "expected_monthly_profit_eur_cents"):
        del raw[field]
    message = OPPORTUNITY.decode(orjson.dumps({**raw, "schema_version": 2}))
    assert message.schema_version == 2
    assert (message.sell_signals, message.expected_monthly_profit_eur_cents) == (None, None)
    assert message.profit_eur_cents == 637


def test_signals_of_another_market_than_the_sell_market_are_refused() -> None:
    event, quotes = _opened(new_offers=4)
    raw = orjson.loads(encode(OpportunityMessage.from_event(event, quotes[Market.FR])))
    raw["sell_signals"]["market"] = "DE"
    with pytest.raises(ContractError, match="sell_signals of DE"):
        OPPORTUNITY.decode(orjson.dumps(raw))
