"""Each topic's message type: built from the domain, encoded, decoded, and back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import orjson
import pytest

from app.contracts.base import ContractError, encode
from app.contracts.fx_rates import FX_RATE, FxRate, rate_from_message
from app.contracts.keepa_products import ENVELOPE, envelope_key, make_envelope
from app.contracts.observations import OBSERVATION, Observation
from app.contracts.opportunities import OPPORTUNITY, OpportunityMessage
from app.domain.detection import Pricing, detect
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE
from app.domain.quote import MarketQuote
from tests.keepa_factory import keepa_product, make_quote
from tests.unit.contracts.version1_message import V1_MESSAGE

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FX = FxRates(Decimal("1.17"), datetime(2025, 3, 1, tzinfo=UTC))
ASIN = "B0TESTAS1N"


# --- keepa.products -------------------------------------------------------------------------


def test_make_envelope_keeps_the_product_and_the_second() -> None:
    product = keepa_product(ASIN, Market.GB, amazon=1999)
    envelope = make_envelope("gb", product, datetime(2025, 3, 1, 13, 0, 5, 999, tzinfo=UTC))
    assert envelope.domain is Market.GB
    assert envelope.fetched_at == datetime(2025, 3, 1, 13, 0, 5, tzinfo=UTC)
    assert envelope.product is product
    assert envelope_key(envelope) == ASIN
    doc = orjson.loads(ENVELOPE.encode(envelope))
    assert doc == {
        "schema_version": 1,
        "domain": "GB",
        "fetched_at": "2025-03-01T13:00:05Z",
        "product": product,
    }
    assert ENVELOPE.decode(ENVELOPE.encode(envelope)) == envelope
    with pytest.raises(ValueError, match="timezone"):
        make_envelope("DE", product, datetime(2025, 3, 1))


# --- arbitrage.observations -----------------------------------------------------------------


@pytest.mark.parametrize(
    "quote",
    [
        make_quote(ASIN, Market.DE, amazon=1999, buy_box=2099, fba_fee=312, referral_pct=15.0),
        make_quote(ASIN, Market.GB, new_fba=1450, referral_pct=7.5, dims=None),
        make_quote(ASIN, Market.IT, title=None, sales_rank=None, root_category=None),
    ],
    ids=["de-full", "gb-partial", "it-empty"],
)
def test_observation_round_trip(quote: MarketQuote) -> None:
    used = FxRates(Decimal("1.189980"), datetime(2025, 3, 14, 16, 0, tzinfo=UTC))
    message = Observation.from_quote(quote, used)
    data = encode(message)
    assert OBSERVATION.decode(data) == message
    assert OBSERVATION.decode(data).to_quote() == quote
    assert OBSERVATION.decode(data).fx_rates() == used
    doc = orjson.loads(data)
    assert doc["schema_version"] == 1
    assert doc["currency"] == quote.market.currency
    assert doc["observed_at"].endswith("Z")
    # exact: the rate as a decimal string, as the detector used it
    assert doc["fx"] == {"eur_per_gbp": "1.189980", "as_of": "2025-03-14T16:00:00Z"}


def test_an_observation_without_the_rate_or_version_is_read() -> None:
    quote = make_quote(ASIN, Market.FR, buy_box=5000)
    doc = msgspec.to_builtins(Observation.from_quote(quote))
    assert doc["fx"] is None
    del doc["schema_version"], doc["fx"]
    message = OBSERVATION.decode(orjson.dumps(doc))
    assert (message.to_quote(), message.fx_rates()) == (quote, None)


def test_an_observation_written_before_the_contract_is_read() -> None:
    """``MarketQuote.to_dict()`` plus ``fx`` (``FxRates.to_dict()``), as the detector wrote it."""
    quote = make_quote(ASIN, Market.GB, new_fba=1450, referral_pct=7.5)
    legacy = {
        **msgspec.to_builtins(Observation.from_quote(quote)),
        "fx": {"eur_per_gbp": "1.17", "as_of": "1970-01-01T00:00:00Z"},
    }
    del legacy["schema_version"]
    message = OBSERVATION.decode(orjson.dumps(legacy))
    assert message.to_quote() == quote
    assert message.fx_rates() == FxRates(Decimal("1.17"), datetime(1970, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"currency": "GBP"}, "currency GBP is not the currency of DE"),
        ({"referral_fee_rate": "NaN"}, "referral_fee_rate must be a finite"),
        ({"fx": {"eur_per_gbp": "0", "as_of": "2025-03-01T00:00:00Z"}}, "eur_per_gbp must be"),
        ({"fx": {"eur_per_gbp": "1.2"}}, "as_of"),
        ({"asin": "b0testas1n"}, "asin"),
        ({"sales_rank": 0}, "sales_rank"),
        ({"observed_at": "2025-03-01T12:00:00"}, "observed_at"),
        ({"prices": {"AMAZON": "1999"}}, "prices"),
    ],
)
def test_observations_breaking_the_contract_are_refused(change: dict[str, Any], match: str) -> None:
    doc = {**msgspec.to_builtins(Observation.from_quote(make_quote(ASIN, Market.DE))), **change}
    with pytest.raises(ContractError, match=match) as info:
        OBSERVATION.decode(orjson.dumps(doc))
    assert info.value.code == "invalid_shape"


# --- arbitrage.opportunities ----------------------------------------------------------------


POLICY = DetectionPolicy()
PRICING = Pricing(FX, DEFAULT_PROFILE, "v-test", default_fee_schedule())


def _quotes(fr_price: int = 4800, **fr: Any) -> dict[Market, MarketQuote]:
    return {
        Market.DE: make_quote(ASIN, Market.DE, amazon=2000, last_update=T0),
        Market.FR: make_quote(ASIN, Market.FR, buy_box=fr_price, last_update=T0, **fr),
    }


def test_an_opportunity_message_is_the_event_as_json() -> None:
    # DE 20.00 (Amazon) -> FR 48.00 on 2025-03-01, default profile (established in DE), 500 g
    # 200 x 150 x 50 mm, roots 3167641 / 77 unmapped: default category, referral 15 % assumed.
    #   net sell 4800 / 1.20 = 4000 (sales VAT 800 shown); net buy 2000 / 1.19 = 1680.67 ->
    #   1681 (purchase VAT 319 recovered: Amazon's offer, shown)
    #   referral 15 % x 4800 = 720; FBA: FR card, extra large envelope = 425
    #   DSF (DE-established on FR, 2024-10-01..2026-03-19: 2 % of selling + FBA fees):
    #     720 x 0.02 = 14.4 -> 14, 425 x 0.02 = 8.5 -> 9: 23
    #   storage (FR warehouse, March: January-September) 0.0015 m3 x 2865 = 4.2975 -> 4
    #   VAT on fees 20 % x (720 + 23 + 425 + 4 = 1172) = 234.4 -> 234, reverse-charged (shown)
    #   inbound 450 + 5 x 12 = 510
    #   costs 720 + 425 + 23 + 4 + 510 = 1682; profit 4000 - 1682 - 1681 = 637
    #   investment 1681 + 510 + 4 = 2195; ROI 637 / 2195 = 0.29021 -> 0.2902;
    #   margin 637 / 4000 = 0.15925 -> 0.1593 (half up)
    quotes = _quotes(sales_rank=4321, root_category=77, amazon=4999)
    [event] = detect(quotes, {}, POLICY, PRICING, T0).events
    data = orjson.loads(encode(OpportunityMessage.from_event(event, quotes[Market.FR])))
    assert data["schema_version"] == 3
    assert data["event"] == "opened"
    assert data["reason"] is None
    assert data["asin"] == ASIN
    assert data["title"] == "Acme Stainless Steel Water Bottle 750 ml"
    assert (data["buy_market"], data["sell_market"], data["route"]) == ("DE", "FR", "DE:FR")
    assert (data["buy_currency"], data["sell_currency"]) == ("EUR", "EUR")
    assert (data["buy_price_eur_cents"], data["sell_price_eur_cents"]) == (2000, 4800)
    breakdown = data["breakdown"]
    assert breakdown["fees_on"] == "2025-03-01"
    assert (breakdown["net_sell_eur_cents"], breakdown["net_buy_eur_cents"]) == (4000, 1681)
    assert Decimal(breakdown["sell_vat_rate"]) == Decimal("0.20")
    assert Decimal(breakdown["buy_vat_rate"]) == Decimal("0.19")
    assert breakdown["total_costs_eur_cents"] == 1682
    assert breakdown["investment_eur_cents"] == 2195
    assert [
        (line["kind"], line["amount_minor"], line["currency"], line["eur_cents"], line["is_cost"])
        for line in breakdown["lines"]
    ] == [
        ("sales_vat", 800, "EUR", 800, False),
        ("purchase_vat", 319, "EUR", 319, False),
        ("referral", 720, "EUR", 720, True),
        ("fba", 425, "EUR", 425, True),
        ("storage", 4, "EUR", 4, True),
        ("digital_services_fee", 23, "EUR", 23, True),
        ("fee_vat", 234, "EUR", 234, False),
        ("inbound_shipping", 510, "EUR", 510, True),
    ]
    assert all(line["note"] for line in breakdown["lines"])
    assert data["profit_eur_cents"] == 637
    assert (data["roi"], data["margin"]) == ("0.2902", "0.1593")
    assert data["category"] == "default"
    assert data["estimates"] == [
        "fba_fee_from_card",
        "referral_rate_assumed",
        "unverified:fba_card",
        "unverified:storage",
    ]
    assert data["failed_thresholds"] == []
    assert data["profile_version"] == "v-test"
    assert data["fx_eur_per_gbp"] == "1.17"
    for key in ("buy_observed_at", "sell_observed_at", "event_time", "first_seen"):
        assert data[key] == "2025-03-01T12:00:00Z"
    assert data["buy_url"] == "https://www.amazon.de/dp/B0TESTAS1N"
    assert data["sell_url"] == "https://www.amazon.fr/dp/B0TESTAS1N"
    assert len(data["event_id"]) == 40
    # the sell market's listing facts
    assert (data["sales_rank"], data["root_category"]) == (4321, 77)
    assert data["amazon_sells_in_target"] is True
    assert data["image_url"].startswith("https://m.media-amazon.com/images/I/")
    assert OPPORTUNITY.decode(orjson.dumps(data)) == OpportunityMessage.from_event(
        event, quotes[Market.FR]
    )


def test_a_closed_event_carries_its_reason_and_failed_thresholds() -> None:
    opened = detect(_quotes(), {}, POLICY, PRICING, T0)
    later = T0 + timedelta(hours=1)
    # FR 40.00: 3333 - 600 - 425 - (12 + 9) - 4 - 510 - 1681 = 92 < 500, ROI 92 / 2195 < 15 %
    [closed] = detect(_quotes(4000), opened.open, POLICY, PRICING, later).events
    message = OPPORTUNITY.decode(encode(OpportunityMessage.from_event(closed)))
    assert (message.event, message.reason) == ("closed", "below_threshold")
    assert message.profit_eur_cents == 92
    assert message.failed_thresholds == ["min_profit", "min_roi"]
    assert message.sales_rank is None  # no sell quote given: no listing facts


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"route": "DE:IT"}, "route 'DE:IT' is not DE:FR"),
        ({"sell_market": "DE", "route": "DE:DE"}, "buy and sell market are both DE"),
        ({"reason": "no_price"}, "reason 'no_price' does not go with a opened event"),
        ({"event": "closed"}, "reason None does not go with a closed event"),
        ({"event": "reopened"}, "reopened"),
        ({"breakdown": {"net_sell_eur_cents": 1}}, "breakdown"),
        ({"profit_eur_cents": 9.5}, "profit_eur_cents"),
    ],
)
def test_opportunities_breaking_the_contract_are_refused(
    change: dict[str, Any], match: str
) -> None:
    [event] = detect(_quotes(), {}, POLICY, PRICING, T0).events
    doc = {**msgspec.to_builtins(OpportunityMessage.from_event(event)), **change}
    with pytest.raises(ContractError, match=match) as info:
        OPPORTUNITY.decode(orjson.dumps(doc))
    assert info.value.code == "invalid_shape"


# --- fx.rates -------------------------------------------------------------------------------


def test_fx_rate_round_trip_is_exact() -> None:
    rates = FxRates(Decimal("1.189980"), datetime(2025, 3, 14, 16, 0, tzinfo=UTC))
    message = FxRate.from_rates(rates)
    data = encode(message)
    assert orjson.loads(data) == {
        "schema_version": 1,
        "currency": "GBP",
        "eur_per_gbp": "1.189980",
        "as_of": "2025-03-14T16:00:00Z",
        "source": "ecb",
    }
    assert rate_from_message(b"GBP", data).to_rates() == rates


def test_an_fx_rate_written_before_versions_is_read() -> None:
    legacy = (
        b'{"currency":"GBP","eur_per_gbp":"1.20","as_of":"2026-11-20T16:00:00Z","source":"ecb"}'
    )
    assert FX_RATE.decode(legacy).to_rates().eur_per_gbp == Decimal("1.20")
    # the global table's values before this contract: FxRates' old dict
    assert FX_RATE.decode(b'{"eur_per_gbp":"1.2","as_of":"2026-11-20T16:00:00Z"}').currency == "GBP"


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        (b"USD", b'{"eur_per_gbp":"1.2","as_of":"2026-11-20T16:00:00Z"}', "unsupported_currency"),
        (None, b'{"eur_per_gbp":"1.2","as_of":"2026-11-20T16:00:00Z"}', "unsupported_currency"),
        (b"GBP", b'{"schema_version":2,"rates":{"GBP":"1.2"}}', "unsupported_version"),
        (b"GBP", b'{"eur_per_gbp":"-1.2","as_of":"2026-11-20T16:00:00Z"}', "invalid_shape"),
        (b"GBP", b'{"eur_per_gbp":"Infinity","as_of":"2026-11-20T16:00:00Z"}', "invalid_shape"),
        (b"GBP", b'{"eur_per_gbp":"1.2","as_of":"2026-11-20"}', "invalid_shape"),
        (b"GBP", b'{"eur_per_gbp":"1.2"}', "invalid_shape"),
        (b"GBP", b"1.2", "not_an_object"),
        (b"GBP", b"{", "malformed_json"),
    ],
)
def test_unusable_fx_messages(key: bytes | None, value: bytes, code: str) -> None:
    with pytest.raises(ContractError) as info:
        rate_from_message(key, value)
    assert info.value.code == code


# --- version 1, still read ---------------------------------------------------------------------


def test_a_version_1_opportunity_is_read_and_converted() -> None:
    message = OPPORTUNITY.decode(orjson.dumps(V1_MESSAGE))
    assert message == OPPORTUNITY.convert(V1_MESSAGE)
    assert message.schema_version == 3
    assert (message.event, message.route, message.profit_eur_cents) == ("opened", "DE:FR", 664)
    assert message.sell_signals is None  # version 1 had no signals: unknown
    assert (message.roi, message.margin, message.fx_eur_per_gbp) == (
        Decimal("0.3031"), Decimal("0.166"), Decimal("1.17"),
    )  # fmt: skip
    assert (message.category, message.profile_version) == ("unknown", "unknown")
    assert (message.estimates, message.failed_thresholds) == ([], [])
    b = message.breakdown
    assert [(x.kind, x.amount_minor, x.currency, x.eur_cents, x.is_cost) for x in b.lines] == [
        ("sales_vat", 800, "EUR", 800, False),
        ("purchase_vat", 319, "EUR", 319, False),
        ("referral", 720, "EUR", 720, True),
        ("fba", 425, "EUR", 425, True),
        ("inbound_shipping", 510, "EUR", 510, True),
    ]
    # 720 + 425 + 510 = 1655; 4000 - 1655 - 1681 = 664, as version 1 said
    assert b.total_costs_eur_cents == 1655
    assert b.net_sell_eur_cents - b.total_costs_eur_cents - b.net_buy_eur_cents == 664
    assert (b.investment_eur_cents, b.fees_on) == (1681 + 510, date(2026, 3, 1))
    assert (b.sell_vat_rate, b.buy_vat_rate) == (Decimal("0.20"), Decimal("0.19"))
    assert (message.sales_rank, message.amazon_sells_in_target) == (1234, False)


def test_a_version_1_opportunity_with_unrecovered_vat_and_an_estimated_fee() -> None:
    # VAT_MODE=unrecoverable: net buy = gross 2000; 4000 - 720 - 425 - 510 - 2000 = 345
    v1 = {
        **V1_MESSAGE,
        "breakdown": {**V1_MESSAGE["breakdown"], "net_buy_eur_cents": 2000},
        "profit_eur_cents": 345,
        "fba_fee_estimated": True,
    }
    message = OPPORTUNITY.decode(orjson.dumps(v1))
    b = message.breakdown
    assert [(x.kind, x.is_cost) for x in b.lines][1] == ("purchase_vat", True)
    # net buy 2000 - 319 = 1681; costs 319 + 720 + 425 + 510 = 1974; 4000 - 1974 - 1681 = 345
    assert (b.net_buy_eur_cents, b.total_costs_eur_cents) == (1681, 1974)
    assert b.net_sell_eur_cents - b.total_costs_eur_cents - b.net_buy_eur_cents == 345
    assert message.estimates == ["fba_fee_estimated"]


@pytest.mark.parametrize(
    ("change", "code", "match"),
    [
        ({"schema_version": 4}, "unsupported_version", "reads 1, 2, 3"),
        ({"breakdown": {"net_sell_eur_cents": 1}}, "invalid_shape", "OpportunityMessageV1"),
        ({"route": "DE:IT"}, "invalid_shape", "route 'DE:IT' is not DE:FR"),
        ({"roi": "0.3031"}, "invalid_shape", "roi"),
    ],
)
def test_version_1_opportunities_breaking_version_1_are_refused(
    change: dict[str, Any], code: str, match: str
) -> None:
    for read in (
        lambda: OPPORTUNITY.decode(orjson.dumps({**V1_MESSAGE, **change})),
        lambda: OPPORTUNITY.convert({**V1_MESSAGE, **change}),
    ):
        with pytest.raises(ContractError, match=match) as info:
            read()
        assert info.value.code == code


def test_a_message_without_a_version_is_version_1() -> None:
    unversioned = {k: v for k, v in V1_MESSAGE.items() if k != "schema_version"}
    assert OPPORTUNITY.decode(orjson.dumps(unversioned)).profit_eur_cents == 664
