"""``keepa.products``: one Keepa product as fetched for one marketplace (the system's input).

Key: the ASIN (UTF-8). Producers (the ``keepa_ingest`` DAG, ``arbitrage replay``, the sample
generator) build a :class:`KeepaProductsEnvelope` with :func:`make_envelope`; the detector
reads a message with :func:`quote_from_message`: the envelope is decoded here, the Keepa
product it carries is read by :func:`app.domain.envelope.quote_from_keepa_product`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Final

from app.contracts.base import Codec, Message, UtcDatetime, Version1, describe
from app.domain.envelope import asin_from_key, quote_from_keepa_product
from app.domain.markets import Market
from app.domain.policy import DEFAULT_SPIKE_SHARE
from app.domain.quote import MarketQuote

__all__ = [
    "ENVELOPE",
    "KeepaProductsEnvelope",
    "envelope_key",
    "make_envelope",
    "quote_from_message",
]


class KeepaProductsEnvelope(Message, kw_only=True, frozen=True):
    """A Keepa ``/product`` object as Keepa returned it, with where and when it was fetched."""

    schema_version: Annotated[Version1, describe("1 (a message without it is version 1)")] = 1
    domain: Annotated[
        Market,
        describe("market code: DE, FR, IT, ES (EUR) or GB (GBP); Keepa domain 3, 4, 8, 9, 2"),
    ]
    fetched_at: Annotated[
        UtcDatetime, describe("when the producer fetched the product (ISO-8601 with zone)")
    ]
    product: Annotated[
        dict[str, Any],
        describe("the Keepa product object, exactly as Keepa's /product API returns it"),
    ]


#: Decoding problems in these fields keep the reasons the worker always gave them.
ENVELOPE: Final = Codec(
    KeepaProductsEnvelope,
    field_codes={
        "product": "missing_product",
        "domain": "unknown_domain",
        "fetched_at": "bad_timestamp",
    },
)


def make_envelope(
    market: Market | str, product: dict[str, Any], fetched_at: datetime
) -> KeepaProductsEnvelope:
    """The message of one fetched product (``fetched_at`` aware; kept to the second, UTC).

    ``product`` is Keepa's product object, untouched.
    """
    if fetched_at.tzinfo is None or fetched_at.utcoffset() is None:
        raise ValueError("fetched_at must be timezone-aware")
    return KeepaProductsEnvelope(
        domain=Market.parse(str(market)),
        fetched_at=fetched_at.astimezone(UTC).replace(microsecond=0),
        product=product,
    )


def envelope_key(envelope: KeepaProductsEnvelope) -> str | None:
    """The message key: ``product.asin`` when it is a non-empty string.

    It is not validated here: the worker dead-letters an invalid ASIN with its own reason.
    """
    asin = envelope.product.get("asin")
    return asin if isinstance(asin, str) and asin else None


def quote_from_message(
    key: bytes | None, value: bytes | None, *, spike_share: Decimal = DEFAULT_SPIKE_SHARE
) -> MarketQuote:
    """The quote of one raw ``keepa.products`` message (``spike_share``: the detection
    policy's, for the quote's signals).

    Raises :class:`app.contracts.base.ContractError` for a message that is not a
    :class:`KeepaProductsEnvelope` and :class:`app.domain.envelope.InvalidEnvelope` for a
    product that makes no quote (both carry a ``code`` and a ``message``).
    """
    envelope = ENVELOPE.decode(value)
    key_asin = asin_from_key(key)
    return quote_from_keepa_product(
        envelope.product,
        envelope.domain,
        envelope.fetched_at,
        key_asin=key_asin,
        spike_share=spike_share,
    )
