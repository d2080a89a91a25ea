from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest

from app.contracts.base import ContractError
from app.contracts.keepa_products import ENVELOPE, quote_from_message
from app.domain.envelope import (
    BUY_PRICE_FALLBACK,
    BUY_PRICE_TYPES,
    SELL_PRICE_TYPES,
    InvalidEnvelope,
    observed_at,
    quote_from_keepa_product,
    quote_prices,
    sell_price_type,
)
from app.domain.keepa_prices import PRICE_TYPES_READ, PriceType
from app.domain.markets import Market
from app.domain.quote import MarketQuote
from tests.keepa_factory import (
    DEFAULT_FETCHED_AT,
    DEFAULT_LAST_UPDATE,
    envelope,
    keepa_product,
    message,
)

ASIN = "B0TESTAS1N"


def parse(product: dict[str, Any], **kwargs: Any) -> MarketQuote:
    return quote_from_message(*message(product, **kwargs))


# --- happy path -----------------------------------------------------------------------------


def test_full_product() -> None:
    product = keepa_product(
        ASIN,
        Market.DE,
        amazon=1999,
        new_fba=2049,
        fbm=1899,
        fbm_shipping=299,
        new=1850,
        buy_box=2099,
        fba_fee=312,
        referral_pct=15.0,
    )
    quote = parse(product)
    assert quote.asin == ASIN
    assert quote.market is Market.DE
    assert quote.currency == "EUR"
    assert quote.title == "Acme Stainless Steel Water Bottle 750 ml"
    # buy = min(AMAZON 1999, NEW_FBA 2049, FBM 1899 + 299 = 2198) = 1999; NEW ignored.
    assert quote.buy_price == 1999
    # sell = BUY_BOX_SHIPPING 2099 + 0.
    assert quote.sell_price == 2099
    assert quote.prices == {
        "AMAZON": 1999,
        "NEW": 1850,
        "NEW_FBM_SHIPPING": 2198,
        "NEW_FBA": 2049,
        "BUY_BOX_SHIPPING": 2099,
    }
    assert quote.amazon_in_stock is True
    assert quote.referral_fee_rate == Decimal("0.15")
    assert str(quote.referral_fee_rate) == "0.15"
    assert quote.fba_fee == 312
    assert quote.package_weight_g == 500
    assert quote.package_dims_mm == (200, 150, 50)
    assert quote.sales_rank == 1234
    assert quote.root_category == 3167641
    assert quote.image_url == "https://m.media-amazon.com/images/I/51Xk9sQ2fUL.jpg"
    assert quote.observed_at == DEFAULT_LAST_UPDATE
    assert quote.fetched_at == DEFAULT_FETCHED_AT
    assert quote.product_url == f"https://www.amazon.de/dp/{ASIN}"


def test_the_price_types_of_the_buy_and_sell_prices_are_all_read() -> None:
    # The types a quote's prices come from (tracked by Keepa thresholds too, see
    # app.domain.breakeven) are extracted from every product.
    used = {*BUY_PRICE_TYPES, BUY_PRICE_FALLBACK, *SELL_PRICE_TYPES}
    assert used <= set(PRICE_TYPES_READ)
    assert BUY_PRICE_TYPES == (PriceType.AMAZON, PriceType.NEW_FBA, PriceType.NEW_FBM_SHIPPING)
    assert SELL_PRICE_TYPES == (PriceType.BUY_BOX_SHIPPING, PriceType.NEW_FBA)


def test_fbm_with_shipping_can_be_the_cheapest_buy() -> None:
    # FBM 1799 + 150 shipping = 1949 < Amazon 1999.
    quote = parse(keepa_product(amazon=1999, fbm=1799, fbm_shipping=150))
    assert quote.buy_price == 1949


def test_buy_falls_back_to_new_and_no_sell_price() -> None:
    quote = parse(keepa_product(new=1799))
    assert quote.buy_price == 1799
    assert quote.sell_price is None
    assert quote.amazon_in_stock is False


def test_sell_falls_back_to_new_fba() -> None:
    quote = parse(keepa_product(new_fba=2500))
    assert quote.sell_price == 2500
    assert quote.buy_price == 2500


def test_buy_box_shipping_included_in_sell_price() -> None:
    quote = parse(keepa_product(buy_box=2000, buy_box_shipping=499))
    assert quote.sell_price == 2499


def test_product_without_any_price_is_a_valid_quote() -> None:
    quote = parse(keepa_product())
    assert quote.buy_price is None
    assert quote.sell_price is None
    assert quote.prices == {}
    assert quote.amazon_in_stock is False


def test_out_of_stock_amazon() -> None:
    quote = parse(keepa_product(amazon=-1, new_fba=2100))
    assert quote.amazon_in_stock is False
    assert "AMAZON" not in quote.prices
    assert quote.buy_price == 2100


def test_product_with_null_csv() -> None:
    product = keepa_product(stats=False)
    product["csv"] = None
    assert parse(product).buy_price is None


# --- stats.current vs csv ------------------------------------------------------------------


def test_stats_current_wins_over_csv() -> None:
    product = keepa_product(new_fba=2049)
    product["stats"]["current"][10] = 1950  # csv's last point still says 2049
    assert parse(product).prices["NEW_FBA"] == 1950


def test_csv_last_point_when_no_stats() -> None:
    product = keepa_product(amazon=1999, new_fba=2049, stats=False)
    assert "stats" not in product
    quote = parse(product)
    assert quote.prices == {"AMAZON": 1999, "NEW_FBA": 2049}


def test_csv_last_point_when_stats_value_unavailable() -> None:
    # stats.current -2 (or -1) is not > 0: the last csv point is used.
    product = keepa_product(amazon=1999)
    product["stats"]["current"][0] = -2
    assert parse(product).buy_price == 1999
    product["stats"]["current"][0] = -1
    assert parse(product).buy_price == 1999


def test_stats_shorter_than_price_type_index() -> None:
    product = keepa_product(buy_box=2099)
    product["stats"]["current"] = product["stats"]["current"][:5]
    assert parse(product).sell_price == 2099  # from csv


def test_shipping_triples_from_csv() -> None:
    # csv[7] = [t, 1989, 299, t, 1899, 299]: last price 1899 + shipping 299 = 2198.
    product = keepa_product(fbm=1899, fbm_shipping=299, stats=False)
    assert product["csv"][7][-3:] == [product["csv"][7][-3], 1899, 299]
    assert parse(product).prices["NEW_FBM_SHIPPING"] == 2198


def test_unknown_shipping_counts_as_zero() -> None:
    product = keepa_product(fbm=1899, fbm_shipping=-1, stats=False)
    assert parse(product).prices["NEW_FBM_SHIPPING"] == 1899


def test_stats_current_of_shipping_type_already_includes_shipping() -> None:
    product = keepa_product(buy_box=2000, buy_box_shipping=499)
    assert product["stats"]["current"][18] == 2499
    assert parse(product).sell_price == 2499  # not 2499 + 499


def test_out_of_stock_shipping_type_in_csv() -> None:
    product = keepa_product(buy_box=-1, buy_box_shipping=0, stats=False)
    assert parse(product).sell_price is None


def test_zero_price_is_not_a_price() -> None:
    product = keepa_product(amazon=0, stats=False)
    assert parse(product).buy_price is None


def test_unused_price_types_are_not_validated() -> None:
    product = keepa_product(amazon=1999)
    product["csv"][2] = ["garbage"]  # USED, never read
    product["stats"]["current"][2] = "x"
    assert parse(product).buy_price == 1999


# --- times ---------------------------------------------------------------------------------


def test_observed_at_falls_back_to_fetched_at() -> None:
    product = keepa_product(amazon=1999, last_update=None)
    assert "lastUpdate" not in product
    assert parse(product).observed_at == DEFAULT_FETCHED_AT
    product["lastUpdate"] = 0
    assert parse(product).observed_at == DEFAULT_FETCHED_AT


def test_fetched_at_with_offset_is_converted_to_utc() -> None:
    quote = parse(keepa_product(), fetched_at="2025-03-01T14:05:00+02:00")
    assert quote.fetched_at == datetime(2025, 3, 1, 12, 5, tzinfo=UTC)
    assert quote.fetched_at.tzinfo is UTC


def test_observed_at_from_last_update_minutes() -> None:
    when = datetime(2024, 12, 24, 18, 30, tzinfo=UTC)
    quote = parse(keepa_product(last_update=when), fetched_at=when + timedelta(hours=1))
    assert quote.observed_at == when


def test_observed_at_alone_is_the_quotes_event_time() -> None:
    fetched = datetime(2025, 3, 1, 12, 5, tzinfo=UTC)
    # Keepa minute 7,449,840 = 2011-01-01 + 7,449,840 min (5,173.5 days) = 2025-03-01 12:00
    noon = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert observed_at({"lastUpdate": 7_449_840}, fetched) == noon
    assert observed_at({}, fetched) == fetched
    assert observed_at({"lastUpdate": -1}, fetched) == fetched
    with pytest.raises(InvalidEnvelope) as bad:
        observed_at({"lastUpdate": "7449840"}, fetched)
    assert bad.value.code == "bad_timestamp"


# --- metadata ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"referralFeePercentage": 8.0}, Decimal("0.08")),
        ({"referralFeePercentage": 15}, Decimal("0.15")),
        ({"referralFeePercentage": 7.5}, Decimal("0.075")),
        ({"referralFeePercent": 12}, Decimal("0.12")),  # legacy field name
        ({"referralFeePercentage": 8.0, "referralFeePercent": 15}, Decimal("0.08")),
        ({"referralFeePercentage": None}, None),
        ({"referralFeePercentage": -1}, None),
        ({"referralFeePercentage": "15"}, None),
    ],
)
def test_referral_fee_rate(fields: dict[str, Any], expected: Decimal | None) -> None:
    product = keepa_product()
    product.pop("referralFeePercentage")
    product.update(fields)
    assert parse(product).referral_fee_rate == expected


def test_unusable_metadata_becomes_none() -> None:
    product = keepa_product(amazon=1999, fba_fee=-1, weight_g=None, dims=None)
    product.update({"title": "  ", "rootCategory": "x", "imagesCSV": "", "packageWeight": "heavy"})
    quote = parse(product)
    assert quote.fba_fee is None
    assert quote.package_weight_g is None
    assert quote.package_dims_mm is None
    assert quote.title is None
    assert quote.root_category is None
    assert quote.image_url is None
    assert quote.buy_price == 1999


def test_sales_rank_fallbacks() -> None:
    product = keepa_product(sales_rank=4321, stats=False)
    assert parse(product).sales_rank == 4321  # last point of csv[3]
    product["csv"][3] = None
    assert parse(product).sales_rank == 4321  # salesRanks[rootCategory]
    product["salesRanks"] = None
    assert parse(product).sales_rank is None


# --- key handling --------------------------------------------------------------------------


def test_missing_or_empty_key_is_accepted() -> None:
    _, value = message(keepa_product(amazon=1999))
    assert quote_from_message(None, value).asin == ASIN
    assert quote_from_message(b"", value).asin == ASIN


def test_quote_from_product_reads_a_product_without_its_message() -> None:
    product = keepa_product(amazon=1999)
    quote = quote_from_keepa_product(product, Market.DE, DEFAULT_FETCHED_AT, key_asin=ASIN)
    assert quote.buy_price == 1999


def test_fetched_at_is_taken_to_utc() -> None:
    value = _value(_set("fetched_at", "2025-03-01T13:05:00+01:00"), last_update=None)
    quote = quote_from_message(ASIN.encode(), value)
    assert quote.fetched_at == quote.observed_at == datetime(2025, 3, 1, 12, 5, tzinfo=UTC)
    assert quote.fetched_at.tzinfo is UTC


# --- invalid envelopes ---------------------------------------------------------------------


def _value(mutate: Any = None, **product_kwargs: Any) -> bytes:
    doc = envelope(keepa_product(ASIN, Market.DE, amazon=1999, **product_kwargs))
    if mutate is not None:
        mutate(doc)
    return orjson.dumps(doc)


def _set(path: str, value: Any) -> Any:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = doc
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


def _delete(path: str) -> Any:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = doc
        for part in parents:
            target = target[part]
        del target[last]

    return mutate


INVALID_CASES = [
    ("malformed_json", ASIN.encode(), b'{"domain": "DE", '),
    ("unsupported_version", ASIN.encode(), _value(_set("schema_version", 2))),
    ("unsupported_version", ASIN.encode(), _value(_set("schema_version", "1"))),
    ("unsupported_version", ASIN.encode(), b'{"schema_version": 2, "envelope": "new"}'),
    ("malformed_json", ASIN.encode(), b""),
    ("not_an_object", ASIN.encode(), b"[1, 2]"),
    ("not_an_object", ASIN.encode(), b'"B0TESTAS1N"'),
    ("missing_product", ASIN.encode(), _value(_delete("product"))),
    ("missing_product", ASIN.encode(), _value(_set("product", [1]))),
    ("missing_asin", None, _value(_delete("product.asin"))),
    ("missing_asin", None, _value(_set("product.asin", None))),
    ("missing_asin", None, _value(_set("product.asin", ""))),
    ("invalid_asin", None, _value(_set("product.asin", "b0testas1n"))),
    ("invalid_asin", None, _value(_set("product.asin", "B0TESTAS1"))),
    ("invalid_asin", None, _value(_set("product.asin", "B0TEST-AS1N"))),
    ("invalid_asin", None, _value(_set("product.asin", 1234567890))),
    ("invalid_asin", b"not-an-asin", _value()),
    ("invalid_asin", b"\xff\xfe\xfd", _value()),
    ("asin_mismatch", b"B0OTHERAS1", _value()),
    ("unknown_domain", ASIN.encode(), _value(_set("domain", "US"))),
    ("unknown_domain", ASIN.encode(), _value(_set("domain", 3))),
    ("unknown_domain", ASIN.encode(), _value(_delete("domain"))),
    ("domain_mismatch", ASIN.encode(), _value(_set("domain", "FR"))),
    ("domain_mismatch", ASIN.encode(), _value(_set("product.domainId", 1))),
    ("bad_timestamp", ASIN.encode(), _value(_set("fetched_at", "2025-03-01T12:05:00"))),
    ("bad_timestamp", ASIN.encode(), _value(_set("fetched_at", "yesterday"))),
    ("bad_timestamp", ASIN.encode(), _value(_set("fetched_at", 1740830700))),
    ("bad_timestamp", ASIN.encode(), _value(_delete("fetched_at"))),
    ("bad_timestamp", ASIN.encode(), _value(_set("product.lastUpdate", "7449840"))),
    ("bad_timestamp", ASIN.encode(), _value(_set("product.lastUpdate", 10**15))),
    ("nonsense_price", ASIN.encode(), _value(_set("product.csv.0.3", 19.99))),
    ("nonsense_price", ASIN.encode(), _value(_set("product.csv.0.3", -5))),
    ("nonsense_price", ASIN.encode(), _value(_set("product.csv.0.3", 10_000_001))),
    ("nonsense_price", ASIN.encode(), _value(_set("product.csv.0.3", True))),
    ("nonsense_price", ASIN.encode(), _value(_set("product.csv.0.2", "t"))),
    ("nonsense_price", ASIN.encode(), _value(_set("product.csv.0", [7449840]))),
    ("nonsense_price", ASIN.encode(), _value(_set("product.csv.0", 1999))),
    ("nonsense_price", ASIN.encode(), _value(_set("product.csv.7", [7449840, 1899]))),
    ("nonsense_price", ASIN.encode(), _value(_set("product.csv.18", [7449840, 1899, 0, 1]))),
    ("nonsense_price", ASIN.encode(), _value(_set("product.csv", {"0": [1, 2]}))),
    ("nonsense_price", ASIN.encode(), _value(_set("product.stats.current.0", "1999"))),
    ("nonsense_price", ASIN.encode(), _value(_set("product.stats.current.10", -3))),
    ("nonsense_price", ASIN.encode(), _value(_set("product.stats.current.18", 2.5e7))),
]


@pytest.mark.parametrize(("code", "key", "value"), INVALID_CASES)
def test_invalid_envelope(code: str, key: bytes | None, value: bytes) -> None:
    with pytest.raises((ContractError, InvalidEnvelope)) as info:
        quote_from_message(key, value)
    assert info.value.code == code
    assert str(info.value).startswith(f"{code}: ")
    assert info.value.message


def test_every_code_is_covered() -> None:
    from typing import get_args

    from app.contracts.base import ContractErrorCode
    from app.domain.errors import EnvelopeErrorCode

    # invalid_shape cannot happen: every field of the envelope has its own code
    codes = set(get_args(EnvelopeErrorCode)) | set(ENVELOPE.field_codes.values())
    codes |= set(get_args(ContractErrorCode)) - {"invalid_shape"}
    assert {case[0] for case in INVALID_CASES} == codes


def test_invalid_envelope_is_a_value_error_and_pickles() -> None:
    import pickle

    error = InvalidEnvelope("missing_asin", "product has no asin")
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.message) == ("missing_asin", "product has no asin")


# --- MarketQuote -------------------------------------------------------------------------


def test_market_quote_requires_aware_times() -> None:
    with pytest.raises(ValueError, match="observed_at"):
        MarketQuote(
            asin=ASIN,
            market=Market.DE,
            title=None,
            observed_at=datetime(2025, 3, 1),
            fetched_at=DEFAULT_FETCHED_AT,
            buy_price=None,
            sell_price=None,
        )


def test_market_quote_is_hashable() -> None:
    quote = parse(keepa_product(amazon=1999))
    assert hash(quote) == hash(parse(keepa_product(amazon=1999)))


@pytest.mark.parametrize(
    ("prices", "expected"),
    [
        ({"BUY_BOX_SHIPPING": 2599, "NEW_FBA": 2499}, PriceType.BUY_BOX_SHIPPING),
        ({"NEW_FBA": 2499, "AMAZON": 2399}, PriceType.NEW_FBA),
        ({"AMAZON": 2399, "NEW": 2299, "NEW_FBM_SHIPPING": 2199}, None),
        ({}, None),
    ],
)
def test_sell_price_type_is_the_type_of_the_sell_price(
    prices: dict[str, int], expected: PriceType | None
) -> None:
    assert sell_price_type(prices) is expected
    sell_price = quote_prices(prices).sell_price
    assert sell_price == (None if expected is None else prices[expected.name])
