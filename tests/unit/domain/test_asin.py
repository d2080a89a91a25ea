import pytest

from app.domain.asin import ASIN_PATTERN, is_valid_asin, normalise_asin


@pytest.mark.parametrize("value", ["B0TESTAS1N", "0123456789", "ABCDEFGHIJ"])
def test_valid_asins(value: str) -> None:
    assert is_valid_asin(value)
    assert normalise_asin(value) == value


@pytest.mark.parametrize(
    "value", ["b0testas1n", "B0TESTAS1", "B0TESTAS1NN", "B0TEST-S1N", " B0TESTAS1N", "", None, 42]
)
def test_invalid_asins(value: object) -> None:
    assert not is_valid_asin(value)


def test_a_trailing_newline_is_not_part_of_a_valid_asin() -> None:
    assert ASIN_PATTERN == r"^[A-Z0-9]{10}$"
    assert not is_valid_asin("B0TESTAS1N\n")


def test_normalise_trims_and_upper_cases() -> None:
    assert normalise_asin("  b0testas1n\t") == "B0TESTAS1N"


@pytest.mark.parametrize("value", ["B0TEST", "b0test-s1n", ""])
def test_normalise_refuses_what_is_not_an_asin(value: str) -> None:
    with pytest.raises(ValueError, match=r"invalid ASIN .* expected 10 characters A-Z0-9"):
        normalise_asin(value)
