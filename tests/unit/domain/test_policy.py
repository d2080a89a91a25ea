from datetime import timedelta
from decimal import Decimal

import pytest

from app.domain.policy import DetectionPolicy


def test_defaults_hold_no_money_figure_but_the_material_change() -> None:
    policy = DetectionPolicy()
    assert policy.stale_after == timedelta(hours=24)
    assert policy.material_change_eur_cents == 50
    assert policy.spike_share == Decimal("0.20")  # our threshold (docs/signals.md)
    hash(policy)  # frozen and hashable


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stale_after": timedelta(0)}, "stale_after"),
        ({"material_change_eur_cents": -1}, "material_change_eur_cents"),
        ({"spike_share": Decimal("-0.01")}, "spike_share"),
        ({"spike_share": Decimal("NaN")}, "spike_share"),
        ({"spike_share": 0.2}, "spike_share"),
    ],
)
def test_invalid_policy(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DetectionPolicy(**kwargs)  # type: ignore[arg-type]
