"""Builders of Keepa product objects and ``keepa.products`` envelopes for tests.

``keepa_product`` returns a dict in the shape of Keepa's ``/product`` API (``csv`` histories
in Keepa minutes, shipping types as ``[time, price, shipping]`` triples, ``stats.current``
indexed by price type). Prices are minor units of the market's currency; ``None`` = no data
for that type, ``-1`` = the offer exists in the history but is out of stock now. The
statistics the opportunity signals read (``stats.avg30``/``avg90``/``minInInterval``/
``maxInInterval``, rank drops, ``buyBoxStats``, COUNT_NEW, ``monthlySold``) are only there
when asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from app.contracts.keepa_notifications import (
    KEEPA_NOTIFICATION,
    KeepaNotification,
    NotificationCause,
)
from app.contracts.keepa_products import quote_from_message
from app.domain.keepa_prices import CSV_LENGTH, PriceType
from app.domain.keepa_time import to_keepa_minutes
from app.domain.markets import Market
from app.domain.quote import MarketQuote
from app.domain.utc import format_utc

__all__ = [
    "DEFAULT_FETCHED_AT",
    "DEFAULT_LAST_UPDATE",
    "envelope",
    "keepa_notification",
    "keepa_product",
    "make_quote",
    "message",
    "notification_message",
]

DEFAULT_LAST_UPDATE = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DEFAULT_FETCHED_AT = DEFAULT_LAST_UPDATE + timedelta(minutes=5)
DEFAULT_IMAGES = ("51Xk9sQ2fUL.jpg", "61b2k1lZ8cL.jpg")


def _history(price: int, minutes_now: int, shipping: int | None = None) -> list[int]:
    """Two points: a week ago (a bit dearer, or 12.99 if now out of stock) and an hour ago."""
    older = price + price // 10 if price > 0 else 1299
    week_ago, hour_ago = minutes_now - 7 * 24 * 60, minutes_now - 60
    if shipping is None:
        return [week_ago, older, hour_ago, price]
    return [week_ago, older, shipping, hour_ago, price, shipping]


def keepa_product(
    asin: str = "B0TESTAS1N",
    market: Market = Market.DE,
    *,
    amazon: int | None = None,
    new_fba: int | None = None,
    fbm: int | None = None,
    fbm_shipping: int = 0,
    new: int | None = None,
    buy_box: int | None = None,
    buy_box_shipping: int = 0,
    stats: bool = True,
    last_update: datetime | None = DEFAULT_LAST_UPDATE,
    fba_fee: int | None = None,
    referral_pct: float | None = None,
    weight_g: int | None = 500,
    dims: tuple[int, int, int] | None = (200, 150, 50),
    title: str | None = "Acme Stainless Steel Water Bottle 750 ml",
    sales_rank: int | None = 1234,
    root_category: int | None = 3167641,
    images: tuple[str, ...] = DEFAULT_IMAGES,
    avg30: Mapping[PriceType, int] | None = None,
    avg90: Mapping[PriceType, int] | None = None,
    range_90: Mapping[PriceType, tuple[int, int]] | None = None,
    new_offers: int | None = None,
    rank_drops: tuple[int, int] | None = None,
    monthly_sold: int | None = None,
    buy_box_stats: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """A Keepa product dict. ``last_update=None`` omits ``lastUpdate`` (observed = fetched).

    Statistics (only with ``stats``): ``avg30``/``avg90`` per price type (every other type
    -1, as Keepa sends "no data"), ``range_90`` per price type ``(low, high)`` as
    ``minInInterval``/``maxInInterval`` ``[time, value]`` pairs, ``rank_drops``
    ``(salesRankDrops30, salesRankDrops90)``, ``buy_box_stats`` seller id -> ``percentageWon``.
    ``new_offers``: the COUNT_NEW history (one more offer a week ago) and its current value;
    ``monthly_sold``: ``monthlySold``."""
    now = last_update or DEFAULT_LAST_UPDATE
    minutes_now = to_keepa_minutes(now)
    csv: list[list[int] | None] = [None] * CSV_LENGTH
    current = [-2] * CSV_LENGTH
    plain = ((PriceType.AMAZON, amazon), (PriceType.NEW, new), (PriceType.NEW_FBA, new_fba))
    for index, price in plain:
        if price is not None:
            csv[index] = _history(price, minutes_now)
            current[index] = price
    shipped = (
        (PriceType.NEW_FBM_SHIPPING, fbm, fbm_shipping),
        (PriceType.BUY_BOX_SHIPPING, buy_box, buy_box_shipping),
    )
    for index, price, shipping in shipped:
        if price is not None:
            csv[index] = _history(price, minutes_now, shipping)
            current[index] = price + max(shipping, 0) if price > 0 else price
    if sales_rank is not None:
        csv[PriceType.SALES] = [
            minutes_now - 7 * 24 * 60,
            sales_rank * 2,
            minutes_now - 120,
            sales_rank,
        ]
        current[PriceType.SALES] = sales_rank
    if new_offers is not None:
        csv[PriceType.COUNT_NEW] = [
            minutes_now - 7 * 24 * 60,
            new_offers + 1,
            minutes_now - 90,
            new_offers,
        ]
        current[PriceType.COUNT_NEW] = new_offers

    product: dict[str, Any] = {
        "productType": 0,
        "asin": asin,
        "domainId": market.keepa_domain_id,
        "title": title,
        "trackingSince": minutes_now - 365 * 24 * 60,
        "lastPriceChange": minutes_now - 60,
        "imagesCSV": ",".join(images),
        "rootCategory": root_category,
        "brand": "Acme",
        "manufacturer": "Acme GmbH",
        "packageWeight": weight_g if weight_g is not None else 0,
        "packageLength": dims[0] if dims else 0,
        "packageWidth": dims[1] if dims else 0,
        "packageHeight": dims[2] if dims else 0,
        "packageQuantity": 1,
        "availabilityAmazon": 0 if amazon is not None and amazon > 0 else -1,
        "csv": csv,
        "salesRanks": (
            {str(root_category): csv[PriceType.SALES]}
            if sales_rank is not None and root_category is not None
            else None
        ),
        "fbaFees": {"pickAndPackFee": fba_fee} if fba_fee is not None else None,
        "referralFeePercentage": referral_pct,
    }
    if last_update is not None:
        product["lastUpdate"] = minutes_now
    if monthly_sold is not None:
        product["monthlySold"] = monthly_sold
        product["lastSoldUpdate"] = minutes_now - 24 * 60
    if stats:
        product["stats"] = _stats(
            current, minutes_now, avg30, avg90, range_90, rank_drops, buy_box_stats
        )
    return product


def _stats(
    current: list[int],
    minutes_now: int,
    avg30: Mapping[PriceType, int] | None,
    avg90: Mapping[PriceType, int] | None,
    range_90: Mapping[PriceType, tuple[int, int]] | None,
    rank_drops: tuple[int, int] | None,
    buy_box_stats: Mapping[str, float] | None,
) -> dict[str, Any]:
    stats: dict[str, Any] = {"current": current}
    for name, averages in (("avg30", avg30), ("avg90", avg90)):
        if averages is not None:
            values = [-1] * CSV_LENGTH
            for price_type, value in averages.items():
                values[price_type] = value
            stats[name] = values
    if range_90 is not None:
        lows: list[list[int] | None] = [None] * CSV_LENGTH
        highs: list[list[int] | None] = [None] * CSV_LENGTH
        for price_type, (low, high) in range_90.items():
            lows[price_type] = [minutes_now - 40 * 24 * 60, low]
            highs[price_type] = [minutes_now - 10 * 24 * 60, high]
        stats["minInInterval"], stats["maxInInterval"] = lows, highs
    if rank_drops is not None:
        stats["salesRankDrops30"], stats["salesRankDrops90"] = rank_drops
    if buy_box_stats is not None:
        stats["buyBoxStats"] = {
            seller_id: {
                "percentageWon": won,
                "avgPrice": 2499,
                "avgNewOfferCount": 4,
                "isFBA": True,
                "lastSeen": minutes_now - 60,
            }
            for seller_id, won in buy_box_stats.items()
        }
    return stats


def envelope(
    product: dict[str, Any],
    fetched_at: datetime | str = DEFAULT_FETCHED_AT,
    *,
    domain: str | None = None,
) -> dict[str, Any]:
    """The ``keepa.products`` message as plain JSON values (tests bend it into broken ones;
    well-formed producers build :class:`app.contracts.keepa_products.KeepaProductsEnvelope`);
    ``domain`` defaults to the product's market."""
    if domain is None:
        domain = Market.from_keepa_domain_id(product["domainId"]).value
    when = format_utc(fetched_at) if isinstance(fetched_at, datetime) else fetched_at
    return {"schema_version": 1, "domain": domain, "fetched_at": when, "product": product}


def message(
    product: dict[str, Any], fetched_at: datetime | str = DEFAULT_FETCHED_AT
) -> tuple[bytes, bytes]:
    """``(key, value)`` bytes of the Kafka message for ``product``."""
    return product["asin"].encode(), orjson.dumps(envelope(product, fetched_at))


def make_quote(
    asin: str = "B0TESTAS1N",
    market: Market = Market.DE,
    *,
    fetched_at: datetime | None = None,
    **product_kwargs: Any,
) -> MarketQuote:
    """``keepa_product(...)`` run through the real parser."""
    product = keepa_product(asin, market, **product_kwargs)
    if fetched_at is None:
        last_update = product_kwargs.get("last_update", DEFAULT_LAST_UPDATE)
        fetched_at = (last_update or DEFAULT_LAST_UPDATE) + timedelta(minutes=5)
    return quote_from_message(*message(product, fetched_at))


def keepa_notification(
    asin: str = "B0TESTAS1N",
    market: Market = Market.DE,
    prices: dict[PriceType, int] | None = None,
    *,
    created_at: datetime = DEFAULT_LAST_UPDATE + timedelta(minutes=30),
    received_at: datetime | None = None,
    trigger: PriceType = PriceType.BUY_BOX_SHIPPING,
    cause: NotificationCause = NotificationCause.DESIRED_PRICE,
) -> KeepaNotification:
    """A ``keepa.notifications`` message: ``currentPrices`` of every Keepa price type, ``-2``
    (no data) but those of ``prices`` (``-1``: no offer); ``None`` for an EXPIRED one.
    ``received_at`` defaults to a minute after ``created_at``."""
    current = [-2] * CSV_LENGTH
    for price_type, value in (prices or {}).items():
        current[price_type] = value
    return KeepaNotification.create(
        asin=asin,
        market=market,
        tracking_market=Market.DE,
        price_type=trigger,
        cause=cause,
        created_at=created_at,
        current_prices=None if cause is NotificationCause.EXPIRED else current,
        source="webhook",
        received_at=received_at or created_at + timedelta(minutes=1),
    )


def notification_message(notification: KeepaNotification) -> tuple[bytes, bytes]:
    """``(key, value)`` bytes of the Kafka message for ``notification``."""
    return notification.asin.encode(), KEEPA_NOTIFICATION.encode(notification)
