"""The data set of the API integration tests: Keepa envelopes for a real worker.

Hand-computed routes, default seller profile on 2026-11-20 (established in DE, VAT-registered
everywhere, stock in every market), 500 g, DE buy price 20.00 EUR (Amazon's offer: VAT
recovered) everywhere, Keepa referral 15 %, Keepa FBA 3.00 (GBP 2.50 in GB); net buy
2000 / 1.19 = 1681; inbound 450 + 5 x 12 = 510 (+ 500 GB customs); one storage month of the
200 x 150 x 50 mm package (0.0015 m3) in the sell market's warehouse in November: FR 3968 x
0.0015 = 5.952 -> 6, IT and ES 3852 x 0.0015 = 5.778 -> 6, GB 0.052972 ft3 x 100 p = 5.297 ->
5 p = 5.85 -> 6 cents (part of the investment). Digital Services Fee of a
DE-established seller from 2026-03-20: 3 % of the referral fee (and of the FBA fee in FR) in
FR/IT/ES, 2 % of both in GB, each rounded half-up (GB in pence, then converted at 1.17):

==========  ======  =====  ==================================================  ======  ======
ASIN        route   at     profit (cents)                                      ROI     margin
==========  ======  =====  ==================================================  ======  ======
B0APITEST1  DE:FR   T0     4167 - 750 - 300 - (23 + 9) - 6 - 510 - 1681 = 888  0.4042  0.2131
B0APITEST1  DE:IT   T0     4098 - 750 - 300 - 23 - 6 - 510 - 1681 = 828, closed at T0+1h (IT
                           30.00: 2459 - 450 - 300 - 14 - 6 - 510 - 1681 = -502)
B0APITEST2  DE:GB   T0+2h  4875 - 878 - 293 - 23 - 6 - 510 - 500 - 1681 = 984 0.3648  0.2018
B0APITEST2  DE:FR   T0+2h  888 (as above)                                      0.4042  0.2131
B0APITEST3  DE:IT   T0     3197 - 585 - 300 - 18 - 6 - 510 - 2521 = -743: never an opportunity
B0APITEST4  DE:FR   T0+3h  5000 - 900 - 300 - (27 + 9) - 6 - 510 - 1681 = 1567 0.7132  0.3134
B0APITEST5  DE:ES   T0+30m 4132 - 750 - 300 - 23 - 6 - 510 - 1681 = 862        0.3924  0.2086
==========  ======  =====  ==================================================  ======  ======

(ROI = profit / (1681 + 510 + 6) = 2197, or / (1681 + 510 + 500 + 6) = 2697 on DE:GB; margin
= profit / net sell; e.g. 888 / 2197 = 0.40419 -> 0.4042, 984 / 2697 = 0.36485 -> 0.3648,
984 / 4875 = 0.20185 -> 0.2018, 1567 / 2197 = 0.71325 -> 0.7132, 862 / 2197 = 0.39235 ->
0.3924, 862 / 4132 = 0.20862 -> 0.2086.)

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
