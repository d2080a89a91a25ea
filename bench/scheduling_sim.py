"""Adaptive scheduling vs round-robin on the synthetic market (a simulation, not a timed test).

    uv run python bench/scheduling_sim.py [--asins 500] [--days 3] [--budget 300] [--seed 42]

Both schedulers get the same token budget per 15-minute run over the same simulated market
(:class:`devtools.sample.generator.MarketSimulator`). "Fetching" an ASIN in a market returns the
Keepa envelope the simulator would serve at that moment; it goes through the real parsing
(:func:`app.domain.envelope.quote_from_keepa_product`) and the real per-ASIN state machine
(:func:`app.domain.asin_state.apply_quote`, i.e. :func:`app.domain.detection.detect`), and the
scheduler's signals are derived from that state exactly like :mod:`app.ingest.signals` derives
them from Elasticsearch (:mod:`app.ingest.estimates`).

Ground truth: the simulator's spread episodes. An episode counts when it is *detectable*: an
oracle that fetches all five markets in the middle of the episode sees its route open. Per
scheduler it prints (one JSON line, both schedulers and the adaptive / round-robin ratios):

* ``found_per_1k_tokens``: detectable episodes detected while open, per 1,000 tokens;
* ``median_detect_min`` / ``p90_detect_min``: minutes from an episode opening to its route
  being open in the scheduler's state (a missed episode counts as infinitely late; the value
  is null when more than that share was missed);
* ``median_close_lag_min``: minutes from an episode closing to the state noticing (how long a
  dead opportunity keeps being shown);
* ``opened_events``, ``tokens``, ``detected`` / ``detectable``.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import orjson

from app.contracts.seller_profile import DEFAULT_IN_FORCE
from app.domain.asin_state import apply_quote
from app.domain.detection import OpenOpportunity, Pricing, detect, fresh_quotes
from app.domain.envelope import quote_from_keepa_product
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.quote import MarketQuote
from app.domain.watchlist import WatchlistEntry
from app.ingest.estimates import Outlook, outlook, relative_volatility
from app.ingest.scheduling import (
    AsinSignals,
    FetchPlan,
    SchedulingPolicy,
    plan_fetches,
    round_robin_plan,
)
from devtools.sample.generator import Episode, MarketSimulator

START = datetime(2025, 3, 1, tzinfo=UTC)
RUN_EVERY = timedelta(minutes=15)
VOLATILITY_WINDOW = timedelta(days=7)
POLICY = DetectionPolicy()
FX = FxRates(eur_per_gbp=Decimal("1.17"), as_of=START)  # the generator prices GB at 1.17
#: The default seller profile and the shipped fee schedule (what the worker uses by default).
PRICING = Pricing(FX, DEFAULT_IN_FORCE.profile, DEFAULT_IN_FORCE.version, default_fee_schedule())

Planner = Callable[..., FetchPlan]
PLANNERS: dict[str, Planner] = {"adaptive": plan_fetches, "round_robin": round_robin_plan}


@dataclass
class _AsinState:
    quotes: dict[Market, MarketQuote] = field(default_factory=dict)
    open: dict[str, OpenOpportunity] = field(default_factory=dict)
    prices: dict[str, deque[tuple[datetime, float]]] = field(default_factory=dict)
    routes_seen: set[str] = field(default_factory=set)
    latest: dict[Market, MarketQuote] = field(default_factory=dict)
    #: The last outlook and the prices it was computed from (skip unchanged re-evaluations).
    outlook: tuple[tuple[Any, ...], Outlook] | None = None


def _sim(args: argparse.Namespace) -> MarketSimulator:
    return MarketSimulator(
        args.asins,
        seed=args.seed,
        start=START,
        end=START + timedelta(days=args.days),
        min_episode_minutes=60,
    )


def _fetch(sim: MarketSimulator, asin: str, market: str, t: datetime) -> MarketQuote:
    envelope = sim.envelope_at(asin, market, t)
    return quote_from_keepa_product(
        envelope.product, envelope.domain, envelope.fetched_at, key_asin=asin
    )


def detectable_episodes(sim: MarketSimulator) -> list[tuple[str, Episode]]:
    """Episodes whose route an all-market fetch in the middle of the episode sees open."""
    found = []
    for asin in sorted(sim.opportunity_asins):
        for episode in sim.episodes(asin):
            mid = episode.opens_at + (episode.closes_at - episode.opens_at) / 2
            quotes = {Market(m): _fetch(sim, asin, m, mid) for m in sim.markets}
            now = max(q.observed_at for q in quotes.values())
            result = detect(quotes, {}, POLICY, PRICING, now)
            if f"{episode.buy_market}:{episode.sell_market}" in result.open:
                found.append((asin, episode))
    return found


#: Built once in the parent and inherited by the forked workers (copy-on-write).
_SHARED: dict[str, MarketSimulator] = {}


@dataclass
class Run:
    """One scheduler's simulated system: each ASIN's state as the worker holds it, the
    scheduler's signals, and what it saw."""

    states: dict[str, _AsinState]
    signals: dict[str, AsinSignals] = field(default_factory=dict)
    #: (asin, route) -> (time, is_open) each time the ASIN's state changed hands
    route_open: dict[tuple[str, str], list[tuple[datetime, bool]]] = field(default_factory=dict)
    tokens: int = 0
    opened_events: int = 0

    def ingest(self, quote: MarketQuote, now: datetime) -> None:
        """What the worker does with a quote of ``quote.asin`` (a fetch, or a notification
        merged into the stored quote), seen at ``now``."""
        state = self.states[quote.asin]
        step = apply_quote(quote, state.quotes, state.open, POLICY, PRICING)
        state.quotes, state.open = step.quotes, step.open
        if step.accepted:
            state.latest[quote.market] = quote
        self.opened_events += sum(1 for e in step.events if e.event == "opened")
        _remember_prices(state, quote.market.value, quote, now)

    def settle(self, asin: str, markets: list[str], now: datetime) -> None:
        """After the quotes of ``markets`` of ``asin`` were ingested at ``now``: the
        scheduler's signals (``last_fetched_at`` is the quotes' ``fetched_at``, as
        :mod:`app.ingest.signals` reads it from ``products``) and what the state shows."""
        state = self.states[asin]
        self.signals[asin] = _signals(asin, state, self.signals.get(asin), markets, now)
        state.routes_seen.update(state.open)
        for route in state.routes_seen:
            self.route_open.setdefault((asin, route), []).append((now, route in state.open))


class Push(Protocol):
    """Push tracking added to a polling scheduler (``bench/push_sim.py``)."""

    def deliver(self, run: Run, start: datetime, end: datetime) -> None:
        """Ingest what Keepa pushes in ``[start, end)``, in time order."""

    def polling_budget(self, budget: int) -> int:
        """Tokens of a run's ``budget`` left for polling."""

    def requested(self) -> list[tuple[str, str]]:
        """(ASIN, market) pairs to fetch first (notifications without a quote)."""

    def sync(self, run: Run, now: datetime) -> None:
        """The tracking sync at the end of the run at ``now``."""

    def tokens(self) -> int:
        """Tokens push tracking cost so far (adds and the refill-rate reduction)."""

    def report(self) -> dict[str, Any]:
        """Figures of its own (added to the result)."""


def simulate(
    name: str,
    args: argparse.Namespace,
    push: Callable[[MarketSimulator, argparse.Namespace], Push] | None = None,
) -> dict[str, Any]:
    """Run one scheduler (with ``push`` tracking, if given) over the whole window; what it
    fetched and saw."""
    sim = _SHARED.get("sim") or _sim(args)
    planner = PLANNERS[name]
    policy = SchedulingPolicy(fill_budget=not args.no_fill)
    entries = [WatchlistEntry(asin) for asin in sim.asins]
    run = Run({asin: _AsinState() for asin in sim.asins})
    pushed = None if push is None else push(sim, args)
    runs = int(timedelta(days=args.days) / RUN_EVERY)
    for k in range(runs):
        now = START + k * RUN_EVERY
        budget = args.budget
        extra: dict[str, Any] = {}
        if pushed is not None:
            pushed.deliver(run, now - RUN_EVERY, now)
            budget = pushed.polling_budget(budget)
            extra["requested"] = pushed.requested()
        plan = planner(entries, run.signals, now, budget, policy=policy, **extra)
        run.tokens += plan.tokens
        fetched: dict[str, list[str]] = {}
        for market, asins in plan.by_market.items():
            for asin in asins:
                fetched.setdefault(asin, []).append(market)
        for asin, markets in fetched.items():
            for market in markets:
                run.ingest(_fetch(sim, asin, market, now), now)
            run.settle(asin, markets, now)
        if pushed is not None:
            pushed.sync(run, now)
    result = {
        "name": name,
        "tokens": run.tokens + (0 if pushed is None else pushed.tokens()),
        "opened_events": run.opened_events,
        "seen": run.route_open,
    }
    if pushed is not None:
        result.update(pushed.report())
    return result


def _remember_prices(state: _AsinState, market: str, quote: MarketQuote, now: datetime) -> None:
    history = state.prices.setdefault(market, deque())
    price = quote.buy_price if quote.buy_price is not None else quote.sell_price
    if price is not None:
        history.append((now, float(FX.to_eur_cents(price, quote.currency))))
    while history and now - history[0][0] > VOLATILITY_WINDOW:
        history.popleft()


def _signals(
    asin: str,
    state: _AsinState,
    previous: AsinSignals | None,
    markets: list[str],
    now: datetime,
) -> AsinSignals:
    view = _outlook(state)
    fetched_at = dict(previous.last_fetched_at) if previous else {}
    fetched_at.update(dict.fromkeys(markets, now))
    open_markets = frozenset(m for route in state.open for m in route.split(":"))
    last_opportunity = now if state.open else (previous.last_opportunity_at if previous else None)
    return AsinSignals(
        asin=asin,
        best_profit_eur_cents=view.best_profit_eur_cents,
        open_opportunities=len(state.open),
        last_opportunity_at=last_opportunity,
        volatility=max(
            (relative_volatility(p for _, p in h) for h in state.prices.values()), default=0.0
        ),
        last_fetched_at=fetched_at,
        required_move=view.required_move,
        open_markets=open_markets,
    )


def _outlook(state: _AsinState) -> Outlook:
    fresh = fresh_quotes(state.latest, POLICY.stale_after)
    key = tuple((m, q.buy_price, q.sell_price) for m, q in sorted(fresh.items()))
    if state.outlook is None or state.outlook[0] != key:
        state.outlook = (key, outlook(state.latest, POLICY, PRICING))
    return state.outlook[1]


def score(result: dict[str, Any], episodes: list[tuple[str, Episode]]) -> dict[str, Any]:
    seen: dict[tuple[str, str], list[tuple[datetime, bool]]] = result["seen"]
    detect_min: list[float] = []
    close_lag_min: list[float] = []
    for asin, episode in episodes:
        history = seen.get((asin, f"{episode.buy_market}:{episode.sell_market}"), [])
        hit = next(
            (t for t, is_open in history if is_open and episode.opens_at <= t < episode.closes_at),
            None,
        )
        if hit is None:
            detect_min.append(math.inf)
            continue
        detect_min.append((hit - episode.opens_at) / timedelta(minutes=1))
        gone = next((t for t, is_open in history if not is_open and t >= episode.closes_at), None)
        if gone is not None:
            close_lag_min.append((gone - episode.closes_at) / timedelta(minutes=1))
    detected = sum(1 for d in detect_min if math.isfinite(d))
    tokens = result["tokens"]
    return {
        "tokens": tokens,
        "detectable": len(episodes),
        "detected": detected,
        "found_per_1k_tokens": round(detected / tokens * 1000, 3) if tokens else None,
        "median_detect_min": _quantile(detect_min, 0.5),
        "p90_detect_min": _quantile(detect_min, 0.9),
        "median_close_lag_min": _quantile(close_lag_min, 0.5),
        "opened_events": result["opened_events"],
    }


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    value = ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]
    return round(value, 1) if math.isfinite(value) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--asins", type=int, default=500)
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--budget", type=int, default=300, help="tokens per 15-minute run")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-fill", action="store_true", help="adaptive: leave tokens unused")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    sim = _SHARED["sim"] = _sim(args)
    episodes = detectable_episodes(sim)  # also builds every ASIN's price paths once
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=context) as pool:
        futures = {name: pool.submit(simulate, name, args) for name in PLANNERS}
        scores = {name: score(f.result(), episodes) for name, f in futures.items()}
    adaptive, baseline = scores["adaptive"], scores["round_robin"]
    ratios = {
        key: _ratio(adaptive[key], baseline[key])
        for key in ("found_per_1k_tokens", "median_detect_min", "p90_detect_min")
    }
    line = {
        "asins": args.asins,
        "days": args.days,
        "budget_per_run": args.budget,
        "run_every_min": int(RUN_EVERY / timedelta(minutes=1)),
        "seed": args.seed,
        "fill_budget": not args.no_fill,
        "adaptive": adaptive,
        "round_robin": baseline,
        "ratio_adaptive_to_round_robin": ratios,
        "elapsed_s": round(time.perf_counter() - began, 1),
    }
    sys.stdout.write(orjson.dumps(line).decode() + "\n")
    return 0


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


if __name__ == "__main__":
    raise SystemExit(main())
