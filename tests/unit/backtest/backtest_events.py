"""Hand-made ``arbitrage.opportunities`` events for the backtest report's tests: a real event
of the contract (priced by the domain, tests/unit/alerts/alert_events.py) with the fields each
test sets changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.contracts.opportunities import OPPORTUNITY, OpportunityMessage
from tests.unit.alerts.alert_events import opportunity_event

T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)
UNTIL = T0 + 100 * H
#: A real event of the contract (priced by the domain), whose fields each test event changes.
BASE = opportunity_event()


def event(
    kind: str,
    asin: str,
    route: str,
    opened_h: float,
    at_h: float | None = None,
    *,
    profit: int = 500,
    monthly: int | None = None,
    category: str = "electronics",
    event_id: str | None = None,
) -> OpportunityMessage:
    buy, sell = route.split(":")
    at = T0 + (opened_h if at_h is None else at_h) * H
    fields: dict[str, Any] = {
        **BASE,
        "event": kind,
        "reason": "below_threshold" if kind == "closed" else None,
        "asin": asin,
        "route": route,
        "buy_market": buy,
        "sell_market": sell,
        "sell_signals": None,
        "category": category,
        "profit_eur_cents": profit,
        "expected_monthly_profit_eur_cents": monthly,
        "first_seen": (T0 + opened_h * H).isoformat(),
        "event_time": at.isoformat(),
        "event_id": event_id or f"{asin}:{route}:{kind}:{at.isoformat()}",
    }
    return OPPORTUNITY.convert(fields)


# Market pair DE:FR, category electronics:
#   route B0A (DE:FR): opened h0 (profit 9.00, monthly 50.00), updated h1, closed h2 (2 h);
#                      opened h10 (7.00, monthly unknown), closed h40 (30 h)
#   route B0B (DE:FR): opened h5 (12.00, monthly 30.00), still open at h100 (95 h, censored)
# Market pair FR:IT, category toys:
#   route B0C (FR:IT): opened h20 (6.00), closed h30 (10 h)
# Noise: B0A's first opened again (a redelivery, same event_id: skipped), and a closed event
# of B0D (DE:IT) that never opened (unmatched).
EVENTS = [
    event("opened", "B0A0000000", "DE:FR", 0, profit=900, monthly=5000),
    event("opened", "B0A0000000", "DE:FR", 0, profit=900, monthly=5000),
    event("updated", "B0A0000000", "DE:FR", 0, 1, profit=950, monthly=5100),
    event("closed", "B0A0000000", "DE:FR", 0, 2),
    event("opened", "B0B0000000", "DE:FR", 5, profit=1200, monthly=3000),
    event("opened", "B0A0000000", "DE:FR", 10, profit=700),
    event("opened", "B0C0000000", "FR:IT", 20, profit=600, category="toys"),
    event("closed", "B0C0000000", "FR:IT", 20, 30, category="toys"),
    event("closed", "B0A0000000", "DE:FR", 10, 40),
    event("closed", "B0D0000000", "DE:IT", 50, 60),
]
