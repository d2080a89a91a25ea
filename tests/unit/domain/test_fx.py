from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.domain.fx import FxRates
from app.domain.money import UnknownCurrencyError, round_half_up

AS_OF = datetime(2025, 3, 1, tzinfo=UTC)
FX = FxRates(eur_per_gbp=Decimal("1.17"), as_of=AS_OF)


def test_eur_is_identity() -> None:
    assert FX.to_eur_cents(1999, "EUR") == 1999


def test_gbp_pence_are_converted_not_taken_as_cents() -> None:
    # 1999 p x 1.17 = 2338.83 -> 2339 c (never 1999).
    assert FX.to_eur_cents(1999, "GBP") == 2339
    # 1000 p x 1.17 = 1170.00 -> 1170 c.
    assert FX.to_eur_cents(1000, "gbp") == 1170


def test_gbp_rounds_half_up() -> None:
    fx = FxRates(eur_per_gbp=Decimal("1.165"), as_of=AS_OF)
    assert fx.to_eur_cents(100, "GBP") == 117  # 116.5 -> 117
    assert fx.to_eur_cents(10, "GBP") == 12  # 11.65 -> 12
    assert fx.to_eur_cents(1, "GBP") == 1  # 1.165 -> 1


def test_unknown_currency() -> None:
    with pytest.raises(UnknownCurrencyError, match="USD"):
        FX.to_eur_cents(100, "USD")


def test_invalid_rates() -> None:
    with pytest.raises(ValueError, match="positive"):
        FxRates(eur_per_gbp=Decimal(0), as_of=AS_OF)
    with pytest.raises(ValueError, match="timezone-aware"):
        FxRates(eur_per_gbp=Decimal("1.17"), as_of=datetime(2025, 3, 1))


def test_round_half_up_is_away_from_zero() -> None:
    assert round_half_up(Decimal("2338.5")) == 2339
    assert round_half_up(Decimal("2338.49")) == 2338
    assert round_half_up(Decimal("-2.5")) == -3
