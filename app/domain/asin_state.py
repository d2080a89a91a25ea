"""One step of the per-ASIN state machine: a new quote in, new state and events out.

This is what the detector agent does for every ``keepa.products`` message, kept free of
Faust so it can be tested (and benchmarked) on its own. The state of an ASIN is its latest
quote per market plus its open opportunities; both live in changelog-backed tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.domain.detection import OpenOpportunity, OpportunityEvent, detect
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import PricingPolicy
from app.domain.quote import MarketQuote

__all__ = ["AsinStep", "apply_quote", "decode_open", "decode_quotes"]


@dataclass(frozen=True, slots=True)
class AsinStep:
    """What one quote did to an ASIN's state."""

    #: False when the quote was older than the one already held for its market: it goes
    #: to the price history but neither replaces the latest quote nor triggers detection.
    accepted: bool
    quotes: dict[str, dict[str, Any]]
    open: dict[str, dict[str, Any]]
    events: list[OpportunityEvent]

    def event_documents(self) -> list[dict[str, Any]]:
        """The events as published on ``arbitrage.opportunities``: the event fields plus the
        sell market's listing facts (rank, category, image, whether Amazon sells there)."""
        documents = []
        for event in self.events:
            document = event.to_dict()
            sell = self.quotes.get(event.sell_market.value, {})
            document["sales_rank"] = sell.get("sales_rank")
            document["root_category"] = sell.get("root_category")
            document["image_url"] = sell.get("image_url")
            document["amazon_sells_in_target"] = sell.get("amazon_in_stock")
            documents.append(document)
        return documents


def decode_quotes(stored: Mapping[str, Any] | None) -> dict[Market, MarketQuote]:
    return {Market(m): MarketQuote.from_dict(q) for m, q in (stored or {}).items()}


def decode_open(stored: Mapping[str, Any] | None) -> dict[str, OpenOpportunity]:
    return {route: OpenOpportunity.from_dict(o) for route, o in (stored or {}).items()}


def apply_quote(
    quote: MarketQuote,
    stored_quotes: Mapping[str, Any] | None,
    stored_open: Mapping[str, Any] | None,
    policy: PricingPolicy,
    fx: FxRates,
) -> AsinStep:
    """Merge ``quote`` into the stored state and re-evaluate every route of the ASIN.

    Event time is the newest ``observed_at`` across the ASIN's quotes, never the wall
    clock, so a replay of the same input gives the same events as the live run.
    """
    quotes = decode_quotes(stored_quotes)
    held = quotes.get(quote.market)
    if held is not None and held.observed_at > quote.observed_at:
        return AsinStep(False, dict(stored_quotes or {}), dict(stored_open or {}), [])
    quotes[quote.market] = quote
    now = max(q.observed_at for q in quotes.values())
    result = detect(quotes, decode_open(stored_open), policy, fx, now)
    return AsinStep(
        accepted=True,
        quotes={m.value: q.to_dict() for m, q in quotes.items()},
        open={route: o.to_dict() for route, o in result.open.items()},
        events=result.events,
    )
