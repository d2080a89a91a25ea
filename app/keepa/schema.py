"""Keepa's request limits. Our Kafka envelope around a Keepa product is
:class:`app.contracts.keepa_products.KeepaProductsEnvelope`.

Nothing here parses or converts a product: products travel downstream exactly as Keepa
returns them. The facts about Keepa's format itself (the ``csv`` price types, Keepa time)
are domain knowledge, in :mod:`app.domain.keepa_prices` and :mod:`app.domain.keepa_time`.
"""

from __future__ import annotations

MAX_ASINS_PER_REQUEST = 100
"""Keepa accepts at most 100 ASINs in one /product request."""

MAX_TRACKINGS_PER_REQUEST = 1000
"""Keepa accepts at most 1,000 tracking creation objects in one ``/tracking?type=add``
request (Keepa's "Tracking Products" documentation, "Add Tracking"; the Java reference
client's ``Request.getTrackingBatchAddRequest`` refuses more)."""
