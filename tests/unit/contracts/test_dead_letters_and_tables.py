"""Dead-letter headers, the sink's dead letters, and the tables' versioned state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import orjson
import pytest

from app.contracts.base import ContractError, encode
from app.contracts.dead_letters import (
    SINK_DEAD_LETTER,
    DeadLetter,
    NotificationDeadLetter,
    SinkDeadLetter,
)
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
HOUR = timedelta(hours=1)


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


def test_notification_dead_letter_headers_round_trip() -> None:
    """A webhook body that is no notification: no source topic, the time it was received."""
    letter = NotificationDeadLetter(
        reason="unknown_domain",
        error="é" * 700,
        source="webhook",
        received_at=datetime(2026, 3, 13, 9, 31, 7, 250000, tzinfo=UTC),
    )
    headers = letter.headers()
    assert headers == {
        "dlq.schema_version": b"1",
        "dlq.reason": b"unknown_domain",
        "dlq.error": ("é" * 500).encode(),
        "dlq.source": b"webhook",
        "dlq.received_at": b"2026-03-13T09:31:07.250000Z",
    }
    read = NotificationDeadLetter.from_headers([*headers.items(), ("trace", b"x")])
    assert read == msgspec.structs.replace(letter, error="é" * 500)
    with pytest.raises(msgspec.ValidationError):
        NotificationDeadLetter.from_headers({**headers, "dlq.source": b"topic"})


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
    # storage (FR, 0.0015 m3 x 2865 = 4.2975 -> 4):
    # 4000 - 720 - 425 - (14 + 9) DSF - 4 - 510 - 1681 = 637,
    # ROI 637 / (1681 + 510 + 4) = 637 / 2195 = 0.29021 -> 0.2902
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
    assert restored.routes["DE:FR"].roi == Decimal("0.2902")
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
    assert (events[0].reason, events[0].profit_eur_cents) == ("stale_quote", 637)
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
    "raw", [b'{"schema_version": 4, "quotes": {}}', b'{"US": {}}', b"[1]", b"{"]
)
def test_unreadable_state_raises_a_contract_error(raw: bytes) -> None:
    with pytest.raises(ContractError):
        QUOTES_STATE.decode(raw)


# --- open routes of version 1 (former pricing policy), converted on read ---------------------

V1_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
#: The open route DE -> FR 48.00 exactly as a worker of the former pricing policy stored it
#: (profit 4000 - 720 referral - 425 FBA - 510 shipping - 1681 net buy = 664, ROI
#: 664 / (1681 + 510) = 0.3031).
V1_ROUTE: dict[str, Any] = {
    "route": "DE:FR",
    "profit_eur_cents": 664,
    "roi": "0.3031",
    "first_seen": "2026-03-01T12:00:00Z",
    "last_seen": "2026-03-01T12:00:00Z",
    "evaluation": {
        "asin": ASIN,
        "title": "Acme Stainless Steel Water Bottle 750 ml",
        "buy_market": "DE",
        "sell_market": "FR",
        "buy_price_minor": 2000,
        "sell_price_minor": 4800,
        "buy_price_eur_cents": 2000,
        "sell_price_eur_cents": 4800,
        "breakdown": {
            "net_sell_eur_cents": 4000,
            "referral_fee_eur_cents": 720,
            "fba_fee_eur_cents": 425,
            "shipping_eur_cents": 510,
            "net_buy_eur_cents": 1681,
            "vat_sell_eur_cents": 800,
            "vat_buy_eur_cents": 319,
        },
        "profit_eur_cents": 664,
        "roi": "0.3031",
        "margin": "0.1660",
        "referral_fee_rate": "0.15",
        "fba_fee_estimated": False,
        "buy_observed_at": "2026-03-01T12:00:00Z",
        "sell_observed_at": "2026-03-01T12:00:00Z",
        "fba_fee_source": "size_tier",
        "eur_per_gbp": "1.17",
        "vat_mode": "registered",
        "is_opportunity": True,
    },
}


def _v1_quotes(fr_price: int | None, at: datetime) -> dict[Market, Any]:
    return {
        Market.DE: make_quote(ASIN, Market.DE, amazon=2000, last_update=V1_AT),
        Market.FR: make_quote(ASIN, Market.FR, buy_box=fr_price, referral_pct=15.0, last_update=at),
    }


@pytest.mark.parametrize(
    "stored",
    [
        {"schema_version": 1, "routes": {"DE:FR": V1_ROUTE}},
        # before the envelope: a bare object, with the keys the worker added then
        {"DE:FR": {**V1_ROUTE, "evaluation": {**V1_ROUTE["evaluation"], "route": "DE:FR"}}},
    ],
)
def test_a_version_1_open_route_is_converted_on_read(stored: dict[str, Any]) -> None:
    [(key, route)] = OPEN_ROUTES_STATE.decode(orjson.dumps(stored)).routes.items()
    assert (key, route.route, route.profit_eur_cents, route.roi) == (
        "DE:FR", "DE:FR", 664, Decimal("0.3031"),
    )  # fmt: skip
    assert route.first_seen == route.last_seen == V1_AT
    assert route.profile_version == "unknown"
    b = route.evaluation
    assert (b.asin, b.route_key, b.category, b.on) == (ASIN, "DE:FR", "unknown", V1_AT.date())
    assert [(x.kind, x.eur_cents, x.is_cost) for x in b.lines] == [
        ("sales_vat", 800, False),
        ("purchase_vat", 319, False),  # registered: recovered, version 1's net buy is net
        ("referral", 720, True),
        ("fba", 425, True),
        ("inbound_shipping", 510, True),
    ]
    # the version-1 profit is still net sell - cost lines - net buy: 4000 - 1655 - 1681 = 664
    assert b.net_sell_eur_cents - b.total_costs_eur_cents - b.net_buy_eur_cents == 664
    assert b.profit_eur_cents == 664
    assert b.investment_eur_cents == 1681 + 510
    assert (b.sell_vat_rate, b.buy_vat_rate) == (Decimal("0.20"), Decimal("0.19"))
    assert b.is_opportunity
    # written back as version 2, and read back equal
    again = OPEN_ROUTES_STATE.encode(OpenRoutesState(routes={key: route}))
    assert orjson.loads(again)["schema_version"] == 2
    assert OPEN_ROUTES_STATE.decode(again).routes == {key: route}


def test_an_unrecoverable_purchase_vat_of_version_1_is_a_cost_line() -> None:
    # version 1, VAT_MODE=unrecoverable: net buy = gross 2000, profit 4000 - 720 - 425 - 510
    # - 2000 = 345 (it was open under a lower threshold)
    evaluation = {
        **V1_ROUTE["evaluation"],
        "vat_mode": "unrecoverable",
        "profit_eur_cents": 345,
        "breakdown": {**V1_ROUTE["evaluation"]["breakdown"], "net_buy_eur_cents": 2000},
    }
    stored = {"schema_version": 1, "routes": {"DE:FR": {**V1_ROUTE, "evaluation": evaluation}}}
    b = OPEN_ROUTES_STATE.decode(orjson.dumps(stored)).routes["DE:FR"].evaluation
    assert b.line("purchase_vat") is not None
    assert b.line("purchase_vat").is_cost  # type: ignore[union-attr]
    # net buy 2000 - 319 = 1681; costs 319 + 720 + 425 + 510 = 1974: 4000 - 1974 - 1681 = 345
    assert (b.net_buy_eur_cents, b.total_costs_eur_cents) == (1681, 1974)
    assert b.net_sell_eur_cents - b.total_costs_eur_cents - b.net_buy_eur_cents == 345
    assert b.investment_eur_cents == 2000 + 510


def _upgraded() -> dict[str, Any]:
    return OPEN_ROUTES_STATE.decode(  # type: ignore[return-value]
        orjson.dumps({"schema_version": 1, "routes": {"DE:FR": V1_ROUTE}})
    ).routes


def test_a_worker_upgraded_in_place_closes_a_version_1_route() -> None:
    # FR falls to 40.00 (2026-03-01, DSF 2 %, storage 4 as in _opened):
    # 3333 - 600 - 425 - (12 + 9) - 4 - 510 - 1681 = 92
    at = V1_AT + HOUR
    step = detect(_v1_quotes(4000, at), _upgraded(), POLICY, PRICING, at)
    [closed] = step.events
    assert (closed.event, closed.reason, closed.profit_eur_cents) == (
        "closed", "below_threshold", 92,
    )  # fmt: skip
    assert closed.first_seen == V1_AT  # the version-1 opening
    assert closed.profile_version == "v-test"
    assert step.open == {}


def test_a_version_1_route_closed_without_an_evaluation_publishes_its_version_1_figures() -> None:
    at = V1_AT + 25 * HOUR  # the DE quote is now stale
    quotes = {Market.FR: make_quote(ASIN, Market.FR, buy_box=4800, last_update=at)}
    quotes[Market.DE] = make_quote(ASIN, Market.DE, amazon=2000, last_update=V1_AT)
    step = detect(quotes, _upgraded(), POLICY, PRICING, at)
    [closed] = step.events
    assert (closed.reason, closed.profit_eur_cents, closed.profile_version) == (
        "stale_quote", 664, "unknown",
    )  # fmt: skip


def test_a_version_1_route_updates_against_its_published_profit() -> None:
    # FR 48.00 under the profile: 4000 - 720 - 425 - (14 + 9) - 4 - 510 - 1681 = 637;
    # |637 - 664| = 27 < 50: no event, still open, now priced with the profile
    at = V1_AT + HOUR
    step = detect(_v1_quotes(4800, at), _upgraded(), POLICY, PRICING, at)
    assert step.events == []
    assert step.open["DE:FR"].profit_eur_cents == 664  # the last published figure
    assert step.open["DE:FR"].profile_version == "v-test"
    assert step.open["DE:FR"].first_seen == V1_AT
    # FR 52.00: 5200 / 1.2 = 4333.33 -> 4333; referral 780; DSF 780 x 0.02 = 15.6 -> 16 +
    # 425 x 0.02 = 8.5 -> 9; storage 4; 4333 - 780 - 425 - 25 - 4 - 510 - 1681 = 908;
    # 908 - 664 = 244 >= 50
    later = V1_AT + 2 * HOUR
    step = detect(_v1_quotes(5200, later), step.open, POLICY, PRICING, later)
    [updated] = step.events
    assert (updated.event, updated.profit_eur_cents, updated.first_seen) == (
        "updated", 908, V1_AT,
    )  # fmt: skip


@pytest.mark.parametrize(
    "raw",
    [
        b'{"schema_version": 3, "routes": {}}',
        b'{"schema_version": 1, "routes": {"DE:FR": {"route": "DE:FR"}}}',
        b"[1]",
        b"{",
    ],
)
def test_unreadable_open_routes_raise_a_contract_error(raw: bytes) -> None:
    with pytest.raises(ContractError) as info:
        OPEN_ROUTES_STATE.decode(raw)
    assert info.value.code in {"unsupported_version", "invalid_shape", "malformed_json"}
    if raw.startswith(b'{"schema_version": 3'):
        assert info.value.code == "unsupported_version"
