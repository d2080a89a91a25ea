"""Pruning routes that cannot be opportunities never changes what detection emits."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.domain.detection import detect, diff_opportunities, evaluate_all_routes
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import PricingPolicy
from tests.keepa_factory import make_quote

T0 = datetime(2026, 11, 20, tzinfo=UTC)
FX = FxRates(Decimal("1.17"), T0)


@pytest.mark.parametrize("vat_mode", ["registered", "unrecoverable"])
def test_pruned_detection_emits_the_same_events_as_full_evaluation(vat_mode: str) -> None:
    policy = PricingPolicy(vat_mode=vat_mode)  # type: ignore[arg-type]
    rng = random.Random(1234)
    open_full: dict = {}  # type: ignore[type-arg]
    open_pruned: dict = {}  # type: ignore[type-arg]
    quotes = {}
    emitted = 0
    for step in range(400):
        market = rng.choice(list(Market))
        price = rng.randint(800, 6000)
        quote = make_quote(
            "B0PRUNE001",
            market,
            amazon=price if rng.random() < 0.5 else None,
            buy_box=int(price * rng.uniform(0.9, 1.9)),
            fba_fee=rng.choice([None, 250, 400]),
            weight_g=rng.choice([None, 300, 1500]),
            last_update=T0 + timedelta(minutes=10 * step),
        )
        quotes[market] = quote
        now = quote.observed_at
        full_events, open_full = diff_opportunities(
            open_full, evaluate_all_routes(quotes, policy, FX), policy, now, quotes=quotes
        )
        pruned = detect(quotes, open_pruned, policy, FX, now)
        open_pruned = pruned.open
        assert pruned.events == full_events
        assert open_pruned.keys() == open_full.keys()
        emitted += len(full_events)
    assert emitted > 20  # the walk really opens and closes routes
