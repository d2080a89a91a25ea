"""Pruning routes that cannot be opportunities never changes what detection emits."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.domain.detection import Pricing, detect, diff_opportunities, evaluate_all_routes
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE, SellFulfilment
from tests.keepa_factory import make_quote

T0 = datetime(2026, 11, 20, tzinfo=UTC)
FX = FxRates(Decimal("1.17"), T0)
SCHEDULE = default_fee_schedule()
PROFILES = {
    "default": DEFAULT_PROFILE,
    # purchase VAT a cost, fees' VAT a cost, EFN/MFN, prep, fx fee, returns: every line kind
    "costly": replace(
        DEFAULT_PROFILE,
        vat_registered_in=frozenset({Market.DE}),
        input_vat_recoverable=False,
        fulfilment={
            **DEFAULT_PROFILE.fulfilment,
            Market.FR: SellFulfilment(mode="efn"),
            Market.IT: SellFulfilment(mode="mfn", mfn_shipping_minor=450),
        },
        prep_eur_cents=40,
        fx_fee_rate=Decimal("0.015"),
        returns_allowance_rate=Decimal("0.02"),
        import_duty_rate=Decimal("0.04"),
    ),
}


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_pruned_detection_emits_the_same_events_as_full_evaluation(name: str) -> None:
    policy = DetectionPolicy()
    pricing = Pricing(FX, PROFILES[name], name, SCHEDULE)
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
            open_full,
            evaluate_all_routes(quotes, policy, pricing),
            policy,
            name,
            now,
            quotes=quotes,
        )
        pruned = detect(quotes, open_pruned, policy, pricing, now)
        open_pruned = pruned.open
        assert pruned.events == full_events
        assert open_pruned.keys() == open_full.keys()
        emitted += len(full_events)
    assert emitted > 20  # the walk really opens and closes routes
