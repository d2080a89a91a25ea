"""Real ``arbitrage.opportunities`` events for the alert tests, built by the pure domain and
their contract (as decoded JSON).

B0ALERT001 DE 2000 -> FR 5000 (FBA 300, referral 15 %, 500 g): profit 926 cents, ROI 0.4226,
margin 926 / 4167 = 0.2222 (the hand computation is in tests/integration/test_topology.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from app.contracts.opportunities import OpportunityMessage
from app.domain.detection import OpportunityEvent
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import PricingPolicy
from app.domain.pricing import evaluate_route
from tests.keepa_factory import make_quote

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ASIN = "B0ALERT001"


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
    evaluation = evaluate_route(buy_quote, sell_quote, PricingPolicy(), fx)
    assert evaluation is not None
    reason = "below_threshold" if event == "closed" else None
    opportunity = OpportunityEvent.from_evaluation(
        event,  # type: ignore[arg-type]
        evaluation,
        event_time=at,
        first_seen=first_seen,
        reason=reason,  # type: ignore[arg-type]
    )
    document: dict[str, Any] = msgspec.to_builtins(
        OpportunityMessage.from_event(opportunity, sell_quote)
    )
    return document
