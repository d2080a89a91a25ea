"""The business assumptions of a profit computation, with their sources.

* VAT: standard rates per market, see :mod:`app.domain.markets` (European Commission VAT
  rates list; HMRC for GB).
* Referral fee: Amazon Seller Central Europe, "Selling on Amazon fee schedule": 15 % of the
  total sales price (VAT included) for most categories, with a minimum referral fee of
  EUR 0.30 per item (GBP 0.25 on amazon.co.uk - we apply EUR 0.30 everywhere, after FX).
  Keepa's per-product ``referralFeePercentage`` wins over the default when present.
* FBA fulfilment fee: Keepa's ``fbaFees.pickAndPackFee`` when present, else the approximate
  size-tier card of :mod:`app.domain.fba`.
* Shipping buy -> sell market, customs and thresholds: our own assumptions (a tracked
  parcel between EU countries to an Amazon fulfilment centre costs roughly EUR 4.50 plus
  about EUR 1.20 per kg; a customs declaration/brokerage flat fee on routes to or from GB
  since Brexit; duties are not modelled, UK-EU trade being tariff-free for goods of
  qualifying origin).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Literal, get_args

from app.domain.fba import DEFAULT_FBA_TIERS, FbaTier
from app.domain.fx import FxRates
from app.domain.markets import Market

__all__ = ["FxRates", "PricingPolicy", "VatMode"]

#: ``registered``: the buyer is VAT-registered and recovers purchase VAT (net purchase cost);
#: ``unrecoverable``: purchase VAT is a cost (gross purchase price).
VatMode = Literal["registered", "unrecoverable"]


def _default_fba_tiers() -> Mapping[Market, tuple[FbaTier, ...]]:
    return DEFAULT_FBA_TIERS


@dataclass(frozen=True, slots=True)
class PricingPolicy:
    """All knobs of the profit computation and of opportunity detection.

    Amounts are EUR cents unless a name says otherwise; FBA tier fees are in each market's
    own minor units.
    """

    vat_mode: VatMode = "registered"
    #: 15 %: Amazon EU referral fee of most categories (fee schedule, see module doc).
    default_referral_rate: Decimal = Decimal("0.15")
    #: EUR 0.30: Amazon EU minimum referral fee per item.
    min_referral_fee_eur_cents: int = 30
    #: Approximate 2025 Pan-EU FBA fee card (see :mod:`app.domain.fba`).
    fba_tiers: Mapping[Market, tuple[FbaTier, ...]] = field(
        default_factory=_default_fba_tiers, hash=False
    )
    #: Shipping of one unit from the buy market to the sell market's fulfilment centre:
    #: base + per_kg x weight, the weight rounded UP to the started 100 g
    #: (501 g -> 600 g -> 450 + 6 x 12 = 522 cents with the defaults).
    shipping_base_eur_cents: int = 450
    shipping_per_kg_eur_cents: int = 120
    #: Weight assumed for shipping when neither quote knows it (conservative: 2 kg).
    shipping_unknown_weight_g: int = 2_000
    #: Added to shipping when GB is the buy or the sell market (customs formalities).
    gb_customs_eur_cents: int = 500
    #: An opportunity needs at least this profit ...
    min_profit_eur_cents: int = 500
    #: ... and at least this ROI (profit / (net buy + shipping)).
    min_roi: Decimal = Decimal("0.15")
    #: A quote older than the newest quote of the same ASIN by more than this is ignored.
    stale_after: timedelta = timedelta(hours=24)
    #: An open opportunity is re-published when its profit moved by at least this much.
    material_change_eur_cents: int = 50

    def __post_init__(self) -> None:
        if self.vat_mode not in get_args(VatMode):
            raise ValueError(f"vat_mode must be one of {get_args(VatMode)}, got {self.vat_mode!r}")
        if not 0 <= self.default_referral_rate < 1:
            raise ValueError("default_referral_rate must be in [0, 1)")
        for name in (
            "min_referral_fee_eur_cents",
            "shipping_base_eur_cents",
            "shipping_per_kg_eur_cents",
            "shipping_unknown_weight_g",
            "gb_customs_eur_cents",
            "material_change_eur_cents",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.stale_after <= timedelta(0):
            raise ValueError("stale_after must be positive")
        missing = [m.value for m in Market if not self.fba_tiers.get(m)]
        if missing:
            raise ValueError(f"fba_tiers has no tiers for {missing}")

    def fba_tiers_for(self, market: Market) -> tuple[FbaTier, ...]:
        return self.fba_tiers[market]
