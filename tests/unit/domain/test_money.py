from decimal import Decimal

import pytest

from app.domain.money import Currency, Money, UnknownCurrencyError


def test_money_is_minor_units_of_a_currency() -> None:
    price = Money(1999, Currency.GBP)
    assert (price.amount_minor, price.currency) == (1999, Currency.GBP)
    assert Money(1999, "eur") == Money(1999, Currency.EUR)  # type: ignore[arg-type]
    assert Money(1999, Currency.EUR) != Money(1999, Currency.GBP)
    assert hash(Money(-5, Currency.EUR)) == hash(Money(-5, Currency.EUR))


@pytest.mark.parametrize("amount", [19.99, Decimal("19.99"), True, "1999"])
def test_money_amount_is_an_int(amount: object) -> None:
    with pytest.raises(TypeError, match="amount_minor"):
        Money(amount, Currency.EUR)  # type: ignore[arg-type]


def test_money_currency_is_known() -> None:
    with pytest.raises(UnknownCurrencyError, match="USD"):
        Money(100, "USD")  # type: ignore[arg-type]
