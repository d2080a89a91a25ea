"""Approximate FBA fulfilment fees by size tier, per marketplace.

The fee card below is an APPROXIMATION of Amazon's 2025 Pan-European FBA fulfilment fee
rate card (local fulfilment, non-peak, non-apparel, per unit, excluding VAT), as published
on Seller Central Europe ("FBA fees" / "Pan-European FBA fulfilment fee rate card"). Amazon
has many more weight bands per size tier; here each tier is collapsed into a few bands with
a representative fee. It is used only when Keepa provides no ``fbaFees.pickAndPackFee``.

Size tiers (item incl. packaging; sides sorted longest -> shortest):

* envelopes: up to 33 x 23 x 2.5 cm (light <= 100 g, standard <= 460 g),
  33 x 23 x 4 cm (large, <= 960 g), 33 x 23 x 6 cm (extra-large, <= 960 g);
* small parcel: up to 35 x 25 x 12 cm, <= 3.9 kg;
* standard parcel: up to 45 x 34 x 26 cm, <= 11.9 kg.

Simplifications: the unit weight is used (no volumetric weight - Amazon EU moved to unit
weight in October 2025); envelopes need known dimensions (an item of unknown size is
assumed not to be flat); oversize items are priced at the largest standard tier, which is
a lower bound of their real fee and flagged as estimated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from app.domain.markets import Market

__all__ = ["DEFAULT_FBA_TIERS", "FbaFeeSource", "FbaTier", "FbaTierMatch", "match_fba_tier"]

FbaFeeSource = Literal["keepa", "size_tier", "largest_tier"]


@dataclass(frozen=True, slots=True)
class FbaTier:
    """A size/weight band and its fee in the marketplace's minor units."""

    name: str
    max_weight_g: int
    max_dims_mm: tuple[int, int, int]  # longest, median, shortest side
    fee_minor: int
    envelope: bool = False

    def fits(self, weight_g: int, dims_mm: tuple[int, int, int] | None) -> bool:
        """Whether an item of that weight and (any-order) dimensions falls in this tier."""
        if weight_g > self.max_weight_g:
            return False
        if dims_mm is None:
            return not self.envelope
        longest, median, shortest = sorted(dims_mm, reverse=True)
        max_l, max_m, max_s = self.max_dims_mm
        return longest <= max_l and median <= max_m and shortest <= max_s


@dataclass(frozen=True, slots=True)
class FbaTierMatch:
    tier: FbaTier
    source: FbaFeeSource  # "size_tier" (matched) or "largest_tier" (guess)


def match_fba_tier(
    tiers: Sequence[FbaTier], weight_g: int | None, dims_mm: tuple[int, int, int] | None
) -> FbaTierMatch:
    """The first (cheapest) tier that fits; the last tier when the weight is unknown or the
    item fits none (then ``source == "largest_tier"``). ``tiers`` must not be empty."""
    if not tiers:
        raise ValueError("empty FBA tier table")
    if weight_g is not None:
        for tier in tiers:
            if tier.fits(weight_g, dims_mm):
                return FbaTierMatch(tier, "size_tier")
    return FbaTierMatch(tiers[-1], "largest_tier")


# (name, max weight g, max dims mm, envelope) - order matters: cheapest first.
_SIZES: tuple[tuple[str, int, tuple[int, int, int], bool], ...] = (
    ("light_envelope", 100, (330, 230, 25), True),
    ("standard_envelope", 460, (330, 230, 25), True),
    ("large_envelope", 960, (330, 230, 40), True),
    ("extra_large_envelope", 960, (330, 230, 60), True),
    ("small_parcel_400g", 400, (350, 250, 120), False),
    ("small_parcel_1kg", 1_000, (350, 250, 120), False),
    ("small_parcel_3900g", 3_900, (350, 250, 120), False),
    ("standard_parcel_1kg", 1_000, (450, 340, 260), False),
    ("standard_parcel_3kg", 3_000, (450, 340, 260), False),
    ("standard_parcel_11900g", 11_900, (450, 340, 260), False),
)

# Fees in minor units (EUR cents; pence for GB), same order as _SIZES. Approximations.
_FEES: dict[Market, tuple[int, ...]] = {
    Market.DE: (230, 260, 310, 350, 375, 420, 560, 460, 565, 770),
    Market.FR: (285, 325, 385, 425, 490, 545, 725, 590, 720, 990),
    Market.IT: (315, 340, 385, 420, 480, 530, 680, 570, 670, 890),
    Market.ES: (275, 300, 340, 375, 410, 460, 605, 500, 600, 810),
    Market.GB: (195, 215, 275, 295, 305, 335, 440, 365, 445, 610),
}

#: Default fee card: market -> tiers ordered cheapest first (fees in that market's currency).
DEFAULT_FBA_TIERS: Mapping[Market, tuple[FbaTier, ...]] = MappingProxyType(
    {
        market: tuple(
            FbaTier(name, weight, dims, fee, envelope)
            for (name, weight, dims, envelope), fee in zip(_SIZES, fees, strict=True)
        )
        for market, fees in _FEES.items()
    }
)
