"""Real ``arbitrage.opportunities`` events for the alert tests, built by the pure domain and
their contract (as decoded JSON).

B0ALERT001 DE 2000 -> FR 5000 on 2026-11-20 (Keepa FBA 300, Keepa referral 15 %, 500 g), priced
by app.domain.fees.price_route with the default seller profile (established in DE):
  net sell 5000 / 1.20 = 4166.67 -> 4167; net buy 2000 / 1.19 = 1680.67 -> 1681 (VAT recovered)
  referral 15 % x 5000 = 750; FBA 300 (Keepa)
  Digital Services Fee, DE-established on FR from 2026-03-20: 3 % of the referral (22.5 -> 23)
    + 3 % of the FBA fee (9) = 32; VAT on fees reverse-charged (shown only)
  storage, 1 month in the FR warehouse in November (October-December), 200 x 150 x 50 mm
    = 0.0015 m3: 3968 c/m3 x 0.0015 = 5.952 -> 6 (VAT on it reverse-charged too)
  inbound 450 + 5 x 12 = 510 (500 g)
  profit 4167 - 750 - 300 - 32 - 6 - 510 - 1681 = 888 cents
  ROI 888 / (1681 + 510 + 6) = 888 / 2197 = 0.40419 -> 0.4042; margin 888 / 4167 = 0.21310
    -> 0.2131
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from app.contracts.opportunities import OpportunityMessage
from app.domain.detection import OpportunityEvent
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fees import price_route
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.profile import DEFAULT_PROFILE
from tests.keepa_factory import make_quote

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ASIN = "B0ALERT001"
SCHEDULE = default_fee_schedule()


def opportunity_event(
    event: str = "opened",
    *,
    asin: str = ASIN,
    sell_price: int = 5000,
    first_seen: datetime = T0,
    event_time: datetime | None = None,
    buy: Market = Market.DE,
    sell: Market = Market.FR,
    title: str | None = "Espresso machine [SYNTHETIC]",
) -> dict[str, Any]:
    at = event_time or first_seen
    buy_quote = make_quote(asin, buy, amazon=2000, last_update=at, weight_g=500, title=title)
    sell_quote = make_quote(
        asin,
        sell,
        buy_box=sell_price,
        fba_fee=300,
        referral_pct=15.0,
        last_update=at,
        weight_g=500,
        title=title,
    )
    fx = FxRates(Decimal("1.17"), datetime(1970, 1, 1, tzinfo=UTC))
    evaluation = price_route(buy_quote, sell_quote, fx, DEFAULT_PROFILE, SCHEDULE)
    assert evaluation is not None
    reason = "below_threshold" if event == "closed" else None
    opportunity = OpportunityEvent.from_evaluation(
        event,  # type: ignore[arg-type]
        evaluation,
        profile_version="test",
        event_time=at,
        first_seen=first_seen,
        reason=reason,  # type: ignore[arg-type]
    )
    document: dict[str, Any] = msgspec.to_builtins(
        OpportunityMessage.from_event(opportunity, sell_quote)
    )
    return document
