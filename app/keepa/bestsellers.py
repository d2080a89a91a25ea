"""Keepa best-seller lists: ``/bestsellers?domain=&category=`` -> ASINs, best first."""

from __future__ import annotations

import logging
from typing import Literal

from app.domain.markets import Market
from app.keepa.http import KeepaError, KeepaHttpClient

log = logging.getLogger(__name__)

BESTSELLERS_TOKEN_COST = 50
"""Tokens one best-seller list request costs (Keepa's "Request Best Sellers" documentation)."""


def fetch_bestsellers(
    client: KeepaHttpClient,
    market: str,
    category: int | str,
    *,
    rank_avg_range: Literal[0, 30, 90, 180] = 0,
    variations: bool = False,
    sublist: bool = False,
    limit: int | None = None,
    token_cost: int = BESTSELLERS_TOKEN_COST,
) -> list[str]:
    """The ASINs of a category's best-seller list in ``market``, best-selling first.

    ``category`` is an Amazon category node id (a root category gives up to 100,000 ASINs,
    a sub-category up to 3,000). ``rank_avg_range`` ranks by the current sales rank (0) or
    its 30/90/180-day average. Token waits and retries are the client's; ``KeepaError`` if
    Keepa has no list for the category.
    """
    mkt = Market.parse(market)
    client.wait_for_tokens(token_cost)
    body = client.request(
        "bestsellers",
        {
            "domain": mkt.keepa_domain_id,
            "category": str(category),
            "range": rank_avg_range,
            "variations": int(variations),
            "sublist": int(sublist),
        },
        tokens_needed=token_cost,
    )
    best = body.get("bestSellersList")
    asin_list = best.get("asinList") if isinstance(best, dict) else None
    if not isinstance(asin_list, list):
        raise KeepaError(f"Keepa has no best-seller list for category {category} in {mkt.value}")
    asins = [a for a in asin_list if isinstance(a, str) and a]
    log.info("Keepa best sellers %s/%s: %d ASINs", mkt.value, category, len(asins))
    return asins if limit is None else asins[:limit]
