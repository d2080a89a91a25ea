"""Hand-made Keepa observations for the browser end-to-end test: ASINs with one profitable
route each (hand-computed below), observed hourly up to now so the price history has a
shape, and one more ASIN that appears later (a newly opened opportunity)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from app.domain.markets import Market
from tests.integration.worker_process import envelope_bytes
from tests.keepa_factory import envelope, keepa_product


class Series(NamedTuple):
    asin: str
    title: str
    buy: Market
    buy_price: int
    sell: Market
    sell_prices: tuple[int, ...]
    """Sell-market buy box, hourly, the last one now."""
    fba_fee: int


# Profits at the last observation (default seller profile: established in DE, VAT-registered
# everywhere, stock in every market; observed now, i.e. after 2026-03-20, so the Digital
# Services Fee of a DE-established seller is 3 % of the referral fee in FR/IT/ES (+ 3 % of
# the FBA fee in FR) and 2 % of referral + FBA in GB; 500 g: inbound 450 + 5 x 12 = 510,
# plus 500 customs when GB is involved; Keepa referral 15 %; Amazon's offer: VAT recovered):
# BOTTLE  ES 1800 -> IT 5200: 5200/1.22 = 4262; 4262 - 780 - 300 - 23 (23.4) - 510
#         - 1800/1.21 (1488) = 1161 cents
# LAMP    DE 2000 -> GB 5000 p: net sell 4167 p x 1.17 = 4875; referral 750 p = 878;
#         FBA 250 p = 293; DSF 20 p = 23; 4875 - 878 - 293 - 23 - 510 - 500
#         - 2000/1.19 (1681) = 990 cents
# KETTLE  DE 2000 -> FR 5000: 5000/1.2 = 4167; 4167 - 750 - 300 - 32 (23 + 9) - 510 - 1681
#         = 894 cents
# each minus its storage (STORAGE_CENTS below): in November 1155, 984, 888 and 1786
# HEADPHONES (late) DE 2500 -> ES 7000: 7000/1.21 = 5785; 5785 - 1050 - 300 - 32 (31.5)
#         - 510 - 2500/1.19 (2101) = 1792 cents
BOTTLE = Series(
    "B0E2EBTL03", "E2E Insulated Water Bottle 750 ml", Market.ES, 1800, Market.IT,
    (4400, 4700, 5000, 5200), 300,
)  # fmt: skip
LAMP = Series(
    "B0E2ELMP02", "E2E LED Desk Lamp, dimmable", Market.DE, 2000, Market.GB,
    (3600, 4100, 4600, 5000), 250,
)  # fmt: skip
KETTLE = Series(
    "B0E2EKET01", "E2E Stainless Steel Kettle 1.7 l", Market.DE, 2000, Market.FR,
    (3900, 4300, 4700, 5000), 300,
)  # fmt: skip
HEADPHONES = Series(
    "B0E2EHDP04", "E2E Wireless Headphones", Market.DE, 2500, Market.ES, (7000,), 300
)

INITIAL = (BOTTLE, LAMP, KETTLE)
#: Profits above before the storage line.
_BEFORE_STORAGE = {BOTTLE.asin: 1161, LAMP.asin: 990, KETTLE.asin: 894, HEADPHONES.asin: 1792}
#: One storage month (the default profile) of keepa_factory's 200 x 150 x 50 mm package
#: (1 500 000 mm3 = 0.0015 m3) in the sell market's warehouse, cents, (January-September,
#: October-December): the season is that of "now", the observation date.
#:   IT, ES: 2782 c/m3 x 0.0015 = 4.173 -> 4; 3852 x 0.0015 = 5.778 -> 6
#:   FR:     2865 x 0.0015 = 4.2975 -> 4; 3968 x 0.0015 = 5.952 -> 6
#:   GB:     1 500 000 / 28 316 846.592 mm3 per ft3 = 0.052972 ft3 x 71 p = 3.761 -> 4 p
#:           = 4.68 -> 5 c; x 100 p = 5.297 -> 5 p = 5.85 -> 6 c
STORAGE_CENTS = {Market.IT: (4, 6), Market.ES: (4, 6), Market.FR: (4, 6), Market.GB: (5, 6)}


def storage_cents(market: Market, now: datetime) -> int:
    return STORAGE_CENTS[market][1 if now.month >= 10 else 0]


def profits(now: datetime) -> dict[str, int]:
    """The profits above minus the storage of the season of ``now``."""
    return {
        s.asin: _BEFORE_STORAGE[s.asin] - storage_cents(s.sell, now)
        for s in (BOTTLE, LAMP, KETTLE, HEADPHONES)
    }


def kettle_fee_vat(now: datetime) -> int:
    """20 % FR VAT on the kettle's Amazon fees: 750 + 32 + 300 + storage (4 or 6):
    1086 x 0.20 = 217.2 -> 217, or 1088 x 0.20 = 217.6 -> 218."""
    return 217 if storage_cents(Market.FR, now) == 4 else 218


#: The test runs observe "now" (a season boundary at midnight during a run is not handled).
PROFITS = profits(datetime.now(UTC))


def _message(series: Series, market: Market, at: datetime, **prices: Any) -> tuple[bytes, bytes]:
    product = keepa_product(
        series.asin, market, last_update=at, weight_g=500, title=series.title, **prices
    )
    return envelope_bytes(envelope(product, at + timedelta(minutes=1)))


def observations(now: datetime, series: tuple[Series, ...] = INITIAL) -> list[tuple[bytes, bytes]]:
    """Hourly observations of ``series`` in both of its markets, the last at ``now``.

    Both markets carry a buy and a sell price (so the chart shows both); the reverse route
    (buying at the sell market's FBA offer) never pays. The buy price eases by 0.40 an hour.
    """
    messages: list[tuple[bytes, bytes]] = []
    for s in series:
        hours = len(s.sell_prices)
        for step, sell_price in enumerate(s.sell_prices):
            at = now - timedelta(hours=hours - 1 - step)
            buy_price = s.buy_price + (hours - 1 - step) * 40
            messages.append(_message(s, s.buy, at, amazon=buy_price, buy_box=buy_price + 150))
            messages.append(
                _message(
                    s,
                    s.sell,
                    at,
                    buy_box=sell_price,
                    new_fba=sell_price + 100,
                    fba_fee=s.fba_fee,
                    referral_pct=15.0,
                )
            )
    return messages
