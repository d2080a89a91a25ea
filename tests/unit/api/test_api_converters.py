"""Documents as the worker writes them (real domain + document builders) -> response models,
with the enrichment from ``products`` documents."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from app.api.converters import (
    age_seconds,
    history_point,
    opportunity_route,
    parse_time,
    product_quote,
    watchlist_item,
)
from app.contracts.opportunities import OpportunityMessage
from app.domain.detection import Pricing, detect
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE
from app.es.documents import opportunity_action, price_history_action, product_action
from tests.keepa_factory import make_quote

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=2)
FX = FxRates(eur_per_gbp=Decimal("1.17"), as_of=T0)
ASIN = "B0TESTAS1N"
POLICY = DetectionPolicy()
PRICING = Pricing(FX, DEFAULT_PROFILE, "v-test", default_fee_schedule())


def quotes(fr_buy_box: int = 5000, **fr: Any) -> dict[Market, Any]:
    return {
        Market.DE: make_quote(ASIN, Market.DE, amazon=2000, last_update=T0),
        Market.FR: make_quote(
            ASIN, Market.FR, buy_box=fr_buy_box, fba_fee=300, referral_pct=15.0,
            last_update=T0, **fr,
        ),
    }  # fmt: skip


def opportunity_source(**extra: Any) -> dict[str, Any]:
    """The ``opportunities`` document of DE 20.00 -> FR 50.00 on 2026-11-20 (Keepa FBA 300,
    Keepa referral 15 %, default profile, DE-established: DSF 3 % on FR from 2026-03-20):
      net sell 5000 / 1.20 = 4166.67 -> 4167; net buy 2000 / 1.19 = 1680.67 -> 1681
      referral 750; FBA 300; DSF 750 x 0.03 = 22.5 -> 23 + 300 x 0.03 = 9 -> 32
      storage (FR, October-December, 200 x 150 x 50 mm = 0.0015 m3) 3968 x 0.0015 = 5.952 -> 6
      VAT on fees 0.20 x (750 + 32 + 300 + 6 = 1088) = 217.6 -> 218, reverse-charged (shown)
      inbound 450 + 5 x 12 = 510
      profit 4167 - 750 - 300 - 32 - 6 - 510 - 1681 = 888;
      ROI 888 / (1681 + 510 + 6) = 888 / 2197 = 0.40419 -> 0.4042;
      margin 888 / 4167 = 0.21310 -> 0.2131
    """
    (event,) = detect(quotes(), {}, POLICY, PRICING, T0).events
    message = msgspec.structs.replace(OpportunityMessage.from_event(event), **extra)
    source: dict[str, Any] = opportunity_action(message)["_source"]
    return source


def products_by_id(**fr: Any) -> dict[str, dict[str, Any]]:
    docs = {}
    for quote in quotes(**fr).values():
        action = product_action(quote, FX, indexed_at=T0)
        docs[action["_id"]] = action["_source"]
    return docs


def test_an_opened_route_with_its_breakdown() -> None:
    route = opportunity_route(opportunity_source(), NOW)
    assert (route.asin, route.route, route.state, route.last_event) == (
        ASIN,
        "DE:FR",
        "open",
        "opened",
    )
    assert (route.buy_market, route.sell_market) == (Market.DE, Market.FR)
    assert route.buy_url == "https://www.amazon.de/dp/B0TESTAS1N"
    assert route.sell_url == "https://www.amazon.fr/dp/B0TESTAS1N"
    assert (route.buy_price_eur_cents, route.sell_price_eur_cents) == (2000, 5000)
    assert route.profit_eur_cents == 888
    assert route.roi == pytest.approx(0.4042)
    assert route.margin == pytest.approx(0.2131)
    assert route.breakdown is not None
    breakdown = route.breakdown.model_dump()
    lines = breakdown.pop("lines")
    assert breakdown == {
        "fees_on": date(2026, 11, 20),
        "net_sell_eur_cents": 4167,
        "net_buy_eur_cents": 1681,
        "sell_vat_rate": 0.2,
        "buy_vat_rate": 0.19,
        "total_costs_eur_cents": 750 + 300 + 32 + 6 + 510,
        "investment_eur_cents": 1681 + 510 + 6,
    }
    assert [(line["kind"], line["eur_cents"], line["is_cost"]) for line in lines] == [
        ("sales_vat", 833, False),
        ("purchase_vat", 319, False),
        ("referral", 750, True),
        ("fba", 300, True),
        ("storage", 6, True),
        ("digital_services_fee", 32, True),
        ("fee_vat", 218, False),
        ("inbound_shipping", 510, True),
    ]
    assert (route.fee_category, route.profile_version) == ("default", "v-test")
    assert route.failed_thresholds == []
    # Keepa's referral rate and FBA fee: only the storage rates (not confirmed by a current
    # Amazon source) are said.
    assert route.estimates == ["unverified:storage"]
    assert route.first_seen == route.last_seen == T0
    assert route.age_seconds == 7200
    assert route.closed_at is None
    # no enrichment in the document and no products given: unknown
    assert (route.sales_rank, route.category, route.amazon_sells_in_target) == (None, None, None)
    assert route.image_url is None


def test_missing_enrichment_comes_from_the_sell_market_product() -> None:
    route = opportunity_route(opportunity_source(), NOW, products_by_id(sales_rank=777))
    assert route.sales_rank == 777  # FR's rank, not DE's (1234)
    assert route.category == 3167641
    assert route.amazon_sells_in_target is False  # FR has no AMAZON offer
    assert route.image_url == "https://m.media-amazon.com/images/I/51Xk9sQ2fUL.jpg"
    amazon_in_fr = opportunity_route(opportunity_source(), NOW, products_by_id(amazon=4800))
    assert amazon_in_fr.amazon_sells_in_target is True


def test_enrichment_recorded_in_the_opportunity_wins() -> None:
    source = opportunity_source(
        sales_rank=5, root_category=42, amazon_sells_in_target=False, image_url="https://i/x.jpg"
    )
    route = opportunity_route(source, NOW, products_by_id(sales_rank=777, amazon=4800))
    assert (route.sales_rank, route.category) == (5, 42)
    assert route.amazon_sells_in_target is False
    assert route.image_url == "https://i/x.jpg"


def test_the_sell_markets_signals_reach_the_route() -> None:
    fr = {"new_offers": 4, "rank_drops": (45, 130), "buy_box_stats": {"A1X6FK5RDHNB96": 62.5}}
    market_quotes = quotes(**fr)
    (event,) = detect(market_quotes, {}, POLICY, PRICING, T0).events
    message = OpportunityMessage.from_event(event, market_quotes[Market.FR])
    route = opportunity_route(opportunity_action(message)["_source"], NOW)
    assert route.sell_signals is not None
    assert route.sell_signals.market is Market.FR
    assert route.sell_signals.competition.amazon_buy_box_share == 0.625
    assert route.sell_signals.demand.estimated_monthly_sales == 45
    # 45 / (4 + 1) = 9 units x 888 (the profit of opportunity_source) = 7992 cents
    assert (route.expected_monthly_units, route.expected_monthly_profit_eur_cents) == (9.0, 7992)
    # a document written before the signals: unknown
    bare = opportunity_route(opportunity_source(), NOW)
    assert (bare.sell_signals, bare.expected_monthly_profit_eur_cents) == (None, None)


def test_a_closed_route() -> None:
    (opened,) = detect(quotes(), {}, POLICY, PRICING, T0).events
    step = detect(quotes(), {}, POLICY, PRICING, T0)
    later = T0 + timedelta(hours=1)
    lower = {**quotes(), Market.FR: quotes(3000)[Market.FR]}
    (closed,) = detect(lower, step.open, POLICY, PRICING, later).events
    closed_message = OpportunityMessage.from_event(closed)
    route = opportunity_route(opportunity_action(closed_message)["_source"], NOW)
    assert (route.state, route.last_event, route.reason) == ("closed", "closed", "below_threshold")
    assert route.closed_at == later
    assert route.first_seen == opened.first_seen == T0


def test_future_event_times_have_age_zero() -> None:
    assert age_seconds(NOW + timedelta(days=1), NOW) == 0
    assert age_seconds(None, NOW) == 0
    assert age_seconds(NOW - timedelta(seconds=61.9), NOW) == 61


def test_parse_time() -> None:
    assert parse_time("2026-11-20T12:00:00Z") == T0
    assert parse_time("2026-11-20T13:00:00+01:00") == T0
    assert parse_time(1_795_176_000_000) == datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert parse_time("garbage") is None
    assert parse_time(None) is None
    assert parse_time(True) is None


def test_product_quote_and_history_point() -> None:
    gb = make_quote(ASIN, Market.GB, buy_box=5000, fba_fee=250, last_update=T0)
    source = product_action(gb, FX, indexed_at=T0)["_source"]
    quote = product_quote(source, NOW)
    assert (quote.market, quote.currency) == (Market.GB, "GBP")
    assert (quote.sell_price_minor, quote.sell_price_eur_cents) == (5000, 5850)
    assert quote.fba_fee_minor == 250
    assert quote.category == 3167641
    assert quote.product_url == "https://www.amazon.co.uk/dp/B0TESTAS1N"
    assert quote.observed_at == T0
    assert quote.age_seconds == 7200
    assert quote.prices == {"BUY_BOX_SHIPPING": 5000}
    point = history_point(price_history_action(gb, FX)["_source"])
    assert (point.market, point.observed_at, point.sell_price_eur_cents) == (Market.GB, T0, 5850)


def test_watchlist_item() -> None:
    item = watchlist_item(
        {"asin": ASIN, "markets": ["DE", "FR"], "priority": 3, "added_at": "2026-11-20T12:00:00Z"}
    )
    assert item.markets == ["DE", "FR"]
    assert item.added_at == T0
    assert item.note is None
    assert watchlist_item({"asin": ASIN, "markets": "DE"}).markets == ["DE"]
