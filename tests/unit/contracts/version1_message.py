"""A version-1 ``arbitrage.opportunities`` message exactly as a producer of the former
pricing policy wrote it (DE 20.00 -> FR 48.00 on 2026-03-01: profit 4000 - 720 referral -
425 FBA - 510 shipping - 1681 net buy = 664, ROI 664 / (1681 + 510) = 0.3031, margin
664 / 4000 = 0.166), for the tests of the consumers that still read version 1."""

from __future__ import annotations

from typing import Any

V1_MESSAGE: dict[str, Any] = {
    "schema_version": 1,
    "event_id": "2158cc4f41f93a7eca0f6bd69ee29896bf649d5f",
    "event": "opened",
    "reason": None,
    "asin": "B0TESTAS1N",
    "title": "Acme Stainless Steel Water Bottle 750 ml",
    "route": "DE:FR",
    "buy_market": "DE",
    "sell_market": "FR",
    "buy_url": "https://www.amazon.de/dp/B0TESTAS1N",
    "sell_url": "https://www.amazon.fr/dp/B0TESTAS1N",
    "buy_currency": "EUR",
    "sell_currency": "EUR",
    "buy_price_minor": 2000,
    "sell_price_minor": 4800,
    "buy_price_eur_cents": 2000,
    "sell_price_eur_cents": 4800,
    "breakdown": {
        "net_sell_eur_cents": 4000,
        "vat_sell_eur_cents": 800,
        "referral_fee_eur_cents": 720,
        "fba_fee_eur_cents": 425,
        "shipping_eur_cents": 510,
        "net_buy_eur_cents": 1681,
        "vat_buy_eur_cents": 319,
    },
    "profit_eur_cents": 664,
    "roi": 0.3031,
    "margin": 0.166,
    "referral_fee_rate": 0.15,
    "fba_fee_estimated": False,
    "fx_eur_per_gbp": 1.17,
    "buy_observed_at": "2026-03-01T12:00:00Z",
    "sell_observed_at": "2026-03-01T12:00:00Z",
    "event_time": "2026-03-01T12:00:00Z",
    "first_seen": "2026-03-01T12:00:00Z",
    "sales_rank": 1234,
    "root_category": 3167641,
    "image_url": "https://m.media-amazon.com/images/I/51Xk9sQ2fUL.jpg",
    "amazon_sells_in_target": False,
}
