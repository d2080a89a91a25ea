"""Keepa access: markets, token planning and a raw-product client.

Imports only the standard library, requests, orjson, pydantic and the message contracts
(msgspec; no faust, no ``keepa`` package), so it runs in the Airflow virtualenv as well as in
the app.
"""

from app.keepa.bestsellers import BESTSELLERS_TOKEN_COST, fetch_bestsellers
from app.keepa.client import (
    BatchResult,
    FetchResult,
    KeepaError,
    KeepaProductClient,
    normalize_asins,
)
from app.keepa.markets import MARKET_CODES, MARKETS, Market, domain_id, get_market
from app.keepa.schema import (
    CSV_LENGTH,
    KEEPA_EPOCH,
    MAX_ASINS_PER_REQUEST,
    CsvType,
    from_keepa_minutes,
    to_keepa_minutes,
)
from app.keepa.tokens import BatchPlan, TokenPlanner, TokenState

__all__ = [
    "BESTSELLERS_TOKEN_COST",
    "CSV_LENGTH",
    "KEEPA_EPOCH",
    "MARKETS",
    "MARKET_CODES",
    "MAX_ASINS_PER_REQUEST",
    "BatchPlan",
    "BatchResult",
    "CsvType",
    "FetchResult",
    "KeepaError",
    "KeepaProductClient",
    "Market",
    "TokenPlanner",
    "TokenState",
    "domain_id",
    "fetch_bestsellers",
    "from_keepa_minutes",
    "get_market",
    "normalize_asins",
    "to_keepa_minutes",
]
