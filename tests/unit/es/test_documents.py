"""Pure document building: ids, external versions, state mapping and the index contract."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import orjson
import pytest

from app.contracts.keepa_products import quote_from_message
from app.contracts.opportunities import OPPORTUNITY, OpportunityMessage
from app.domain.detection import OpportunityEvent, Pricing, detect
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.keepa_prices import PriceType
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE
from app.domain.quote import MarketQuote
from app.es.documents import (
    EXTERNAL_GTE,
    PRODUCT_QUOTE_FIELDS,
    episode_action,
    episode_id,
    epoch_millis,
    history_id,
    open_for_seconds,
    opportunity_action,
    opportunity_actions,
    opportunity_id,
    product_actions,
    product_id,
    quote_from_product,
)
from app.es.indices import (
    LOGICAL_INDICES,
    OPPORTUNITIES,
    OPPORTUNITY_EPISODES,
    PRICE_HISTORY,
    PRODUCTS,
    mapping_for,
)
from app.settings import Settings
from tests.keepa_factory import keepa_product, make_quote, message
from tests.unit.contracts.version1_message import V1_MESSAGE

POLICY = DetectionPolicy()
FX = FxRates(eur_per_gbp=Decimal("1.17"), as_of=datetime(2025, 3, 1, tzinfo=UTC))
PRICING = Pricing(FX, DEFAULT_PROFILE, "v-test", default_fee_schedule())
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
T0_MS = 1_740_830_400_000  # 2025-03-01T12:00:00Z in epoch milliseconds
HOUR = timedelta(hours=1)
INDEXED_AT = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
NAMES = Settings(elasticsearch_index_prefix="t-").index


def de(at: datetime = T0) -> MarketQuote:
    return make_quote(market=Market.DE, amazon=2000, last_update=at)


def fr(price: int | None, at: datetime = T0) -> MarketQuote:
    return make_quote(market=Market.FR, buy_box=price, last_update=at)


def lifecycle() -> tuple[OpportunityEvent, OpportunityEvent, OpportunityEvent]:
    """opened (T0, 637) -> updated (T0+3h, 704) -> closed (T0+4h, 92: below threshold).

    DE 20.00 -> FR P on 2025-03-01, default profile (DE-established: DSF 2 % of the referral
    and of the FR card fee 425, each rounded), storage in FR 0.0015 m3 x 2865 = 4.2975 -> 4,
    inbound 510, net buy 2000 / 1.19 -> 1681:
      P=4800: 4000 - 720 - 425 - (14 + 9) - 4 - 510 - 1681 = 637
      P=4900: 4083 - 735 - 425 - (15 + 9) - 4 - 510 - 1681 = 704   (+67 >= the material change)
      P=4000: 3333 - 600 - 425 - (12 + 9) - 4 - 510 - 1681 = 92    (below the 500 minimum)
    """
    step = detect({Market.DE: de(), Market.FR: fr(4800)}, {}, POLICY, PRICING, T0)
    [opened] = step.events
    at = T0 + 3 * HOUR
    step = detect({Market.DE: de(), Market.FR: fr(4900, at)}, step.open, POLICY, PRICING, at)
    [updated] = step.events
    at = T0 + 4 * HOUR
    step = detect({Market.DE: de(), Market.FR: fr(4000, at)}, step.open, POLICY, PRICING, at)
    [closed] = step.events
    return opened, updated, closed


def msg(event: OpportunityEvent, sell: MarketQuote | None = None) -> OpportunityMessage:
    return OpportunityMessage.from_event(event, sell)


def assert_fits_mapping(source: Mapping[str, Any], logical: str) -> None:
    """Every field of the document is declared by the strict mapping of its index."""
    properties = mapping_for(logical)["properties"]
    assert set(source) <= set(properties), set(source) - set(properties)
    for name, value in source.items():
        if isinstance(value, Mapping) and properties[name].get("dynamic") == "strict":
            assert set(value) <= set(properties[name]["properties"])


# --- ids and versions ----------------------------------------------------------------------


def test_epoch_millis() -> None:
    assert epoch_millis(T0) == T0_MS
    assert epoch_millis(T0 + timedelta(microseconds=1999)) == T0_MS + 1
    assert epoch_millis(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    with pytest.raises(ValueError, match="naive"):
        epoch_millis(datetime(2025, 3, 1))


def test_ids() -> None:
    assert product_id("B0TESTAS1N", Market.GB) == "B0TESTAS1N:GB"
    assert product_id("B0TESTAS1N", "uk") == "B0TESTAS1N:GB"
    assert history_id("B0TESTAS1N", Market.DE, T0) == f"B0TESTAS1N:DE:{T0_MS // 1000}"
    assert opportunity_id("B0TESTAS1N", "DE", Market.FR) == "B0TESTAS1N:DE:FR"


# --- products and price history ------------------------------------------------------------


def test_product_actions_of_a_quote() -> None:
    quote = make_quote(market=Market.DE, amazon=2000, new_fba=2100, buy_box=2200, fba_fee=310)
    product, history = product_actions(quote, FX, NAMES, indexed_at=INDEXED_AT)

    assert product["_op_type"] == "index"
    assert product["_index"] == "t-products"
    assert product["_id"] == "B0TESTAS1N:DE"
    assert product["version"] == T0_MS == epoch_millis(quote.observed_at)
    assert product["version_type"] == "external_gte"
    doc = product["_source"]
    assert doc["asin"] == "B0TESTAS1N"
    assert (doc["market"], doc["currency"]) == ("DE", "EUR")
    assert doc["title"] == "Acme Stainless Steel Water Bottle 750 ml"
    assert (doc["buy_price_minor"], doc["sell_price_minor"]) == (2000, 2200)
    assert (doc["buy_price_eur_cents"], doc["sell_price_eur_cents"]) == (2000, 2200)
    assert doc["prices"] == {"AMAZON": 2000, "NEW_FBA": 2100, "BUY_BOX_SHIPPING": 2200}
    assert doc["fba_fee_minor"] == 310
    assert doc["package_weight_g"] == 500
    assert (doc["package_length_mm"], doc["package_width_mm"], doc["package_height_mm"]) == (
        200,
        150,
        50,
    )
    assert (doc["sales_rank"], doc["root_category"]) == (1234, 3167641)
    assert doc["image_url"] == "https://m.media-amazon.com/images/I/51Xk9sQ2fUL.jpg"
    assert doc["product_url"] == "https://www.amazon.de/dp/B0TESTAS1N"
    assert doc["amazon_in_stock"] is True
    assert doc["observed_at"] == "2025-03-01T12:00:00Z"
    assert doc["fetched_at"] == "2025-03-01T12:05:00Z"
    assert doc["indexed_at"] == "2025-03-01T12:30:00Z"
    assert_fits_mapping(doc, PRODUCTS)

    assert history["_op_type"] == "create"
    assert history["_index"] == "t-price-history"
    assert history["_id"] == f"B0TESTAS1N:DE:{T0_MS // 1000}"
    assert "version" not in history
    hist = history["_source"]
    assert hist["observed_at"] == "2025-03-01T12:00:00Z"
    assert hist["prices"] == doc["prices"]
    assert (hist["buy_price_eur_cents"], hist["sell_price_eur_cents"]) == (2000, 2200)
    assert_fits_mapping(hist, PRICE_HISTORY)


def test_gbp_prices_are_converted_with_fx() -> None:
    quote = make_quote(market=Market.GB, amazon=1999, buy_box=2500)
    product, history = product_actions(quote, FX, NAMES, indexed_at=INDEXED_AT)
    for doc in (product["_source"], history["_source"]):
        assert doc["currency"] == "GBP"
        assert (doc["buy_price_minor"], doc["sell_price_minor"]) == (1999, 2500)
        # 1999 p x 1.17 = 2338.83 -> 2339 c; 2500 p x 1.17 = 2925 c
        assert (doc["buy_price_eur_cents"], doc["sell_price_eur_cents"]) == (2339, 2925)
        assert doc["fx_eur_per_gbp"] == 1.17
    assert product["_id"] == "B0TESTAS1N:GB"


def test_without_fx_the_eur_fields_are_left_out() -> None:
    quote = make_quote(market=Market.GB, amazon=1999)
    for action in product_actions(quote, None, NAMES, indexed_at=INDEXED_AT):
        doc = action["_source"]
        assert "buy_price_eur_cents" not in doc
        assert "sell_price_eur_cents" not in doc
        assert "fx_eur_per_gbp" not in doc
        assert doc["buy_price_minor"] == 1999


def test_a_quote_without_prices_still_makes_documents() -> None:
    quote = make_quote(market=Market.FR, sales_rank=None, weight_g=None, dims=None)
    product, history = product_actions(quote, FX, NAMES, indexed_at=INDEXED_AT)
    doc = product["_source"]
    assert doc["buy_price_minor"] is None
    assert doc["buy_price_eur_cents"] is None
    assert doc["prices"] == {}
    assert doc["amazon_in_stock"] is False
    assert doc["sales_rank"] is None
    assert history["_source"]["sell_price_eur_cents"] is None


def test_versions_follow_event_time_not_fetch_time() -> None:
    older = make_quote(amazon=2000, last_update=T0, fetched_at=T0 + 5 * HOUR)
    newer = make_quote(amazon=1900, last_update=T0 + HOUR, fetched_at=T0 + 2 * HOUR)
    [old_product, old_history] = product_actions(older, FX, NAMES)
    [new_product, new_history] = product_actions(newer, FX, NAMES)
    assert old_product["_id"] == new_product["_id"]
    assert new_product["version"] - old_product["version"] == 3_600_000
    assert old_history["_id"] != new_history["_id"]


def test_quote_from_product_document() -> None:
    doc = {
        "asin": "B0TESTAS1N",
        "market": "GB",
        "buy_price_minor": 1999,
        "sell_price_minor": 2499,
        "referral_fee_rate": 0.15,
        "fba_fee_minor": 250,
        "package_weight_g": 400,
        "sales_rank": 321,
        "observed_at": "2026-11-20T12:00:00Z",
        "fetched_at": "2026-11-20T12:05:00Z",
    }
    q = quote_from_product(doc)
    assert q is not None
    assert (q.market, q.buy_price, q.sell_price, q.referral_fee_rate, q.sales_rank) == (
        Market.GB, 1999, 2499, Decimal("0.15"), 321,
    )  # fmt: skip
    assert (q.fba_fee, q.package_weight_g, q.package_length_mm) == (250, 400, None)
    assert q.fetched_at == datetime(2026, 11, 20, 12, 5, tzinfo=UTC)
    assert quote_from_product({"asin": "B0TESTAS1N"}) is None
    assert quote_from_product({**doc, "observed_at": "yesterday"}) is None


def test_quote_from_product_reads_back_what_product_action_wrote() -> None:
    quote = make_quote(market=Market.FR, amazon=2000, buy_box=2600, referral_pct=15.0, fba_fee=310)
    source = product_actions(quote, FX, indexed_at=INDEXED_AT)[0]["_source"]
    # (the provenance fields are only in the document of a notification's quote)
    assert set(PRODUCT_QUOTE_FIELDS) - {"source", "notification_id"} <= set(source)
    back = quote_from_product({k: source[k] for k in PRODUCT_QUOTE_FIELDS if k in source})
    assert back is not None
    assert (back.buy_price, back.sell_price, back.fba_fee, back.referral_fee_rate) == (
        2000, 2600, 310, Decimal("0.15"),
    )  # fmt: skip
    assert (back.observed_at, back.fetched_at, back.title) == (
        quote.observed_at, quote.fetched_at, quote.title,
    )  # fmt: skip
    assert (back.sales_rank, back.root_category, back.amazon_in_stock) == (1234, 3167641, True)
    assert (back.package_weight_g, back.package_height_mm) == (500, 50)
    # Keepa's price types: pricing tells Amazon's own offer (VAT invoice) by its AMAZON price
    assert back.prices == quote.prices
    assert back.prices["AMAZON"] == back.buy_price == 2000


def test_replayed_quote_builds_identical_actions() -> None:
    product = keepa_product(amazon=2000, buy_box=2400)
    first = quote_from_message(*message(product))
    again = quote_from_message(*message(product, T0 + 3 * HOUR))  # fetched again, same lastUpdate
    a = product_actions(first, FX, NAMES, indexed_at=INDEXED_AT)
    b = product_actions(again, FX, NAMES, indexed_at=INDEXED_AT)
    assert [x["_id"] for x in a] == [x["_id"] for x in b]
    assert a[0]["version"] == b[0]["version"]


def test_indexed_at_defaults_to_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    [product, _] = product_actions(de(), None, NAMES)
    indexed = datetime.fromisoformat(product["_source"]["indexed_at"])
    assert before <= indexed <= datetime.now(UTC)


def test_default_index_of_is_the_logical_name() -> None:
    product, history = product_actions(de(), None)
    assert (product["_index"], history["_index"]) == ("products", "price-history")
    opened, _, _ = lifecycle()
    assert opportunity_action(msg(opened))["_index"] == "opportunities"


# --- opportunities -------------------------------------------------------------------------


def test_opened_event() -> None:
    opened, _, _ = lifecycle()
    action = opportunity_action(msg(opened), NAMES)
    assert action["_op_type"] == "index"
    assert action["_index"] == "t-opportunities"
    assert action["_id"] == "B0TESTAS1N:DE:FR"
    assert action["version"] == T0_MS
    assert action["version_type"] == "external_gte"
    doc = action["_source"]
    assert (doc["state"], doc["last_event"], doc["reason"]) == ("open", "opened", None)
    assert doc["route"] == "DE:FR"
    assert (doc["buy_market"], doc["sell_market"]) == ("DE", "FR")
    assert doc["profit_eur_cents"] == 637
    assert doc["event_time"] == doc["first_seen"] == "2025-03-01T12:00:00Z"
    assert doc["last_seen"] == doc["opened_at"] == "2025-03-01T12:00:00Z"
    assert doc["closed_at"] is None
    assert doc["event_id"] == opened.event_id
    breakdown = doc["breakdown"]
    assert breakdown["lines"] == msgspec.to_builtins(msg(opened).breakdown.lines)
    assert [line["kind"] for line in breakdown["lines"] if line["is_cost"]] == [
        "referral",
        "fba",
        "storage",
        "digital_services_fee",
        "inbound_shipping",
    ]
    assert (breakdown["sell_vat_rate"], breakdown["buy_vat_rate"]) == (0.2, 0.19)
    assert breakdown["fees_on"] == "2025-03-01"
    assert (breakdown["total_costs_eur_cents"], breakdown["investment_eur_cents"]) == (
        720 + 425 + 4 + 23 + 510,
        1681 + 510 + 4,
    )
    assert (doc["roi"], doc["margin"]) == (0.2902, 0.1593)  # 637 / 2195, 637 / 4000
    assert (doc["category"], doc["profile_version"]) == ("default", "v-test")
    assert doc["failed_thresholds"] == []
    assert "fba_fee_from_card" in doc["estimates"]
    assert doc["buy_url"] == "https://www.amazon.de/dp/B0TESTAS1N"
    assert doc["sell_url"] == "https://www.amazon.fr/dp/B0TESTAS1N"
    assert (doc["buy_currency"], doc["sell_currency"]) == ("EUR", "EUR")
    assert doc["fx_eur_per_gbp"] == 1.17
    assert isinstance(doc["roi"], float)
    assert "event" not in doc
    assert_fits_mapping(doc, OPPORTUNITIES)


def test_updated_event_keeps_the_open_state_and_opened_at() -> None:
    _, updated, _ = lifecycle()
    action = opportunity_action(msg(updated), NAMES)
    doc = action["_source"]
    assert (doc["state"], doc["last_event"]) == ("open", "updated")
    assert doc["profit_eur_cents"] == 704
    assert doc["opened_at"] == doc["first_seen"] == "2025-03-01T12:00:00Z"
    assert doc["last_seen"] == doc["event_time"] == "2025-03-01T15:00:00Z"
    assert doc["closed_at"] is None
    assert action["version"] == T0_MS + 3 * 3_600_000


def test_closed_event() -> None:
    opened, _, closed = lifecycle()
    action = opportunity_action(msg(closed), NAMES)
    doc = action["_source"]
    assert (doc["state"], doc["last_event"], doc["reason"]) == (
        "closed",
        "closed",
        "below_threshold",
    )
    assert doc["closed_at"] == doc["last_seen"] == doc["event_time"] == "2025-03-01T16:00:00Z"
    assert doc["opened_at"] == "2025-03-01T12:00:00Z"
    assert doc["profit_eur_cents"] == 92
    assert doc["failed_thresholds"] == ["min_profit", "min_roi"]
    assert action["_id"] == opportunity_action(msg(opened), NAMES)["_id"]
    assert action["version"] == T0_MS + 4 * 3_600_000
    assert_fits_mapping(doc, OPPORTUNITIES)


def test_events_of_a_route_have_increasing_versions() -> None:
    versions = [opportunity_action(msg(e))["version"] for e in lifecycle()]
    assert versions == sorted(versions)
    assert len(set(versions)) == 3


def test_the_sell_quote_s_listing_facts_are_copied() -> None:
    opened, _, _ = lifecycle()
    sell = make_quote(market=Market.FR, buy_box=4800, sales_rank=1234, root_category=3167641)
    doc = opportunity_action(msg(opened, sell))["_source"]
    assert doc["sales_rank"] == 1234
    assert doc["root_category"] == 3167641
    assert doc["image_url"].startswith("https://m.media-amazon.com/images/I/")
    assert doc["amazon_sells_in_target"] is False
    assert_fits_mapping(doc, OPPORTUNITIES)
    bare = opportunity_action(msg(opened))["_source"]
    assert (bare["sales_rank"], bare["amazon_sells_in_target"]) == (None, None)


def _assert_fits(value: Mapping[str, Any], mapping: Mapping[str, Any], where: str) -> None:
    """Every field, at every depth, is declared by the (strict) mapping; values typed."""
    for name, item in value.items():
        assert name in mapping["properties"], f"{where}.{name}"
        field = mapping["properties"][name]
        if isinstance(item, Mapping):
            assert field["type"] == "object"
            _assert_fits(item, field, f"{where}.{name}")
        elif field["type"] == "double":
            assert item is None or isinstance(item, float), f"{where}.{name}: {item!r}"


def test_the_sell_markets_signals_are_copied() -> None:
    opened, _, _ = lifecycle()
    sell = make_quote(
        market=Market.FR,
        buy_box=4800,
        avg90={PriceType.BUY_BOX_SHIPPING: 3900},
        new_offers=4,
        rank_drops=(45, 130),
        buy_box_stats={Market.FR.amazon_seller_id: 62.5},
    )
    doc = opportunity_action(msg(opened, sell))["_source"]
    _assert_fits(doc, mapping_for(OPPORTUNITIES), "doc")
    signals = doc["sell_signals"]
    # 4800 > 3900 x 1.20 = 4680: a spike; 45 rank drops shared by 4 offers + 1: 9 units
    assert (signals["stability"]["spike"], signals["stability"]["avg90"]) == (True, 3900)
    assert signals["competition"]["amazon_buy_box_share"] == 0.625  # a number, not "0.625"
    assert signals["demand"]["estimate_method"] == "sales_rank_drops_30"
    assert doc["expected_monthly_units"] == 9.0
    assert doc["expected_monthly_profit_eur_cents"] == 9 * 637
    bare = opportunity_action(msg(opened))["_source"]  # no sell quote: unknown
    assert (
        bare["sell_signals"],
        bare["expected_monthly_units"],
        bare["expected_monthly_profit_eur_cents"],
    ) == (None, None, None)


def test_a_gb_route() -> None:
    quotes = {
        Market.GB: make_quote(market=Market.GB, amazon=1500),
        Market.DE: make_quote(market=Market.DE, buy_box=6000),
    }
    step = detect(quotes, {}, POLICY, PRICING, T0)
    [opened] = step.events
    action = opportunity_action(msg(opened), NAMES)
    assert action["_id"] == "B0TESTAS1N:GB:DE"
    assert action["_source"]["buy_currency"] == "GBP"
    assert action["_source"]["route"] == "GB:DE"


def test_times_are_written_in_utc_whatever_offset_the_message_had() -> None:
    opened, _, _ = lifecycle()
    data = msgspec.to_builtins(msg(opened))
    data["event_time"] = "2025-03-01T13:00:00+01:00"
    data["buy_observed_at"] = "2025-03-01T07:00:00-05:00"
    doc = opportunity_action(OPPORTUNITY.convert(data))["_source"]
    assert doc["event_time"] == doc["last_seen"] == "2025-03-01T12:00:00Z"
    assert doc["buy_observed_at"] == "2025-03-01T12:00:00Z"


# --- the contract itself -------------------------------------------------------------------


@pytest.mark.parametrize("logical", LOGICAL_INDICES)
def test_mappings_are_strict_and_copies(logical: str) -> None:
    mapping = mapping_for(logical)
    assert mapping["dynamic"] == "strict"
    mapping["properties"]["asin"]["type"] = "text"
    assert mapping_for(logical)["properties"]["asin"]["type"] == "keyword"


def test_unknown_logical_index() -> None:
    with pytest.raises(KeyError, match="unknown logical index"):
        mapping_for("orders")


def test_a_version_1_event_still_on_the_topic_is_indexed_converted() -> None:
    # What the sink does with a message of the former pricing policy (see
    # tests/unit/contracts/version1_message.py: profit 664 = 4000 - 720 - 425 - 510 - 1681).
    action = opportunity_action(OPPORTUNITY.decode(orjson.dumps(V1_MESSAGE)), NAMES)
    doc = action["_source"]
    assert (action["_id"], doc["state"], doc["profit_eur_cents"]) == (
        "B0TESTAS1N:DE:FR", "open", 664,
    )  # fmt: skip
    assert (doc["category"], doc["profile_version"], doc["failed_thresholds"]) == (
        "unknown", "unknown", [],
    )  # fmt: skip
    assert [(x["kind"], x["eur_cents"]) for x in doc["breakdown"]["lines"] if x["is_cost"]] == [
        ("referral", 720),
        ("fba", 425),
        ("inbound_shipping", 510),
    ]
    assert (doc["roi"], doc["margin"]) == (0.3031, 0.166)
    assert_fits_mapping(doc, OPPORTUNITIES)


# --- provenance: quotes merged from a Keepa notification -------------------------------------

NOTIFICATION_ID = "0123456789abcdef0123456789abcdef"


def _notified(quote: MarketQuote) -> MarketQuote:
    return replace(quote, source="notification", notification_id=NOTIFICATION_ID)


def test_the_documents_of_a_notifications_quote_say_so_and_are_read_back() -> None:
    quote = _notified(fr(4800))
    product, history = product_actions(quote, FX, NAMES, indexed_at=INDEXED_AT)
    for doc, logical in ((product["_source"], PRODUCTS), (history["_source"], PRICE_HISTORY)):
        assert (doc["source"], doc["notification_id"]) == ("notification", NOTIFICATION_ID)
        assert_fits_mapping(doc, logical)
    back = quote_from_product({k: product["_source"][k] for k in PRODUCT_QUOTE_FIELDS})
    assert back is not None
    assert (back.source, back.notification_id) == ("notification", NOTIFICATION_ID)
    # A product's quote: no provenance fields, the documents of before.
    plain = product_actions(fr(4800), FX, NAMES, indexed_at=INDEXED_AT)
    assert all("source" not in a["_source"] for a in plain)
    assert {
        k: v for k, v in product["_source"].items() if k not in ("source", "notification_id")
    } == plain[0]["_source"]


def test_an_opportunity_document_has_the_quote_sources_of_its_event() -> None:
    sell = _notified(fr(4800))
    [opened] = detect({Market.DE: de(), Market.FR: sell}, {}, POLICY, PRICING, T0).events
    with_sources = OpportunityMessage.from_event(opened, sell, de())
    from_products = OpportunityMessage.from_event(opened, fr(4800), de())
    doc = opportunity_action(with_sources, NAMES)["_source"]
    assert doc["quote_sources"] == {
        "buy": {"source": "product", "notification_id": None},
        "sell": {"source": "notification", "notification_id": NOTIFICATION_ID},
    }
    assert_fits_mapping(doc, OPPORTUNITIES)
    sources = mapping_for(OPPORTUNITIES)["properties"]["quote_sources"]["properties"]
    assert set(doc["quote_sources"]["sell"]) <= set(sources["sell"]["properties"])
    assert "quote_sources" not in opportunity_action(from_products, NAMES)["_source"]


# --- episodes (lifetime history) -----------------------------------------------------------


def test_a_closed_event_makes_its_episode_next_to_the_opportunity() -> None:
    *_, closed = lifecycle()
    [opportunity, episode] = opportunity_actions(msg(closed), NAMES)
    assert opportunity == opportunity_action(msg(closed), NAMES)
    # the opening at T0 (first_seen), closed at T0 + 4 h: 4 x 3600 = 14400 s
    assert opportunity["_source"]["open_for_seconds"] == 14_400
    assert episode == episode_action(msg(closed), NAMES)
    assert episode["_op_type"] == "index"
    assert episode["_index"] == "t-opportunity-episodes"
    assert episode["_id"] == f"{opportunity['_id']}:{T0_MS}"
    assert episode["_id"] == episode_id(closed.asin, Market.DE, Market.FR, T0)
    assert (episode["version"], episode["version_type"]) == (T0_MS + 4 * 3_600_000, EXTERNAL_GTE)
    doc = episode["_source"]
    assert doc == {
        "opportunity_id": opportunity["_id"],
        "asin": closed.asin,
        "route": "DE:FR",
        "buy_market": "DE",
        "sell_market": "FR",
        "category": msg(closed).category,
        "root_category": None,
        "opened_at": "2025-03-01T12:00:00Z",
        "closed_at": "2025-03-01T16:00:00Z",
        "lifetime_seconds": 14_400,
        "reason": "below_threshold",
        "profit_eur_cents": 92,
        "event_id": closed.event_id,
    }
    assert set(doc) == set(mapping_for(OPPORTUNITY_EPISODES)["properties"])
    assert_fits_mapping(opportunity["_source"], OPPORTUNITIES)


def test_open_events_make_no_episode_and_no_open_for_seconds() -> None:
    opened, updated, _ = lifecycle()
    for event in (opened, updated):
        [action] = opportunity_actions(msg(event), NAMES)
        assert action["_source"]["open_for_seconds"] is None
        with pytest.raises(ValueError, match="only a closed event ends an episode"):
            episode_action(msg(event))


def test_a_redelivered_closed_event_rewrites_the_same_episode() -> None:
    *_, closed = lifecycle()
    first, again = (opportunity_actions(msg(closed))[1] for _ in range(2))
    assert first == again  # same id and version: external_gte rewrites, never a second one


def test_a_reopened_route_makes_a_second_episode_with_its_own_id() -> None:
    *_, closed = lifecycle()
    later = replace(
        closed, first_seen=T0 + 5 * HOUR, event_time=T0 + 5 * HOUR + timedelta(seconds=90.9)
    )
    first, second = episode_action(msg(closed)), episode_action(msg(later))
    assert first["_id"] != second["_id"]
    assert second["_id"].endswith(f":{T0_MS + 5 * 3_600_000}")
    assert second["_source"]["lifetime_seconds"] == 90  # whole seconds, floor


def test_open_for_seconds_is_whole_seconds_from_first_seen() -> None:
    *_, closed = lifecycle()
    message = msg(replace(closed, event_time=T0 + timedelta(seconds=59, milliseconds=999)))
    assert open_for_seconds(message) == 59
