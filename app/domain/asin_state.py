"""One step of the per-ASIN state machine: a new quote in, new state and events out.

This is what the detector agent does for every ``keepa.products`` message, kept free of
Faust so it can be tested (and benchmarked) on its own. The state of an ASIN is its latest
quote per market plus its open opportunities; both live in changelog-backed tables, whose
encoding is :mod:`app.contracts.tables`' business, not this module's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.domain.detection import OpenOpportunity, OpportunityEvent, Pricing, detect
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.quote import MarketQuote

__all__ = ["AsinStep", "apply_quote"]


@dataclass(frozen=True, slots=True)
class AsinStep:
    """What one quote did to an ASIN's state."""

    #: False when the quote was older than the one already held for its market: it goes
    #: to the price history but neither replaces the latest quote nor triggers detection.
    accepted: bool
    quotes: dict[Market, MarketQuote]
    open: dict[str, OpenOpportunity]
    events: list[OpportunityEvent]
    #: Routes the fee schedule could not price (route key -> why); see :func:`detect`.
    unpriced: dict[str, str]


def apply_quote(
    quote: MarketQuote,
    quotes: Mapping[Market, MarketQuote],
    open_: Mapping[str, OpenOpportunity],
    policy: DetectionPolicy,
    pricing: Pricing,
) -> AsinStep:
    """Merge ``quote`` into the ASIN's quotes and re-evaluate every route of the ASIN with
    ``pricing`` (the rate, profile and fee schedule in force).

    Event time is the newest ``observed_at`` across the ASIN's quotes, never the wall
    clock, so a replay of the same input gives the same events as the live run. The inputs
    are not modified.
    """
    held = quotes.get(quote.market)
    if held is not None and held.observed_at > quote.observed_at:
        return AsinStep(False, dict(quotes), dict(open_), [], {})
    merged = {**quotes, quote.market: quote}
    now = max(q.observed_at for q in merged.values())
    result = detect(merged, open_, policy, pricing, now)
    return AsinStep(
        accepted=True,
        quotes=merged,
        open=result.open,
        events=result.events,
        unpriced=result.unpriced,
    )
