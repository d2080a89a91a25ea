"""One step of the per-ASIN state machine: a new quote (or a re-evaluation request) in, new
state and events out.

This is what the detector agent does for every ``keepa.products`` message
(:func:`apply_quote`) and every ``arbitrage.reevaluations`` request (:func:`reevaluate`),
kept free of Faust (and of any clock) so it can be tested (and benchmarked) on its own.
The state of an ASIN is its latest quote per market plus its open opportunities; both live
in changelog-backed tables, whose encoding is :mod:`app.contracts.tables`' business, not
this module's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from app.domain.detection import OpenOpportunity, OpportunityEvent, Pricing, detect
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.quote import MarketQuote

__all__ = ["AsinStep", "apply_quote", "reevaluate"]


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
    clock. Staleness is measured from the event time or the quote's ``fetched_at`` when that
    is later (:func:`app.domain.detection.fresh_quotes`): a quote already older than
    ``policy.stale_after`` when it was fetched opens nothing. Both times are in the message,
    so a replay of the same input gives the same events as the live run. The inputs are not
    modified.
    """
    held = quotes.get(quote.market)
    if held is not None and held.observed_at > quote.observed_at:
        return AsinStep(False, dict(quotes), dict(open_), [], {})
    merged = {**quotes, quote.market: quote}
    now = max(q.observed_at for q in merged.values())
    result = detect(merged, open_, policy, pricing, now, as_of=quote.fetched_at)
    return AsinStep(
        accepted=True,
        quotes=merged,
        open=result.open,
        events=result.events,
        unpriced=result.unpriced,
    )


def reevaluate(
    quotes: Mapping[Market, MarketQuote],
    open_: Mapping[str, OpenOpportunity],
    policy: DetectionPolicy,
    pricing: Pricing,
    as_of: datetime,
    *,
    cause: str | None = None,
) -> AsinStep:
    """Re-evaluate every route of the ASIN's stored ``quotes`` with ``pricing`` (the profile
    in force, which may differ from the one the open routes were priced with) and staleness
    measured at ``as_of`` (when later than the newest quote): the usual events follow, e.g.
    ``closed`` (``below_threshold``) when a new profile makes a route unprofitable, or
    ``closed`` (``stale_quote``) once a quote of an open route is older than
    ``policy.stale_after`` at ``as_of``.

    ``as_of`` comes from the request (the sweep's wall-clock time, written into the message),
    never from a clock here. The events keep the ASIN's event time (its newest
    ``observed_at``), so a later Keepa event of the ASIN never carries an older event time
    than a re-evaluation before it; ``cause`` (e.g. ``wall_clock@<as_of>``) makes their ids
    differ from those of events of the same event time. The inputs are not modified.
    """
    now = max((q.observed_at for q in quotes.values()), default=as_of)
    result = detect(quotes, open_, policy, pricing, now, as_of=as_of, cause=cause)
    return AsinStep(
        accepted=True,
        quotes=dict(quotes),
        open=result.open,
        events=result.events,
        unpriced=result.unpriced,
    )
