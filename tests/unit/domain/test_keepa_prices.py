from app.domain.keepa_prices import CSV_LENGTH, PRICE_TYPES_READ, STATS_DAYS, PriceType


def test_every_csv_index_has_a_type() -> None:
    assert CSV_LENGTH == 36
    assert [t.value for t in PriceType] == list(range(36))
    assert (PriceType.AMAZON, PriceType.NEW, PriceType.SALES) == (0, 1, 3)
    assert (PriceType.NEW_FBM_SHIPPING, PriceType.NEW_FBA, PriceType.BUY_BOX_SHIPPING) == (
        7,
        10,
        18,
    )


def test_shipping_types_are_triples() -> None:
    # Keepa: NEW_FBM_SHIPPING (7), BUY_BOX_SHIPPING (18), the used/collectible/refurbished/eBay
    # shipping types 19-29 and BUY_BOX_USED_SHIPPING (32); TRADE_IN (30), RENT (31) are pairs.
    assert {t.value for t in PriceType if t.has_shipping} == {7, 18, *range(19, 30), 32}
    assert PriceType.BUY_BOX_SHIPPING.stride == 3
    assert PriceType.TRADE_IN.stride == 2
    assert PriceType.SALES.stride == 2


def test_price_types_read() -> None:
    assert [t.name for t in PRICE_TYPES_READ] == [
        "AMAZON",
        "NEW",
        "NEW_FBM_SHIPPING",
        "NEW_FBA",
        "BUY_BOX_SHIPPING",
    ]


def test_products_are_requested_with_90_day_statistics() -> None:
    # app.domain.signals reads stats.minInInterval/maxInInterval as the 90-day low and high:
    # change this interval and those fields no longer mean that (docs/signals.md).
    assert STATS_DAYS == 90
