"""Keepa's request limit and our Kafka envelope around a Keepa product.

Nothing here parses or converts a product: products travel downstream exactly as Keepa
returns them. The facts about Keepa's format itself (the ``csv`` price types, Keepa time)
are domain knowledge, in :mod:`app.domain.keepa_prices` and :mod:`app.domain.keepa_time`;
:mod:`app.domain.envelope` parses what :func:`make_envelope` builds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.domain.utc import format_utc

MAX_ASINS_PER_REQUEST = 100
"""Keepa accepts at most 100 ASINs in one /product request."""


def make_envelope(market: str, product: dict[str, Any], fetched_at: datetime) -> dict[str, Any]:
    """The Kafka message for one fetched product: ``{"domain", "fetched_at", "product"}``.

    ``product`` is Keepa's product object, untouched; ``fetched_at`` is written to the second
    (``2025-03-01T12:00:05Z``).
    """
    return {
        "domain": market,
        "fetched_at": format_utc(fetched_at, timespec="seconds"),
        "product": product,
    }
