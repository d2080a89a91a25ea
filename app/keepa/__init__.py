"""Keepa access: the HTTP transport, token planning, a raw-product client, the best-seller
lists and the trackings (:mod:`app.keepa.tracking`).

Imports only the standard library, requests, orjson, pydantic, the pure domain and the
message contracts (msgspec; no faust, no ``keepa`` package), so it runs in the Airflow
virtualenv as well as in the app. Markets, Keepa's price types and Keepa time are domain
facts: :mod:`app.domain.markets`, :mod:`app.domain.keepa_prices`, :mod:`app.domain.keepa_time`.
"""

from app.keepa.bestsellers import BESTSELLERS_TOKEN_COST, fetch_bestsellers
from app.keepa.client import BatchResult, FetchResult, KeepaProductClient, normalize_asins
from app.keepa.http import KeepaError, KeepaHttpClient
from app.keepa.schema import MAX_ASINS_PER_REQUEST, MAX_TRACKINGS_PER_REQUEST
from app.keepa.tokens import BatchPlan, TokenPlanner, TokenState

__all__ = [
    "BESTSELLERS_TOKEN_COST",
    "MAX_ASINS_PER_REQUEST",
    "MAX_TRACKINGS_PER_REQUEST",
    "BatchPlan",
    "BatchResult",
    "FetchResult",
    "KeepaError",
    "KeepaHttpClient",
    "KeepaProductClient",
    "TokenPlanner",
    "TokenState",
    "fetch_bestsellers",
    "normalize_asins",
]
