"""What trackings cost: adding one costs 1 token, and every tracking lowers the account's
token refill rate for as long as it exists.

Keepa's "Tracking Products" documentation: a tracking lowers the refill rate by 0.9 tokens
per product update per market it watches ("Regular Tracking": Amazon, New, Used, List,
Collectible, Refurbished, Lightning Deal, the offer counts, Sales Rank), or by 9 tokens
("Marketplace Tracking": anything else, e.g. Buy Box, New 3rd party FBA / FBM, Warehouse,
Rating, Prime exclusive, the used and collectible conditions with shipping). Keepa rounds
the total to a whole number of tokens per minute and reports it in every response as
``tokenFlowReduction``, updated every 5 minutes (not at once when trackings change). Its two
examples: 2,000 regular trackings of one market updated hourly lower the rate by 30 tokens
per minute; 700 marketplace trackings of one market updated every 12 hours by 8.75 -> 9.

:func:`estimated_flow_reduction` gives the figure before Keepa does, for planning. Price
types the documentation does not place (eBay, trade-in, rent, the FBA / FBM offer counts,
extra info updates) are counted as marketplace types: an estimate too high rather than too
low.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from app.domain.keepa_prices import PriceType
from app.keepa.tracking.creation import TrackingRequest

__all__ = [
    "ADD_TOKENS_PER_TRACKING",
    "MARKETPLACE_TOKENS_PER_UPDATE",
    "REGULAR_PRICE_TYPES",
    "REGULAR_TOKENS_PER_UPDATE",
    "estimated_flow_reduction",
    "is_marketplace_tracking",
]

#: Tokens one tracking costs to add (or to replace).
ADD_TOKENS_PER_TRACKING: Final = 1
#: Refill-rate reduction per product update per market, in tokens, of a regular tracking.
REGULAR_TOKENS_PER_UPDATE: Final = 0.9
#: The same for a marketplace tracking.
MARKETPLACE_TOKENS_PER_UPDATE: Final = 9.0

#: Price types a regular tracking can watch.
REGULAR_PRICE_TYPES: Final = frozenset(
    {
        PriceType.AMAZON,
        PriceType.NEW,
        PriceType.USED,
        PriceType.SALES,
        PriceType.LISTPRICE,
        PriceType.COLLECTIBLE,
        PriceType.REFURBISHED,
        PriceType.LIGHTNING_DEAL,
        PriceType.COUNT_NEW,
        PriceType.COUNT_USED,
        PriceType.COUNT_REFURBISHED,
        PriceType.COUNT_COLLECTIBLE,
    }
)


def is_marketplace_tracking(request: TrackingRequest) -> bool:
    """The tracking watches a price type only marketplace tracking offers."""
    watched = [t.price_type for t in request.thresholds] + [n.price_type for n in request.notify_if]
    return any(price_type not in REGULAR_PRICE_TYPES for price_type in watched)


def estimated_flow_reduction(trackings: Iterable[TrackingRequest]) -> float:
    """Tokens per minute the refill rate drops by while these trackings exist (Keepa reports
    the figure rounded to a whole token)."""
    per_hour = 0.0
    for request in trackings:
        per_update = (
            MARKETPLACE_TOKENS_PER_UPDATE
            if is_marketplace_tracking(request)
            else REGULAR_TOKENS_PER_UPDATE
        )
        per_hour += per_update * len(request.markets) / request.update_interval_h
    return per_hour / 60.0
