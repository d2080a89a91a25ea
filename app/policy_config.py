"""Building the pure domain's configuration objects from the settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.fx import FxRates
from app.domain.policy import DetectionPolicy
from app.settings import Settings

#: "As of" of the configured rate: unknown, so the epoch of the configuration itself.
CONFIGURED_FX_AS_OF = datetime(1970, 1, 1, tzinfo=UTC)


def detection_policy(settings: Settings) -> DetectionPolicy:
    return DetectionPolicy(
        stale_after=stale_after(settings),
        material_change_eur_cents=settings.material_change_eur_cents,
        spike_share=settings.spike_share,
    )


def stale_after(settings: Settings) -> timedelta:
    """``STALE_AFTER_HOURS`` as a duration, to the microsecond (it may be a fraction)."""
    return timedelta(microseconds=int(settings.stale_after_hours * 3_600_000_000))


def configured_fx(settings: Settings) -> FxRates:
    return FxRates(settings.fx_gbp_eur, CONFIGURED_FX_AS_OF)
