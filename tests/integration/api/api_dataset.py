"""The data set of the API integration tests: Keepa envelopes for a real worker.

Hand-computed routes (registered-seller VAT mode, 500 g, DE buy price 20.00 EUR everywhere,
referral 15 %; net buy 2000 / 1.19 = 1681; shipping 450 + 120/kg x 0.5 = 510):

==========  ======  =====  ===========================================  ======  ======
ASIN        route   at     profit (cents)                               ROI     margin
==========  ======  =====  ===========================================  ======  ======
B0APITEST1  DE:FR   T0     4167 - 750 - 300 - 510 - 1681 = 926          0.4226  0.2222
B0APITEST1  DE:IT   T0     4098 - 750 - 300 - 510 - 1681 = 857, closed at T0+1h (IT 30.00)
B0APITEST2  DE:GB   T0+2h  4875 - 878 - 293 - 1010 - 1681 = 1013        0.3764  0.2078
B0APITEST2  DE:FR   T0+2h  926 (as above)                               0.4226  0.2222
B0APITEST3  DE:IT   T0     3197 - 585 - 300 - 510 - 2521 = -719: never an opportunity
B0APITEST4  DE:FR   T0+3h  5000 - 900 - 300 - 510 - 1681 = 1609         0.7344  0.3218
B0APITEST5  DE:ES   T0+30m 4132 - 750 - 300 - 510 - 1681 = 891          0.4067  0.2156
==========  ======  =====  ===========================================  ======  ======

B0APITEST4 is in category 999 with sales rank 50,000 and Amazon sells it in FR (its AMAZON
offer is current there); every other product is in 3167641 with rank 1234 and no Amazon
offer in its sell market. B0APITEST5 is the only one whose title mentions a garden hose.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from app.domain.markets import Market
from app.settings import Settings
from tests.integration.worker_process import envelope_bytes
from tests.keepa_factory import envelope, keepa_product

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
A, B, C, D, E = (f"B0APITEST{i}" for i in range(1, 6))
TOKEN = "integration-token-\u00e9t\u00e9-4f9c2a7e1b6d8035"  # non-ASCII on purpose, 38 chars
HOSE = "Garden Hose Reel 20 m with Spray Nozzle"


def message(asin: str, market: Market, at: datetime, **kwargs: Any) -> tuple[bytes, bytes]:
    product = keepa_product(asin, market, last_update=at, weight_g=500, **kwargs)
    return envelope_bytes(envelope(product, at + timedelta(minutes=5)))


def messages() -> list[tuple[bytes, bytes]]:
    sell = {"fba_fee": 300, "referral_pct": 15.0}
    t2, t3, t30m = T0 + timedelta(hours=2), T0 + timedelta(hours=3), T0 + timedelta(minutes=30)
    rare = {"root_category": 999, "sales_rank": 50_000}
    return [
        message(A, Market.DE, T0, amazon=2000),
        message(A, Market.FR, T0, buy_box=5000, **sell),
        message(A, Market.IT, T0, buy_box=5000, **sell),
        message(A, Market.IT, T0 + timedelta(hours=1), buy_box=3000, **sell),
        message(B, Market.DE, t2, amazon=2000),
        message(B, Market.GB, t2, buy_box=5000, fba_fee=250, referral_pct=15.0),
        message(B, Market.FR, t2, buy_box=5000, **sell),
        message(C, Market.DE, T0, amazon=3000),
        message(C, Market.IT, T0, buy_box=3900, **sell),
        message(D, Market.DE, t3, amazon=2000, **rare),
        message(D, Market.FR, t3, buy_box=6000, amazon=4800, **sell, **rare),
        message(E, Market.DE, t30m, amazon=2000, title=HOSE),
        message(E, Market.ES, t30m, buy_box=5000, title=HOSE, **sell),
    ]


def indexed(es: Elasticsearch, s: Settings) -> bool:
    names = [s.index(n) for n in ("opportunities", "products", "price-history")]
    if not all(es.indices.exists(index=n) for n in names):
        return False
    es.indices.refresh(index=names)
    count = {n: es.count(index=n)["count"] for n in names}
    if count[names[0]] != 6 or count[names[1]] != 12 or count[names[2]] != 13:
        return False
    closed = es.get(index=names[0], id=f"{A}:DE:IT")["_source"]["state"]
    return bool(closed == "closed")
