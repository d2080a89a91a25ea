"""Our Keepa facts (markets, price types, Keepa time, request limit) and csv reading agree
with the ``keepa`` package.

Neither app.domain nor app.keepa imports ``keepa`` at runtime (numpy + pandas cost seconds of
import), so these tests are what keeps our definitions honest.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import keepa
import numpy as np
import pytest
import responses
from keepa.constants import REQUEST_LIMIT, SCODES
from keepa.models.backend import Product
from keepa_fakes import BASE_URL, product_body

from app.domain.keepa_prices import CSV_LENGTH, PriceType
from app.domain.keepa_time import KEEPA_EPOCH, from_keepa_minutes, to_keepa_minutes
from app.domain.markets import Market, UnknownMarketError
from app.keepa import MAX_ASINS_PER_REQUEST, KeepaProductClient
from app.keepa.http import _STATUS_NAMES


def last_point(product: dict[str, Any], csv_type: PriceType) -> int:
    """The current value of a history: its last point (price + shipping for triples)."""
    history = product["csv"][csv_type]
    if not history:
        return -1
    if csv_type.has_shipping:
        price, shipping = history[-2], history[-1]
        return -1 if price < 0 else price + shipping
    value: int = history[-1]
    return value


def test_markets_match_keepa_domain_codes() -> None:
    for market in Market:
        assert keepa.DCODES[market.keepa_domain_id] == market.value
        assert keepa.Domain(market.value).value == market.value
        assert Market.from_keepa_domain_id(market.keepa_domain_id) is market
    assert {m.keepa_domain_id for m in Market} == {2, 3, 4, 8, 9}
    with pytest.raises(UnknownMarketError, match="untracked Keepa domain id 1"):
        Market.from_keepa_domain_id(1)  # amazon.com


def test_csv_types_match_keepa_csv_indices() -> None:
    assert [(t.value, t.name) for t in PriceType] == [(i, n) for i, n, _ in keepa.csv_indices]
    assert len(keepa.csv_indices) == CSV_LENGTH
    shipping = {t.name for t in PriceType if t.has_shipping}
    assert shipping == {n for _, n, _ in keepa.csv_indices if "SHIPPING" in n}
    assert PriceType.BUY_BOX_SHIPPING.stride == 3
    assert PriceType.NEW_FBA.stride == 2


def test_protocol_constants_match_keepa() -> None:
    assert MAX_ASINS_PER_REQUEST == REQUEST_LIMIT
    assert {str(k): v for k, v in _STATUS_NAMES.items()} == SCODES
    assert np.datetime64(KEEPA_EPOCH.replace(tzinfo=None), "m") == keepa.KEEPA_ST_ORDINAL


def test_keepa_time_matches_keepa(product_template: dict[str, Any]) -> None:
    minutes = product_template["lastUpdate"]
    theirs = keepa.keepa_minutes_to_time([minutes], to_datetime=True)[0]
    assert from_keepa_minutes(minutes) == theirs.replace(tzinfo=UTC)
    assert to_keepa_minutes(from_keepa_minutes(minutes)) == minutes
    # Keepa's documented conversion: unix ms = (keepaTime + 21564000) * 60000
    unix_ms = (minutes + 21_564_000) * 60_000
    assert from_keepa_minutes(minutes).timestamp() * 1000 == unix_ms
    with pytest.raises(ValueError, match="naive"):
        to_keepa_minutes(datetime(2025, 1, 1))


def test_fixture_product_is_valid_for_keepas_backend_model(
    product_template: dict[str, Any],
) -> None:
    product = Product.model_validate(product_template)
    assert product.asin == "B07QK9XW3T"
    assert product.fbaFees is not None
    assert product.fbaFees.pickAndPackFee == 612


@pytest.mark.parametrize(
    "csv_type",
    [
        PriceType.AMAZON,
        PriceType.NEW,
        PriceType.USED,  # out of stock now: -1 here, NaN in keepa
        PriceType.NEW_FBM_SHIPPING,
        PriceType.NEW_FBA,
        PriceType.BUY_BOX_SHIPPING,
    ],
)
def test_current_price_agrees_with_keepa_parser(
    csv_type: PriceType,
    product_template: dict[str, Any],
    keepa_http: responses.RequestsMock,
    fake_time: Any,
) -> None:
    """Fetch the product through our client, then read it with keepa.parse_csv."""
    keepa_http.get(f"{BASE_URL}/product", json=product_body([product_template]))
    client = KeepaProductClient(
        "x" * 64, base_url=BASE_URL, sleep=fake_time.sleep, clock=fake_time.clock
    )
    [product] = client.fetch_products("DE", [product_template["asin"]]).products

    ours = last_point(product, csv_type)
    parsed = keepa.parse_csv(product["csv"], to_datetime=True, out_of_stock_as_nan=True)
    theirs = float(parsed[csv_type.name][-1])

    if ours < 0:
        assert math.isnan(theirs)
    else:
        assert round(theirs * 100) == ours
    # and Keepa's own stats agree with both
    assert product["stats"]["current"][csv_type] == ours
    last_time = product["csv"][csv_type][-csv_type.stride]
    assert parsed[f"{csv_type.name}_time"][-1] == from_keepa_minutes(last_time).replace(tzinfo=None)
