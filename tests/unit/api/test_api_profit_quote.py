"""``POST /profit/quote`` in-process: the real app and pricing model, with the stored quotes
served by an Elasticsearch double holding the sink's own ``products`` documents and the
values in force (profile, EUR/GBP rate) given directly instead of read from their topics.
Reading the topics and Elasticsearch for real: tests/integration/api/test_profit_quote.py.

Every figure is computed by hand (docs/pricing.md, worked example): default profile
(established in DE, VAT-registered everywhere, stock in every market), DE Amazon offer
EUR 20.00, FR buy box EUR 50.00, FBA EUR 3.00, referral 15 %, 500 g, 200 x 150 x 50 mm,
on 2026-11-20:

    net sell  5000 / 1.20 = 4166.67            -> 4167
    referral  15 % x 5000                      =  750
    FBA                                        =  300
    DSF       3 % x 750 = 22.5 -> 23, 3 % x 300 = 9   -> 32 (from 2026-03-20)
    storage   FR, October-December, 0.0015 m3 x 3968 c/m3 = 5.952 -> 6 (1 month)
    fee VAT   20 % x (750 + 32 + 300 + 6) = 217.6 -> 218, reverse-charged: shown only
    inbound   450 + 5 x 12                     =  510
    net buy   2000 / 1.19 = 1680.67            -> 1681 (Amazon's offer: VAT recovered)
    profit    4167 - 750 - 300 - 32 - 6 - 510 - 1681 = 888;
    ROI 888 / (1681 + 510 + 6) = 888 / 2197 = 0.40419 -> 0.4042
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from api_fakes import TOKEN, UnusedEs
from elasticsearch import ConnectionError as EsConnectionError
from fastapi.testclient import TestClient

from app.api.config import ApiSettings
from app.api.deps import get_es
from app.api.main import create_app
from app.api.params import MAX_PROFILE_OVERRIDES, MAX_QUOTE_BODY_BYTES
from app.api.routes.profit import InForce, get_in_force
from app.contracts.seller_profile import DEFAULT_IN_FORCE, profile_version
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.profile import with_overrides
from app.es.documents import product_action
from app.settings import Settings
from tests.keepa_factory import make_quote

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FX = FxRates(eur_per_gbp=Decimal("1.17"), as_of=datetime(2026, 11, 19, 16, 0, tzinfo=UTC))
ASIN = "B0WHATIF01"

BUY_DE = {
    "market": "DE",
    "price_minor": 2000,
    "seller": "amazon",
    "package_weight_g": 500,
    "package_length_mm": 200,
    "package_width_mm": 150,
    "package_height_mm": 50,
}
SELL_FR = {"market": "FR", "price_minor": 5000, "fba_fee_minor": 300, "referral_fee_rate": 0.15}
CLASSIC = {"buy": [BUY_DE], "sell": [SELL_FR], "as_of": "2026-11-20T12:00:00Z"}


class FixedInForce:
    """The values in force, as the topics would give them."""

    def __init__(self, fx: FxRates = FX) -> None:
        self.values = InForce(DEFAULT_IN_FORCE, fx)

    async def read(self) -> InForce:
        return self.values


class ProductsEs:
    """Elasticsearch's answer to the ``products`` search of one ASIN: the documents the sink
    writes (``product_action``) for ``quotes``."""

    def __init__(self, *quotes: Any, error: Exception | None = None) -> None:
        self.sources = [product_action(q, FX)["_source"] for q in quotes]
        self.error = error
        self.searches: list[dict[str, Any]] = []

    async def search(self, *, index: str, **request: Any) -> dict[str, Any]:
        self.searches.append({"index": index, **request})
        if self.error is not None:
            raise self.error
        [clause] = request["query"]["bool"]["filter"]
        asin = clause["term"]["asin"]
        hits = [{"_source": s} for s in self.sources if s["asin"] == asin]
        return {"hits": {"total": {"value": len(hits)}, "hits": hits}}


def client_for(es: Any, *, in_force: Any = None, kafka: str = "127.0.0.1:1") -> TestClient:
    settings = Settings(
        api_token=TOKEN,
        kafka_bootstrap_servers=kafka,
        topic_prefix="unit-",
        elasticsearch_index_prefix="unit-",
    )
    app = create_app(settings, ApiSettings())
    app.dependency_overrides[get_es] = lambda: es
    if in_force is not None:
        app.dependency_overrides[get_in_force] = lambda: in_force
    return TestClient(app)


@pytest.fixture(scope="module")
def offers() -> TestClient:
    """For explicit offers: Elasticsearch must not be used."""
    return client_for(UnusedEs(), in_force=FixedInForce())


def quote(client: TestClient, body: Mapping[str, Any]) -> dict[str, Any]:
    response = client.post("/profit/quote", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def only_route(body: dict[str, Any]) -> dict[str, Any]:
    [route] = body["routes"]
    return route


def lines(route: dict[str, Any]) -> dict[str, tuple[int, bool]]:
    return {
        line["kind"]: (line["eur_cents"], line["is_cost"]) for line in route["breakdown"]["lines"]
    }


def test_the_classic_example_from_explicit_offers(offers: TestClient) -> None:
    body = quote(offers, CLASSIC)
    route = only_route(body)
    assert (body["source"], body["asin"], body["fees_on"]) == ("offers", None, "2026-11-20")
    assert route["route"] == "DE:FR"
    assert route["profit_eur_cents"] == 888
    assert (route["roi"], route["margin"]) == (0.4042, 0.2131)  # 888/2197, 888/4167
    assert route["is_opportunity"] is True
    assert route["failed_thresholds"] == []
    assert lines(route) == {
        "sales_vat": (833, False),  # 5000 - 4167
        "purchase_vat": (319, False),  # 2000 - 1681, recovered (Amazon's offer)
        "referral": (750, True),
        "fba": (300, True),
        "digital_services_fee": (32, True),
        "storage": (6, True),
        "fee_vat": (218, False),  # 20 % x 1088 = 217.6, reverse-charged
        "inbound_shipping": (510, True),
    }
    b = route["breakdown"]
    assert (b["net_sell_eur_cents"], b["net_buy_eur_cents"]) == (4167, 1681)
    assert b["total_costs_eur_cents"] == 750 + 300 + 32 + 6 + 510
    assert b["investment_eur_cents"] == 1681 + 510 + 6
    assert b["fees_on"] == "2026-11-20"
    # Nothing overridden: the profile in force and its version.
    assert body["overrides"] == {}
    assert body["profile_version"] == body["profile_in_force_version"] == DEFAULT_IN_FORCE.version
    assert route["profile_version"] == DEFAULT_IN_FORCE.version
    assert body["unpriced"] == []


def test_the_fee_date_is_as_of(offers: TestClient) -> None:
    """Before 2026-03-20 the DSF of a DE-established seller in FR is 2 %: 2 % x 750 = 15,
    2 % x 300 = 6 -> 21; storage in March (January-September) 0.0015 m3 x 2865 = 4.2975 -> 4;
    profit 4167 - 750 - 300 - 21 - 4 - 510 - 1681 = 901."""
    route = only_route(quote(offers, {**CLASSIC, "as_of": "2026-03-19T23:00:00-01:00"}))
    assert route["breakdown"]["fees_on"] == "2026-03-20"  # as_of in UTC
    route = only_route(quote(offers, {**CLASSIC, "as_of": "2026-03-19T12:00:00Z"}))
    assert route["breakdown"]["fees_on"] == "2026-03-19"
    assert lines(route)["digital_services_fee"] == (21, True)
    assert route["profit_eur_cents"] == 901


def test_without_as_of_offers_are_priced_today(offers: TestClient) -> None:
    before = datetime.now(UTC).date()
    body = quote(offers, {"buy": [BUY_DE], "sell": [SELL_FR]})
    after = datetime.now(UTC).date()
    assert body["fees_on"] is None
    assert date.fromisoformat(only_route(body)["breakdown"]["fees_on"]) in {before, after}


def test_a_seller_not_vat_registered_in_the_sell_market_pays_vat_on_fees(
    offers: TestClient,
) -> None:
    """Registered in DE only: the 20 % FR VAT on Amazon's fees (750 + 32 + 300 + 6 storage
    = 1088, x 0.20 = 217.6 -> 218) is a cost; profit 888 - 218 = 670,
    ROI 670 / 2197 = 0.30496 -> 0.3050."""
    body = quote(offers, {**CLASSIC, "profile": {"vat_registered_in": ["DE"]}})
    route = only_route(body)
    assert lines(route)["fee_vat"] == (218, True)
    assert route["profit_eur_cents"] == 670
    assert route["roi"] == 0.305
    assert body["overrides"] == {"vat_registered_in": "DE"}
    assert body["profile"]["vat_registered_in"] == ["DE"]
    expected = with_overrides(DEFAULT_IN_FORCE.profile, {"vat_registered_in": "DE"})
    assert body["profile_version"] == route["profile_version"] == profile_version(expected)
    assert body["profile_version"] != body["profile_in_force_version"]
    # Registered nowhere: the same in FR.
    nowhere = only_route(quote(offers, {**CLASSIC, "profile": {"vat_registered_in": []}}))
    assert nowhere["profit_eur_cents"] == 670


def test_merchant_fulfilled_replaces_the_fba_fee_by_own_shipping(offers: TestClient) -> None:
    """FR merchant-fulfilled, EUR 4.50 own shipping: no FBA line (and no DSF on it: 3 % x 750
    = 22.5 -> 23), no Amazon storage (the stock is the seller's);
    profit 4167 - 750 - 450 - 23 - 510 - 1681 = 753, ROI 753 / 2191 = 0.34368."""
    profile = {"fulfilment": {"FR": {"mode": "mfn", "mfn_shipping_minor": 450}}}
    body = quote(offers, {**CLASSIC, "profile": profile})
    route = only_route(body)
    assert "fba" not in lines(route)
    assert "storage" not in lines(route)
    assert lines(route)["mfn_shipping"] == (450, True)
    assert lines(route)["digital_services_fee"] == (23, True)
    assert route["profit_eur_cents"] == 753
    assert route["roi"] == 0.3437
    assert body["overrides"] == {
        "fulfilment.FR.mode": "mfn",
        "fulfilment.FR.mfn_shipping_minor": "450",
    }
    # The same as dotted keys.
    dotted = {"fulfilment.FR.mode": "mfn", "fulfilment.FR.mfn_shipping_minor": 450}
    assert only_route(quote(offers, {**CLASSIC, "profile": dotted}))["profit_eur_cents"] == 753


def test_prep_cost_and_a_route_that_is_no_opportunity(offers: TestClient) -> None:
    """Prep EUR 0.40 and a EUR 9.00 minimum profit: 888 - 40 = 848 < 900, so the route is
    priced in full but fails min_profit (ROI 848 / (2197 + 40) = 0.37908 passes)."""
    profile = {"prep_eur_cents": 40, "thresholds": {"min_profit_eur_cents": 900}}
    route = only_route(quote(offers, {**CLASSIC, "profile": profile}))
    assert lines(route)["prep"] == (40, True)
    assert route["profit_eur_cents"] == 848
    assert route["breakdown"]["investment_eur_cents"] == 2237
    assert route["is_opportunity"] is False
    assert route["failed_thresholds"] == ["min_profit"]


def test_gb_is_priced_in_pence_and_efn_across_the_border_cannot_be(offers: TestClient) -> None:
    """DE 20.00 -> GB 50.00 GBP, FBA 2.50 GBP, at 1.17 EUR/GBP, each line converted once:
    net sell 5000 / 1.2 = 4167 p -> 4875.39 -> 4875 c; referral 750 p -> 877.5 -> 878;
    FBA 250 p -> 292.5 -> 293; DSF 2 % x 750 + 2 % x 250 = 15 + 5 = 20 p -> 23.4 -> 23;
    storage (GB, November) 1 500 000 mm3 / 28 316 846.592 mm3 per ft3 = 0.052972 ft3 x 100 p
    = 5.297 -> 5 p -> 5.85 -> 6; inbound 510, GB customs 500;
    profit 4875 - 878 - 293 - 23 - 6 - 510 - 500 - 1681 = 984.
    A third-party buy offer (VAT invoice assumed by the default profile) changes nothing."""
    sell_gb = {"market": "GB", "price_minor": 5000, "fba_fee_minor": 250, "referral_fee_rate": 0.15}
    buy = {**BUY_DE, "seller": "third_party"}
    body = quote(offers, {**CLASSIC, "buy": [buy], "sell": [SELL_FR, sell_gb]})
    assert [r["route"] for r in body["routes"]] == ["DE:FR", "DE:GB"]
    gb = body["routes"][1]
    assert gb["profit_eur_cents"] == 984
    assert (gb["sell_currency"], gb["sell_price_minor"], gb["sell_price_eur_cents"]) == (
        "GBP",
        5000,
        5850,
    )
    assert lines(gb)["referral"] == (878, True)
    assert lines(gb)["customs"] == (500, True)
    assert body["fx_eur_per_gbp"] == 1.17
    # Stock shipped from DE through EFN to GB: the schedule has no such fee (refused, said).
    efn = quote(offers, {**CLASSIC, "sell": [sell_gb], "profile": {"fulfilment.GB.mode": "efn"}})
    assert efn["routes"] == []
    [unpriced] = efn["unpriced"]
    assert (unpriced["route"], unpriced["reason"]) == ("DE:GB", "fee_schedule_gap")


def test_without_a_vat_invoice_the_purchase_vat_is_a_cost(offers: TestClient) -> None:
    """A third-party offer without a VAT invoice: the purchase VAT 319 is a cost;
    profit 888 - 319 = 569, investment 1681 + 319 + 510 + 6 = 2516 (ROI 0.22615)."""
    buy = {**BUY_DE, "seller": "third_party"}
    profile = {"third_party_vat_invoice": False}
    route = only_route(quote(offers, {**CLASSIC, "buy": [buy], "profile": profile}))
    assert lines(route)["purchase_vat"] == (319, True)
    assert route["profit_eur_cents"] == 569
    assert route["breakdown"]["investment_eur_cents"] == 2516
    # Amazon's own offer always comes with one.
    amazon = only_route(quote(offers, {**CLASSIC, "profile": profile}))
    assert amazon["profit_eur_cents"] == 888


# --- an ASIN's stored quotes ---------------------------------------------------------------


def stored(**quotes: Any) -> list[Any]:
    at = quotes.pop("at", T0)
    return [
        make_quote(ASIN, Market(m), last_update=at, weight_g=500, **kw) for m, kw in quotes.items()
    ]


def test_stored_quotes_of_an_asin_every_route_with_a_reason() -> None:
    """DE Amazon 20.00 (no sell price), FR and GB buy boxes only (no buy price): DE:FR 888
    and DE:GB 984 as above (the stored quotes measure 200 x 150 x 50 mm); the four routes from
    FR and GB have no buy price."""
    es = ProductsEs(
        *stored(
            DE={"amazon": 2000},
            FR={"buy_box": 5000, "fba_fee": 300, "referral_pct": 15.0},
            GB={"buy_box": 5000, "fba_fee": 250, "referral_pct": 15.0},
        )
    )
    body = quote(client_for(es, in_force=FixedInForce()), {"asin": ASIN})
    assert es.searches[0]["index"] == "unit-products"
    assert (body["asin"], body["source"], body["fees_on"]) == (ASIN, "stored_quotes", None)
    assert {r["route"]: r["profit_eur_cents"] for r in body["routes"]} == {
        "DE:FR": 888,
        "DE:GB": 984,
    }
    assert body["routes"][0]["breakdown"]["fees_on"] == "2026-11-20"  # the quotes' date
    assert body["routes"][0]["sell_observed_at"] == "2026-11-20T12:00:00Z"
    assert {(u["route"], u["reason"]) for u in body["unpriced"]} == {
        ("FR:DE", "no_buy_price"),
        ("FR:GB", "no_buy_price"),
        ("GB:DE", "no_buy_price"),
        ("GB:FR", "no_buy_price"),
    }


def test_a_quote_the_worker_would_ignore_as_stale_is_said() -> None:
    """The FR quote is 25 h older than the DE one (STALE_AFTER_HOURS 24)."""
    es = ProductsEs(
        *stored(DE={"amazon": 2000}, at=T0 + timedelta(hours=25)),
        *stored(FR={"buy_box": 5000, "fba_fee": 300, "referral_pct": 15.0}),
    )
    body = quote(client_for(es, in_force=FixedInForce()), {"asin": ASIN})
    assert body["routes"] == []
    assert [(u["route"], u["reason"]) for u in body["unpriced"]] == [
        ("DE:FR", "stale_quote"),
        ("FR:DE", "stale_quote"),
    ]


def test_an_unknown_asin_is_a_404() -> None:
    response = client_for(ProductsEs(), in_force=FixedInForce()).post(
        "/profit/quote", json={"asin": "B0NOTSEEN0"}
    )
    assert response.status_code == 404, response.text
    assert "B0NOTSEEN0" in response.json()["detail"]


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "loc"),
    [
        ({"thresholds": {"min_roi": "-0.1"}}, ["thresholds", "min_roi"]),
        ({"fulfilment": {"FR": {"mode": "mfn"}}}, ["fulfilment", "FR", "mfn_shipping_minor"]),
        ({"fulfilment": {"FR": {"mode": "drone"}}}, ["fulfilment", "FR", "mode"]),
        ({"vat_registered_in": ["DE", "US"]}, ["vat_registered_in"]),
        ({"prep_eur_cents": "a lot"}, ["prep_eur_cents"]),
        ({"prep_eur_cents": [{"x": 1}]}, ["prep_eur_cents", "0"]),
        ({"nonsense": 1}, ["nonsense"]),
        ({"a": {"b": {"c": {"d": {"e": 1}}}}}, ["a", "b", "c", "d"]),  # too deep
        ({f"k{i}": 1 for i in range(MAX_PROFILE_OVERRIDES + 1)}, []),
    ],
)
def test_an_invalid_override_is_a_422_naming_the_field(
    offers: TestClient, profile: dict[str, Any], loc: list[str]
) -> None:
    response = offers.post("/profit/quote", json={**CLASSIC, "profile": profile})
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["type"] == "invalid_profile"
    assert error["loc"] == ["body", "profile", *loc]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"asin": ASIN, **CLASSIC},  # both
        {"buy": [BUY_DE]},  # no sell side
        {"asin": ASIN, "title": "x"},
        {"asin": "not-an-asin"},
        {**CLASSIC, "buy": [BUY_DE, BUY_DE]},  # one offer per market
        {**CLASSIC, "buy": [{**BUY_DE, "price_minor": "2000"}]},  # integers are integers
        {**CLASSIC, "buy": [{**BUY_DE, "price_minor": 0}]},
        {**CLASSIC, "sell": [{**SELL_FR, "referral_fee_rate": 1.5}]},
        {**CLASSIC, "sell": [{**SELL_FR, "market": "US"}]},
        {**CLASSIC, "sell": [{**SELL_FR, "unknown": 1}]},
        {**CLASSIC, "as_of": "2026-11-20T12:00:00"},  # no time zone
    ],
)
def test_a_malformed_body_is_a_422(offers: TestClient, body: dict[str, Any]) -> None:
    response = offers.post("/profit/quote", json=body)
    assert response.status_code == 422, response.text


def test_a_body_too_large_is_refused_before_it_is_read(offers: TestClient) -> None:
    padding = "x" * MAX_QUOTE_BODY_BYTES
    response = offers.post("/profit/quote", json={**CLASSIC, "title": padding})
    assert response.status_code == 413, response.text
    # Streamed without a length: counted while it arrives.
    chunks = iter([b'{"title": "', padding.encode(), b'"}'])
    response = offers.post("/profit/quote", content=chunks)
    assert response.status_code == 413, response.text


def test_a_body_that_is_not_json_is_a_400(offers: TestClient) -> None:
    """Not UTF-8: FastAPI cannot even decode it (a 400, documented for the fuzz test)."""
    response = offers.post(
        "/profit/quote", content=b"\xc3(", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text


def test_no_token_is_needed_and_nothing_is_written(offers: TestClient) -> None:
    """A read: no Authorization header (the app has a token configured)."""
    assert offers.post("/profit/quote", json=CLASSIC).status_code == 200


def test_kafka_unreachable_is_a_503() -> None:
    """The values in force come from the topics; nothing listens on the broker address."""
    client = client_for(UnusedEs())
    response = client.post("/profit/quote", json=CLASSIC)
    assert response.status_code == 503, response.text
    assert "Kafka is unavailable" in response.json()["detail"]


def test_elasticsearch_unreachable_is_a_503() -> None:
    es = ProductsEs(error=EsConnectionError("refused"))
    response = client_for(es, in_force=FixedInForce()).post("/profit/quote", json={"asin": ASIN})
    assert response.status_code == 503, response.text
    # A body that fails validation never reaches Elasticsearch nor Kafka.
    response = client_for(UnusedEs()).post("/profit/quote", json={"asin": ASIN, "buy": []})
    assert response.status_code == 422


def test_the_endpoint_is_documented() -> None:
    schema = client_for(UnusedEs()).get("/openapi.json").json()
    operation = schema["paths"]["/profit/quote"]["post"]
    assert set(operation["responses"]) == {"200", "400", "404", "413", "422", "503"}
    assert "security" not in operation


def test_offers_without_dimensions_store_the_largest_standard_size(offers: TestClient) -> None:
    """No package dimensions: storage is priced for the largest standard size, 450 x 340 x 260
    mm = 0.03978 m3, FR in November 3968 x 0.03978 = 157.85 -> 158, and said
    (``dimensions_unknown``); the profit is 888 + 6 - 158 = 736."""
    no_dims = {"market": "DE", "price_minor": 2000, "seller": "amazon", "package_weight_g": 500}
    route = only_route(quote(offers, {**CLASSIC, "buy": [no_dims]}))
    assert lines(route)["storage"] == (158, True)
    assert route["profit_eur_cents"] == 736
    assert "dimensions_unknown" in route["estimates"]
