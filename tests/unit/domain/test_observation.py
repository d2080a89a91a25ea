"""The ``arbitrage.observations`` message: a quote and the rate it was evaluated with."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import orjson

from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.observation import Observation
from tests.keepa_factory import make_quote

FX = FxRates(Decimal("1.189980"), datetime(2025, 3, 14, 16, tzinfo=UTC))


def test_the_rate_travels_with_the_quote_exactly() -> None:
    quote = make_quote(market=Market.GB, buy_box=5200)
    message = orjson.loads(orjson.dumps(Observation(quote, FX).to_dict()))
    assert message["fx"] == {"eur_per_gbp": "1.189980", "as_of": "2025-03-14T16:00:00Z"}
    assert {k: v for k, v in message.items() if k != "fx"} == quote.to_dict()
    assert Observation.from_dict(message) == Observation(quote, FX)


def test_a_message_from_before_rates_were_attached_has_none() -> None:
    quote = make_quote(market=Market.GB, buy_box=5200)
    assert Observation.from_dict(quote.to_dict()) == Observation(quote, None)
