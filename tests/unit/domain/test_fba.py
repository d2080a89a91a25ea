import pytest

from app.domain.fba import DEFAULT_FBA_TIERS, FbaTier, match_fba_tier
from app.domain.markets import Market

DE_TIERS = DEFAULT_FBA_TIERS[Market.DE]


def test_every_market_has_a_tier_card_with_the_same_sizes() -> None:
    names = [t.name for t in DE_TIERS]
    for market in Market:
        tiers = DEFAULT_FBA_TIERS[market]
        assert [t.name for t in tiers] == names
        assert all(t.fee_minor > 0 for t in tiers)
        assert tiers[-1].name == "standard_parcel_11900g"


@pytest.mark.parametrize(
    ("weight_g", "dims", "tier", "fee"),
    [
        (80, (200, 150, 10), "light_envelope", 230),
        (101, (200, 150, 10), "standard_envelope", 260),
        (300, (20, 330, 200), "standard_envelope", 260),  # any side order
        (500, (200, 150, 35), "large_envelope", 310),
        (500, (200, 150, 50), "extra_large_envelope", 350),
        (961, (200, 150, 50), "small_parcel_1kg", 420),
        (300, (340, 240, 100), "small_parcel_400g", 375),
        (2000, (300, 200, 100), "small_parcel_3900g", 560),
        (900, (400, 300, 200), "standard_parcel_1kg", 460),
        (5000, (400, 300, 200), "standard_parcel_11900g", 770),
        (80, None, "small_parcel_400g", 375),  # unknown size: not an envelope
    ],
)
def test_match_tier(weight_g: int, dims: tuple[int, int, int] | None, tier: str, fee: int) -> None:
    match = match_fba_tier(DE_TIERS, weight_g, dims)
    assert (match.tier.name, match.tier.fee_minor, match.source) == (tier, fee, "size_tier")


@pytest.mark.parametrize(
    ("weight_g", "dims"),
    [(None, (200, 150, 50)), (None, None), (12_000, None), (500, (460, 10, 10))],
)
def test_no_weight_or_oversize_uses_the_largest_tier(
    weight_g: int | None, dims: tuple[int, int, int] | None
) -> None:
    match = match_fba_tier(DE_TIERS, weight_g, dims)
    assert (match.tier.name, match.source) == ("standard_parcel_11900g", "largest_tier")


def test_empty_tier_table() -> None:
    with pytest.raises(ValueError, match="empty"):
        match_fba_tier([], 100, None)


def test_tier_fits() -> None:
    tier = FbaTier("t", 100, (300, 200, 20), 100, envelope=True)
    assert tier.fits(100, (20, 300, 200))
    assert not tier.fits(101, (20, 300, 200))
    assert not tier.fits(100, None)
