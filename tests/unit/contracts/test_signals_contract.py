"""The quality signals through the contracts that carry a quote: the quotes table (version 3;
versions 2 and 1, without signals, still read) and the observation."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import msgspec
import orjson

from app.contracts.base import encode
from app.contracts.observations import OBSERVATION, Observation
from app.contracts.tables import QUOTES_STATE, QuotesState
from app.domain.keepa_prices import PriceType
from app.domain.markets import Market
from app.domain.quote import MarketQuote
from tests.keepa_factory import make_quote

BB = PriceType.BUY_BOX_SHIPPING


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
