"""What detection needs besides the money: when a quote is too old to use and when a change
of an open route is worth an ``updated`` event.

Every figure of a profit (fees, VAT, shipping, thresholds) comes from the fee schedule
(:mod:`app.domain.fee_schedule`) and the seller's profile (:mod:`app.domain.profile`) through
:func:`app.domain.fees.price_route`; this object holds none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

__all__ = ["DetectionPolicy"]


@dataclass(frozen=True, slots=True)
class DetectionPolicy:
    """The event-time rules of opportunity detection (``STALE_AFTER_HOURS``,
    ``MATERIAL_CHANGE_EUR_CENTS``)."""

    #: A quote older than the newest quote of the same ASIN by more than this is ignored.
    stale_after: timedelta = timedelta(hours=24)
    #: An open opportunity is re-published when its profit moved by at least this much.
    material_change_eur_cents: int = 50

    def __post_init__(self) -> None:
        if self.material_change_eur_cents < 0:
            raise ValueError("material_change_eur_cents must be >= 0")
        if self.stale_after <= timedelta(0):
            raise ValueError("stale_after must be positive")
