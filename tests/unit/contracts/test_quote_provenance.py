"""Where a quote came from (a Keepa product or a Keepa notification) through every contract
that carries a quote: the quotes table (version 2; version 1 still read), the observation and
the opportunity event."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import msgspec
import orjson
import pytest

from app.contracts.base import ContractError, encode
from app.contracts.observations import OBSERVATION, Observation
from app.contracts.opportunities import (
    OPPORTUNITY,
    OpportunityMessage,
    QuoteProvenance,
    RouteQuoteSources,
)
from app.contracts.tables import QUOTES_STATE, QuotesState
from app.domain.detection import Pricing, detect
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE
from app.domain.quote import MarketQuote
from tests.keepa_factory import make_quote

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ASIN = "B0TESTAS1N"
NOTIFICATION_ID = "0123456789abcdef0123456789abcdef"
PRICING = Pricing(FxRates(Decimal("1.17"), T0), DEFAULT_PROFILE, "v-test", default_fee_schedule())


def _de() -> MarketQuote:
    return make_quote(ASIN, Market.DE, amazon=2000, last_update=T0)


def _fr_notified() -> MarketQuote:
    fr = make_quote(ASIN, Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0, last_update=T0)
    return replace(fr, source="notification", notification_id=NOTIFICATION_ID)


def test_a_quote_has_a_notification_id_exactly_when_it_came_from_a_notification() -> None:
    assert _de().source == "product"
    with pytest.raises(ValueError, match="notification_id"):
        replace(_de(), source="notification")
    with pytest.raises(ValueError, match="notification_id"):
        replace(_de(), notification_id=NOTIFICATION_ID)


def test_the_quotes_state_keeps_the_provenance() -> None:
    state = QuotesState(quotes={Market.DE: _de(), Market.FR: _fr_notified()})
    data = QUOTES_STATE.encode(state)
    raw = orjson.loads(data)
    assert raw["schema_version"] == 3  # 3: with the signals (tests/unit/contracts/test_signals)
    assert raw["quotes"]["FR"]["source"] == "notification"
    assert raw["quotes"]["FR"]["notification_id"] == NOTIFICATION_ID
    assert raw["quotes"]["DE"]["source"] == "product"
    assert QUOTES_STATE.decode(data) == state


def test_a_version_1_state_is_read_as_product_quotes() -> None:
    """As the worker wrote it before notifications: version 1, quotes without provenance."""
    quotes = msgspec.to_builtins({Market.DE: _de()})
    for quote in quotes.values():
        del quote["source"], quote["notification_id"]
    old = orjson.dumps({"schema_version": 1, "quotes": quotes, "profile_version": "v0"})
    state = QUOTES_STATE.decode(old)
    assert state.quotes == {Market.DE: _de()}
    assert state.quotes[Market.DE].source == "product"
    assert QUOTES_STATE.decode(orjson.dumps(quotes)).quotes == {Market.DE: _de()}  # bare


def test_a_newer_state_version_or_a_quote_breaking_the_rule_is_refused() -> None:
    with pytest.raises(ContractError) as newer:
        QUOTES_STATE.decode(b'{"schema_version": 4, "quotes": {}}')
    assert newer.value.code == "unsupported_version"
    quotes = msgspec.to_builtins({Market.FR: _fr_notified()})
    quotes["FR"]["notification_id"] = None
    with pytest.raises(ContractError) as broken:
        QUOTES_STATE.decode(orjson.dumps({"schema_version": 2, "quotes": quotes}))
    assert broken.value.code == "invalid_shape"


def test_the_observation_carries_the_provenance_both_ways() -> None:
    notified = _fr_notified()
    observation = OBSERVATION.decode(encode(Observation.from_quote(notified)))
    assert (observation.source, observation.notification_id) == ("notification", NOTIFICATION_ID)
    assert observation.to_quote() == notified
    # An observation published before the fields existed is a product's.
    raw = orjson.loads(encode(Observation.from_quote(_de())))
    del raw["source"], raw["notification_id"]
    assert OBSERVATION.decode(orjson.dumps(raw)).to_quote() == _de()
    with pytest.raises(ContractError):
        OBSERVATION.decode(orjson.dumps({**raw, "source": "notification"}))


def test_an_event_says_where_its_quotes_came_from_only_when_one_was_a_notification() -> None:
    de, fr = _de(), _fr_notified()
    [opened] = detect({Market.DE: de, Market.FR: fr}, {}, DetectionPolicy(), PRICING, T0).events
    message = OpportunityMessage.from_event(opened, fr, de)
    assert message.quote_sources == RouteQuoteSources(
        buy=QuoteProvenance(source="product"),
        sell=QuoteProvenance(source="notification", notification_id=NOTIFICATION_ID),
    )
    data = encode(message)
    assert orjson.loads(data)["quote_sources"] == {
        "buy": {"source": "product", "notification_id": None},
        "sell": {"source": "notification", "notification_id": NOTIFICATION_ID},
    }
    assert OPPORTUNITY.decode(data) == message
    # Both from products: the field is left out, the message is what it was before.
    from_products = OpportunityMessage.from_event(
        opened, replace(fr, source="product", notification_id=None), de
    )
    assert isinstance(from_products.quote_sources, msgspec.UnsetType)
    assert "quote_sources" not in orjson.loads(encode(from_products))
    assert encode(from_products) == encode(
        OpportunityMessage.from_event(opened, replace(fr, source="product", notification_id=None))
    )
