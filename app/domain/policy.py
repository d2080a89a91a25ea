"""What detection needs besides the money: when a quote is too old to use, when a change
of an open route is worth an ``updated`` event, and when a sell price is a spike
(:mod:`app.domain.signals`).

Every figure of a profit (fees, VAT, shipping, thresholds) comes from the fee schedule
(:mod:`app.domain.fee_schedule`) and the seller's profile (:mod:`app.domain.profile`) through
:func:`app.domain.fees.price_route`; this object holds none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Final

__all__ = ["DEFAULT_SPIKE_SHARE", "DetectionPolicy"]

#: The default :attr:`DetectionPolicy.spike_share`: a sell price more than 20 % above its
#: 90-day average is a spike. Our choice of threshold, not a Keepa or Amazon figure
#: (docs/signals.md).
DEFAULT_SPIKE_SHARE: Final = Decimal("0.20")


@dataclass(frozen=True, slots=True)
class DetectionPolicy:
    """The event-time rules of opportunity detection (``STALE_AFTER_HOURS``,
    ``MATERIAL_CHANGE_EUR_CENTS``) and the spike threshold of its signals."""

    #: A quote older than the newest quote of the same ASIN by more than this is ignored.
    stale_after: timedelta = timedelta(hours=24)
    #: An open opportunity is re-published when its profit moved by at least this much.
    material_change_eur_cents: int = 50
    #: A sell price is a spike when it is more than this share above its 90-day average
    #: (:data:`DEFAULT_SPIKE_SHARE`).
    spike_share: Decimal = DEFAULT_SPIKE_SHARE

    def __post_init__(self) -> None:
        if self.material_change_eur_cents < 0:
            raise ValueError("material_change_eur_cents must be >= 0")
        if not isinstance(self.spike_share, Decimal) or not (
            self.spike_share.is_finite() and self.spike_share >= 0
        ):
            raise ValueError(f"spike_share must be a finite Decimal >= 0, got {self.spike_share!r}")
        if self.stale_after <= timedelta(0):
            raise ValueError("stale_after must be positive")
