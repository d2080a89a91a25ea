from datetime import timedelta

import pytest

from app.domain.policy import DetectionPolicy


def test_defaults_hold_no_money_figure_but_the_material_change() -> None:
    policy = DetectionPolicy()
    assert policy.stale_after == timedelta(hours=24)
    assert policy.material_change_eur_cents == 50
    hash(policy)  # frozen and hashable


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stale_after": timedelta(0)}, "stale_after"),
        ({"material_change_eur_cents": -1}, "material_change_eur_cents"),
    ],
)
def test_invalid_policy(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DetectionPolicy(**kwargs)  # type: ignore[arg-type]
