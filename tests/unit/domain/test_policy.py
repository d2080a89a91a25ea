from datetime import timedelta
from decimal import Decimal

import pytest

from app.domain.fba import DEFAULT_FBA_TIERS
from app.domain.markets import Market
from app.domain.policy import PricingPolicy


def test_defaults() -> None:
    policy = PricingPolicy()
    assert policy.vat_mode == "registered"
    assert policy.default_referral_rate == Decimal("0.15")
    assert policy.min_referral_fee_eur_cents == 30
    assert policy.shipping_base_eur_cents == 450
    assert policy.shipping_per_kg_eur_cents == 120
    assert policy.gb_customs_eur_cents == 500
    assert policy.min_profit_eur_cents == 500
    assert policy.min_roi == Decimal("0.15")
    assert policy.stale_after == timedelta(hours=24)
    assert policy.material_change_eur_cents == 50
    assert policy.fba_tiers_for(Market.GB) == DEFAULT_FBA_TIERS[Market.GB]
    hash(policy)  # frozen and hashable


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vat_mode": "exempt"}, "vat_mode"),
        ({"default_referral_rate": Decimal("1.5")}, "default_referral_rate"),
        ({"shipping_base_eur_cents": -1}, "shipping_base_eur_cents"),
        ({"stale_after": timedelta(0)}, "stale_after"),
        ({"fba_tiers": {Market.DE: DEFAULT_FBA_TIERS[Market.DE]}}, "no tiers for"),
    ],
)
def test_invalid_policy(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PricingPolicy(**kwargs)  # type: ignore[arg-type]
