"""A memo of :func:`app.domain.breakeven.breakevens` for simulations that recompute the
break-evens of every watchlist ASIN every 15 minutes (``bench/push_sim.py``: the tracking
sync's candidates), where most ASINs' quotes were refetched with unchanged prices.

The break-evens depend on the quotes' contents, on which quotes are fresh at ``at``, on the
date of ``at`` (the fee schedule in force), on the policy and on the pricing (by identity);
not on when each quote was observed or fetched, or on its provenance, except through
``Breakeven.fresh_until``. So the key is the quotes without their times and provenance, the
set of fresh markets, the date, the policy, the pricing and ``max_probes``; a hit is returned
with ``fresh_until`` recomputed from the quotes given (the first counterpart with a price to
become stale). Quotes observed after ``at`` are not memoised (another reference time).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime

from app.domain.breakeven import DEFAULT_MAX_PROBES, Breakeven, breakevens
from app.domain.detection import Pricing, fresh_quotes
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.quote import MarketQuote

__all__ = ["BreakevenMemo"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Breakevens = Callable[..., dict[Market, Breakeven]]


def _timeless(quote: MarketQuote) -> MarketQuote:
    return replace(
        quote, observed_at=_EPOCH, fetched_at=_EPOCH, source="product", notification_id=None
    )


def _fresh_until(
    market: Market, fresh: Mapping[Market, MarketQuote], policy: DetectionPolicy
) -> datetime | None:
    used = [
        q.observed_at
        for m, q in fresh.items()
        if m is not market and (q.buy_price is not None or q.sell_price is not None)
    ]
    return min(used) + policy.stale_after if used else None


class BreakevenMemo:
    """Call it as :func:`breakevens`; :attr:`hits` and :attr:`misses` count the calls."""

    def __init__(self, compute: Breakevens = breakevens) -> None:
        self._compute = compute
        self._memo: dict[tuple[object, ...], dict[Market, Breakeven]] = {}
        #: Policies and pricings by ``id`` (kept alive, so an ``id`` is never reused).
        self._pinned: dict[int, object] = {}
        self.hits = 0
        self.misses = 0

    def _pin(self, value: object) -> int:
        self._pinned.setdefault(id(value), value)
        return id(value)

    def __call__(
        self,
        quotes: Mapping[Market, MarketQuote],
        policy: DetectionPolicy,
        pricing: Pricing,
        at: datetime,
        *,
        max_probes: int = DEFAULT_MAX_PROBES,
    ) -> dict[Market, Breakeven]:
        if any(q.observed_at > at for q in quotes.values()):
            self.misses += 1
            return self._compute(quotes, policy, pricing, at, max_probes=max_probes)
        fresh = fresh_quotes(quotes, policy.stale_after, as_of=at)
        key = (
            tuple(sorted((m.value, _timeless(q)) for m, q in quotes.items())),
            frozenset(fresh),
            at.date(),
            self._pin(policy),
            self._pin(pricing),
            max_probes,
        )
        known = self._memo.get(key)
        if known is None:
            self.misses += 1
            known = self._compute(quotes, policy, pricing, at, max_probes=max_probes)
            self._memo[key] = known
            return known
        self.hits += 1
        return {m: replace(b, fresh_until=_fresh_until(m, fresh, policy)) for m, b in known.items()}
