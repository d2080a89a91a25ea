"""The Keepa product of a ``keepa.products`` message -> :class:`MarketQuote`.

The message itself (``{"schema_version", "domain", "fetched_at", "product"}``) is decoded by
:mod:`app.contracts.keepa_products`; this module reads the Keepa ``/product`` object it
carries, which travels exactly as Keepa's API returned it.

Price rules (see :func:`app.domain.keepa_prices.current_price` for "current value"):

* buy price  = lowest available of AMAZON (csv 0), NEW_FBA (10), NEW_FBM_SHIPPING (7);
  if none of those, NEW (1);
* sell price = BUY_BOX_SHIPPING (18), else NEW_FBA (10), else None
  (both by :func:`quote_prices`, which a Keepa notification's merge uses too);
* ``observed_at`` (event time) = ``lastUpdate`` when > 0, else the envelope's ``fetched_at``.

The quote carries the product's quality signals on its market
(:func:`app.domain.signals.market_signals`, for the sell price type :func:`sell_price_type`),
which never invalidate a message either.

Metadata (title, fees, dimensions, rank, image) never invalidates a message: an unusable
value becomes None. Prices, identity (ASIN, domain) and timestamps do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.domain.asin import is_valid_asin
from app.domain.errors import EnvelopeErrorCode, InvalidEnvelope
from app.domain.keepa_prices import (
    PRICE_TYPES_READ,
    PriceType,
    current_price,
    is_int,
    sales_rank,
)
from app.domain.keepa_time import from_keepa_minutes
from app.domain.markets import Market
from app.domain.policy import DEFAULT_SPIKE_SHARE
from app.domain.quote import MarketQuote
from app.domain.signals import market_signals
from app.domain.utc import require_utc

__all__ = [
    "BUY_PRICE_FALLBACK",
    "BUY_PRICE_TYPES",
    "IMAGE_URL_PREFIX",
    "SELL_PRICE_TYPES",
    "EnvelopeErrorCode",
    "InvalidEnvelope",
    "QuotePrices",
    "asin_from_key",
    "observed_at",
    "quote_from_keepa_product",
    "quote_prices",
    "sales_rank",
    "sell_price_type",
]

IMAGE_URL_PREFIX = "https://m.media-amazon.com/images/I/"

#: The Keepa price types a quote's buy price is the lowest of ...
BUY_PRICE_TYPES: tuple[PriceType, ...] = (
    PriceType.AMAZON,
    PriceType.NEW_FBA,
    PriceType.NEW_FBM_SHIPPING,
)
#: ... and the one it falls back to when none of them is available.
BUY_PRICE_FALLBACK = PriceType.NEW
#: The Keepa price types a quote's sell price is taken from, the first available one.
SELL_PRICE_TYPES: tuple[PriceType, ...] = (PriceType.BUY_BOX_SHIPPING, PriceType.NEW_FBA)


@dataclass(frozen=True, slots=True)
class QuotePrices:
    """What a quote's current prices per Keepa price type make of it (:func:`quote_prices`)."""

    buy_price: int | None
    sell_price: int | None
    amazon_in_stock: bool


def quote_prices(prices: Mapping[str, int]) -> QuotePrices:
    """The buy price, sell price and "Amazon sells" of a quote whose current value per Keepa
    price type (name -> minor units, only the available ones) is ``prices``: the one rule
    for a quote parsed from a Keepa product and for a stored quote a Keepa notification
    updates (:mod:`app.domain.notification_merge`).

    Buy price: the lowest of :data:`BUY_PRICE_TYPES`, else :data:`BUY_PRICE_FALLBACK`; sell
    price: the first of :data:`SELL_PRICE_TYPES`; Amazon sells when ``AMAZON`` has a price.
    """
    buy_candidates = [prices[pt.name] for pt in BUY_PRICE_TYPES if pt.name in prices]
    buy_price = min(buy_candidates) if buy_candidates else prices.get(BUY_PRICE_FALLBACK.name)
    sell_type = sell_price_type(prices)
    sell_price = None if sell_type is None else prices[sell_type.name]
    return QuotePrices(buy_price, sell_price, PriceType.AMAZON.name in prices)


def sell_price_type(prices: Mapping[str, int]) -> PriceType | None:
    """The Keepa price type a quote's sell price is taken from: the first of
    :data:`SELL_PRICE_TYPES` that ``prices`` (name -> minor units, the available ones) holds;
    ``None`` when there is none (the quote has no sell price)."""
    return next((pt for pt in SELL_PRICE_TYPES if pt.name in prices), None)


def asin_from_key(key: bytes | None) -> str | None:
    """The ASIN a message key names; ``None`` for an absent or empty key ("nothing to check
    against"); :class:`InvalidEnvelope` (``invalid_asin``) for anything else."""
    if not key:
        return None
    try:
        key_asin = key.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidEnvelope("invalid_asin", "message key is not UTF-8") from None
    if not is_valid_asin(key_asin):
        raise InvalidEnvelope("invalid_asin", f"message key is not an ASIN: {key_asin!r}")
    return key_asin


def quote_from_keepa_product(
    product: Mapping[str, Any],
    market: Market,
    fetched_at: datetime,
    *,
    key_asin: str | None = None,
    spike_share: Decimal = DEFAULT_SPIKE_SHARE,
) -> MarketQuote:
    """The quote of a Keepa product fetched from ``market`` at ``fetched_at`` (aware).

    ``key_asin`` (from :func:`asin_from_key`) must then equal ``product.asin``. Raises
    :class:`InvalidEnvelope` (see its ``code``). ``spike_share``: the detection policy's
    (:attr:`app.domain.policy.DetectionPolicy.spike_share`), for the quote's signals.
    """
    asin = _asin(product, key_asin)
    _check_domain_id(market, product)
    fetched_at = require_utc(fetched_at, "fetched_at")

    csv = product.get("csv")
    if csv is None:
        csv = []
    elif not isinstance(csv, list):
        raise InvalidEnvelope("nonsense_price", "product.csv is not a list")
    stats = product.get("stats")
    stats_current = stats.get("current") if isinstance(stats, dict) else None
    if not isinstance(stats_current, list):
        stats_current = None

    prices = {
        pt.name: price
        for pt in PRICE_TYPES_READ
        if (price := current_price(csv, stats_current, pt)) is not None
    }
    derived = quote_prices(prices)
    return MarketQuote(
        asin=asin,
        market=market,
        title=_title(product.get("title")),
        observed_at=observed_at(product, fetched_at),
        fetched_at=fetched_at,
        buy_price=derived.buy_price,
        sell_price=derived.sell_price,
        referral_fee_rate=_referral_rate(product),
        fba_fee=_fba_fee(product.get("fbaFees")),
        package_weight_g=_positive_int(product.get("packageWeight")),
        package_length_mm=_positive_int(product.get("packageLength")),
        package_width_mm=_positive_int(product.get("packageWidth")),
        package_height_mm=_positive_int(product.get("packageHeight")),
        sales_rank=sales_rank(product, csv, stats_current),
        root_category=_positive_int(product.get("rootCategory")),
        image_url=_image_url(product.get("imagesCSV")),
        amazon_in_stock=derived.amazon_in_stock,
        prices=prices,
        signals=market_signals(
            product,
            market,
            sell_price_type(prices),
            spike_share=spike_share,
            current_prices=prices,
        ),
    )


def _asin(product: Mapping[str, Any], key_asin: str | None) -> str:
    asin = product.get("asin")
    if asin is None or asin == "":
        raise InvalidEnvelope("missing_asin", "product has no asin")
    if not is_valid_asin(asin):
        raise InvalidEnvelope("invalid_asin", f"product.asin is not an ASIN: {asin!r}")
    if key_asin is not None and key_asin != asin:
        raise InvalidEnvelope("asin_mismatch", f"message key {key_asin!r} != product.asin {asin!r}")
    return asin


def _check_domain_id(market: Market, product: Mapping[str, Any]) -> None:
    domain_id = product.get("domainId")
    if domain_id is not None and domain_id != market.keepa_domain_id:
        raise InvalidEnvelope(
            "domain_mismatch",
            f"envelope domain {market.value} (Keepa {market.keepa_domain_id}) "
            f"!= product.domainId {domain_id!r}",
        )


def observed_at(product: Mapping[str, Any], fetched_at: datetime) -> datetime:
    """The event time of a Keepa product fetched at ``fetched_at``: its ``lastUpdate`` when
    > 0, else ``fetched_at`` (the one rule for a quote's ``observed_at``, see the module doc).

    Raises :class:`InvalidEnvelope` (``bad_timestamp``) for a ``lastUpdate`` that is not
    Keepa minutes or is out of range.
    """
    last_update = product.get("lastUpdate")
    if last_update is None:
        return fetched_at
    if not is_int(last_update):
        raise InvalidEnvelope("bad_timestamp", f"lastUpdate is not Keepa minutes: {last_update!r}")
    if last_update <= 0:
        return fetched_at
    try:
        return from_keepa_minutes(last_update)
    except OverflowError:
        raise InvalidEnvelope("bad_timestamp", f"lastUpdate out of range: {last_update}") from None


def _positive_int(value: object) -> int | None:
    return value if is_int(value) and value > 0 else None


def _title(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _referral_rate(product: Mapping[str, Any]) -> Decimal | None:
    """``referralFeePercentage`` (or legacy ``referralFeePercent``) 15.0 -> Decimal("0.15")."""
    for name in ("referralFeePercentage", "referralFeePercent"):
        value = product.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        try:
            percent = Decimal(str(value))
        except InvalidOperation:  # pragma: no cover - str(float) is always a valid Decimal
            continue
        if percent.is_finite() and 0 < percent <= 100:
            return (percent / 100).normalize()
    return None


def _fba_fee(fba_fees: object) -> int | None:
    if isinstance(fba_fees, dict):
        fee = fba_fees.get("pickAndPackFee")
        if is_int(fee) and 0 < fee <= 10_000_000:
            return fee
    return None


def _image_url(images_csv: object) -> str | None:
    if not isinstance(images_csv, str):
        return None
    first = next((name.strip() for name in images_csv.split(",") if name.strip()), None)
    return f"{IMAGE_URL_PREFIX}{first}" if first else None
