from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.money import (
    Currency,
    Money,
    UnknownCurrencyError,
    format_money,
    parse_eur_cents,
    round_half_up,
)


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


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Fraction(4677, 2), 2339),  # 2338.5 -> 2339, as Decimal("2338.5")
        (Fraction(-5, 2), -3),  # halves away from zero
        (Fraction(12, 5), 2),  # 2.4
        (Fraction(13, 5), 3),  # 2.6
        (Fraction(-13, 5), -3),
        (Fraction(1000, 3), 333),  # 333.33...: no Decimal could hold it exactly
        (Fraction(0), 0),
        (Fraction(7), 7),
    ],
)
def test_round_half_up_of_an_exact_fraction(value: Fraction, expected: int) -> None:
    assert round_half_up(value) == expected


@given(st.integers(-(10**12), 10**12), st.integers(1, 10**6))
def test_fraction_and_decimal_round_alike(numerator: int, denominator: int) -> None:
    # A denominator of 2^a * 5^b has an exact Decimal; the rule must not depend on the type.
    value = Fraction(numerator, denominator)
    exact = Decimal(numerator) / Decimal(denominator)
    if Fraction(exact) == value:
        assert round_half_up(value) == round_half_up(exact)
    assert abs(round_half_up(value) - value) <= Fraction(1, 2)


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (926, Currency.EUR, "€9.26"),
        (0, Currency.EUR, "€0.00"),
        (-123456, Currency.EUR, "-€1,234.56"),
        (5000, Currency.GBP, "£50.00"),
    ],
)
def test_format_money(minor: int, currency: Currency, text: str) -> None:
    assert format_money(minor, currency) == text


@pytest.mark.parametrize(
    ("text", "cents"),
    [("5", 500), ("7.5", 750), (" 7.50 ", 750), ("0.01", 1), ("-1.2", -120), ("+3", 300)],
)
def test_parse_eur_cents(text: str, cents: int) -> None:
    assert parse_eur_cents(text) == cents


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("7.505", "more than two decimals"),
        ("abc", "not an amount"),
        ("", "not an amount"),
        ("1e3", "not an amount"),
        ("1,000", "not an amount"),
        ("NaN", "not an amount"),
        (".", "not an amount"),
        ("--1", "not an amount"),
    ],
)
def test_parse_eur_cents_refuses_what_is_not_whole_cents(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_eur_cents(text)
