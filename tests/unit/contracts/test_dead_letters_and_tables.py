"""Dead-letter headers, the sink's dead letters, and the tables' versioned state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import msgspec
import orjson
import pytest

from app.contracts.base import ContractError, encode
from app.contracts.dead_letters import SINK_DEAD_LETTER, DeadLetter, SinkDeadLetter
from app.contracts.tables import OPEN_ROUTES_STATE, QUOTES_STATE, OpenRoutesState, QuotesState
from app.domain.detection import OpportunityEvent, Pricing, detect, diff_opportunities
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE
from app.domain.utc import format_utc
from tests.keepa_factory import make_quote

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FX = FxRates(Decimal("1.17"), T0)
ASIN = "B0TESTAS1N"


def test_dead_letter_headers_round_trip() -> None:
    letter = DeadLetter(
        reason="unsupported_version",
        error="KeepaProductsEnvelope schema_version 2 is not supported",
        source_topic="keepa.products",
        source_partition=3,
        source_offset=42,
    )
    headers = letter.headers()
    assert headers == {
        "dlq.schema_version": b"1",
        "dlq.reason": b"unsupported_version",
        "dlq.error": b"KeepaProductsEnvelope schema_version 2 is not supported",
        "dlq.source.topic": b"keepa.products",
        "dlq.source.partition": b"3",
        "dlq.source.offset": b"42",
    }
    # as a Kafka consumer gets them: a list of pairs, maybe with other headers
    assert DeadLetter.from_headers([*headers.items(), ("trace", b"x")]) == letter


def test_the_error_header_is_cut_on_a_character_boundary() -> None:
    letter = DeadLetter(
        reason="x", error="é" * 700, source_topic="t", source_partition=0, source_offset=0
    )
    error = letter.headers()["dlq.error"]
    assert len(error) == 1000
    assert error.decode("utf-8") == "é" * 500


def test_sink_dead_letters_are_json() -> None:
    letter = SinkDeadLetter(
        reason="rejected", error="400 mapper_parsing_exception", action={"_id": "A:DE"}
    )
    doc = orjson.loads(encode(letter))
    assert doc["schema_version"] == 1
    assert (doc["reason"], doc["action"], doc["message"]) == ("rejected", {"_id": "A:DE"}, None)
    assert SINK_DEAD_LETTER.decode(encode(letter)) == letter


# --- table state ----------------------------------------------------------------------------


POLICY = DetectionPolicy()
PRICING = Pricing(FX, DEFAULT_PROFILE, "v-test", default_fee_schedule())


def _opened() -> tuple[dict[Market, object], dict[str, object]]:
    # DE 20.00 -> FR 48.00 on 2025-03-01, default profile, Keepa referral 15 %, FR card 425:
    # 4000 - 720 - 425 - (14 + 9) DSF - 510 - 1681 = 641, ROI 641 / 2191 = 0.29256 -> 0.2926
    # (the lines are spelled out in tests/unit/contracts/test_messages.py)
    quotes = {
        Market.DE: make_quote(ASIN, Market.DE, amazon=2000, last_update=T0),
        Market.FR: make_quote(ASIN, Market.FR, buy_box=4800, referral_pct=15.0, last_update=T0),
    }
    return quotes, detect(quotes, {}, POLICY, PRICING, T0).open  # type: ignore[return-value]


def test_state_round_trips_exactly() -> None:
    quotes, routes = _opened()
    state = QuotesState(quotes=quotes)  # type: ignore[arg-type]
    assert QUOTES_STATE.decode(QUOTES_STATE.encode(state)) == state
    open_state = OpenRoutesState(routes=routes)  # type: ignore[arg-type]
    restored = OPEN_ROUTES_STATE.decode(OPEN_ROUTES_STATE.encode(open_state))
    assert restored == open_state
    assert restored.routes["DE:FR"].roi == Decimal("0.2926")
    assert restored.routes["DE:FR"].profile_version == "v-test"
    assert orjson.loads(OPEN_ROUTES_STATE.encode(open_state))["schema_version"] == 2


def test_a_close_after_a_restart_still_carries_the_figures() -> None:
    quotes, routes = _opened()
    data = OPEN_ROUTES_STATE.encode(OpenRoutesState(routes=routes))  # type: ignore[arg-type]
    restored = OPEN_ROUTES_STATE.decode(data).routes
    only_de = {Market.DE: quotes[Market.DE]}
    events, _ = diff_opportunities(
        restored,
        [],
        POLICY,
        "v-later",
        T0 + timedelta(hours=1),
        quotes=only_de,  # type: ignore[arg-type]
    )
    assert isinstance(events[0], OpportunityEvent)
    assert (events[0].reason, events[0].profit_eur_cents) == ("stale_quote", 641)
    # published with the profile the figures were computed with
    assert events[0].profile_version == "v-test"


def test_quotes_state_written_before_versions_is_read() -> None:
    """The quotes table's values as the worker wrote them before (MarketQuote.to_dict,
    JSON-encoded): a bare object, extra keys (currency...)."""
    quotes, _ = _opened()
    de = quotes[Market.DE]
    legacy_quote = {
        **msgspec.to_builtins(de),
        "currency": "EUR",
        "observed_at": format_utc(de.observed_at),  # type: ignore[attr-defined]
    }
    state = QUOTES_STATE.decode(orjson.dumps({"DE": legacy_quote}))
    assert state.quotes == {Market.DE: de}


@pytest.mark.parametrize(
    "raw", [b'{"schema_version": 2, "quotes": {}}', b'{"US": {}}', b"[1]", b"{"]
)
def test_unreadable_state_raises_a_contract_error(raw: bytes) -> None:
    with pytest.raises(ContractError):
        QUOTES_STATE.decode(raw)
