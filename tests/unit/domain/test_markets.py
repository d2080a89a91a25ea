from decimal import Decimal

import pytest

from app.domain.markets import ALL_ROUTES, MARKET_CODES, Market, Route, UnknownMarketError
from app.domain.money import Currency


@pytest.mark.parametrize(
    ("market", "currency", "domain_id", "vat", "host"),
    [
        (Market.DE, "EUR", 3, Decimal("0.19"), "amazon.de"),
        (Market.FR, "EUR", 4, Decimal("0.20"), "amazon.fr"),
        (Market.IT, "EUR", 8, Decimal("0.22"), "amazon.it"),
        (Market.ES, "EUR", 9, Decimal("0.21"), "amazon.es"),
        (Market.GB, "GBP", 2, Decimal("0.20"), "amazon.co.uk"),
    ],
)
def test_market_properties(
    market: Market, currency: str, domain_id: int, vat: Decimal, host: str
) -> None:
    assert market.currency == currency
    assert isinstance(market.currency, Currency)
    assert market.keepa_domain_id == domain_id
    assert market.vat_rate == vat
    assert market.amazon_host == host
    assert market.product_url("B0TESTAS1N") == f"https://www.{host}/dp/B0TESTAS1N"
    assert Market.from_keepa_domain_id(domain_id) is market
    assert Market.parse(market.value.lower()) is market
    assert market == market.value  # StrEnum: usable as a plain string


def test_amazon_seller_ids_are_amazons_storefront_ids_not_marketplace_ids() -> None:
    # Sources in app/domain/markets.py's module doc; the SP-API marketplace ids (DE
    # A1PA6795UKMFR9, FR A13V1IB3VIYZZH, IT APJ6JRA9NG5V4, ES A1RKKUPIHCS9HS, GB
    # A1F83G8C2ARO7P) are another thing, easily confused with them.
    assert {m.value: m.amazon_seller_id for m in Market} == {
        "DE": "A3JWKAKR8XB7XF",
        "FR": "A1X6FK5RDHNB96",
        "IT": "A11IL2PNWYJU7H",
        "ES": "A1AT7YVPFBWXBL",
        "GB": "A3P5ROKL5A1OLE",
    }
    marketplace_ids = {"A1PA6795UKMFR9", "A13V1IB3VIYZZH", "APJ6JRA9NG5V4", "A1RKKUPIHCS9HS"}
    assert not marketplace_ids & {m.amazon_seller_id for m in Market}


def test_market_codes_in_their_fixed_order() -> None:
    assert MARKET_CODES == ("DE", "FR", "IT", "ES", "GB")


def test_parse_accepts_uk_alias_and_whitespace() -> None:
    assert Market.parse(" uk ") is Market.GB


@pytest.mark.parametrize("value", ["US", "", "D", "amazon.de"])
def test_parse_unknown_market(value: str) -> None:
    with pytest.raises(UnknownMarketError, match="unknown or untracked market"):
        Market.parse(value)


@pytest.mark.parametrize("domain_id", [1, 5, 6, 10, 0, -1])
def test_unknown_keepa_domain_id(domain_id: int) -> None:
    with pytest.raises(UnknownMarketError) as info:
        Market.from_keepa_domain_id(domain_id)
    assert isinstance(info.value, ValueError)


def test_bool_is_not_a_domain_id() -> None:
    with pytest.raises(UnknownMarketError):
        Market.from_keepa_domain_id(True)


def test_all_routes() -> None:
    # 5 markets x 4 other markets = 20 ordered pairs.
    assert len(ALL_ROUTES) == 20
    assert len(set(ALL_ROUTES)) == 20
    assert all(route.buy is not route.sell for route in ALL_ROUTES)
    assert {(b, s) for b in Market for s in Market if b is not s} == set(ALL_ROUTES)
    assert ALL_ROUTES[0] == (Market.DE, Market.FR)


def test_route_key_round_trip() -> None:
    route = Route(Market.GB, Market.IT)
    assert route.key == "GB:IT"
    assert route.involves_gb
    assert not Route(Market.DE, Market.ES).involves_gb
    assert Route.from_key("GB:IT") == route
    with pytest.raises(ValueError, match="must look like"):
        Route.from_key("GBIT")
    with pytest.raises(ValueError, match="two different markets"):
        Route.from_key("DE:DE")
    with pytest.raises(UnknownMarketError):
        Route.from_key("DE:US")
