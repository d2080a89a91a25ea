"""Polling only vs push tracking plus polling on the synthetic market (a simulation, not a
timed test; issue 11).

    uv run python bench/push_sim.py [--asins 300] [--days 2] [--budget 300] [--seed 42]
                                    [--flow-share 0.5] [--update-interval 1]
                                    [--price-types regular|marketplace]

Both schemes run :func:`scheduling_sim.simulate` over the same market
(:class:`devtools.sample.generator.MarketSimulator`, same seed), with the same scheduler
(``--planner``, adaptive by default) and the same total tokens per 15-minute run
(``--budget``). Ground truth and scores are ``scheduling_sim``'s (detectable episodes,
detection delay, close lag, found per 1,000 tokens).

**Push plus polling.** At the end of every run (every 15 minutes) the tracking sync runs as
the ``keepa_ingest`` DAG runs it: the real :func:`app.ingest.tracking_sync.plan_sync` (the
planner's candidates from each ASIN's latest quotes, their thresholds on the price types of
``--price-types``, the budget rule, the diff against Keepa's trackings; the break-evens by a
memo of :func:`app.domain.breakeven.breakevens`, handed to it) on the simulated state, and
its changes are applied to
:class:`devtools.sample.keepa_tracking.SimulatedTrackings` (Keepa's side: refreshes every
``updateInterval`` hours, thresholds fired and disarmed, re-armed by the next sync). Between
runs, every refresh of a tracked (ASIN, market) reads the simulator's current prices; each
notification goes through the real :func:`~app.domain.notification_merge.merge_notification`
into the stored quote and the real ``apply_quote`` at its own time (the webhook and the
worker take milliseconds: not modelled); a notification without a stored quote becomes a
fetch request that the next run makes first.

**Same tokens.** Push costs 1 token per tracking added, updated or re-armed, and the
refill-rate reduction of the trackings in place (:mod:`app.keepa.tracking.cost`, rounded to
a whole token per minute as Keepa reports it) for the 15 minutes until the next run. The next
run's polling budget is ``--budget`` minus both, so the two schemes spend the same tokens per
hour (polling-only spends them all on polling). The sync's token budget is that of the
account: a nominal refill rate of ``--budget`` / 15 tokens per minute, of which push may take
``--flow-share``.

Prints one JSON line: per scheme the scores of ``scheduling_sim``, for push the tracking
figures, and the push / polling ratios.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import sys
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import orjson
from scheduling_sim import (
    _SHARED,
    POLICY,
    PRICING,
    RUN_EVERY,
    Run,
    _ratio,
    _sim,
    detectable_episodes,
    score,
    simulate,
)

import app.ingest.tracking_sync as tracking_sync
from app.domain.breakeven import TRACKING_PRICE_TYPES
from app.domain.keepa_prices import PriceType
from app.domain.notification_merge import merge_notification
from app.domain.watchlist import WatchlistEntry
from app.ingest.tracking_sync import SyncInputs, plan_sync
from app.keepa.tokens import TokenState
from app.keepa.tracking.plan import Candidate, Selection, TokenBudget, TrackingPolicy, select
from app.settings import Settings
from devtools.sample.breakeven_memo import BreakevenMemo
from devtools.sample.generator import Episode, MarketSimulator
from devtools.sample.keepa_tracking import SimulatedTrackings, refresh_offset, refresh_times

_RUN_MINUTES = RUN_EVERY / timedelta(minutes=1)


class PushTracking:
    """Push tracking next to a polling scheduler (``scheduling_sim.Push``)."""

    def __init__(self, sim: MarketSimulator, args: argparse.Namespace) -> None:
        self._sim = sim
        self._seed = args.seed
        self._policy = TrackingPolicy(
            flow_share=args.flow_share,
            update_interval_h=args.update_interval,
            price_types=args.price_types,
        )
        self._interval = timedelta(hours=args.update_interval)
        self._nominal = args.budget / _RUN_MINUTES  # tokens per minute
        self._entries = [WatchlistEntry(asin) for asin in sim.asins]
        self._keepa = SimulatedTrackings(PRICING.fx)
        self._owed = 0  # tokens the last sync and the trackings in place take off the next run
        self._requested: list[tuple[str, str]] = []
        self._tokens = 0
        self._outcomes: Counter[str] = Counter()
        self._by_type: Counter[str] = Counter()  # notifications by price type
        self._tracked_per_run: list[int] = []
        self._tracked_open = 0  # tracked ASINs x runs with a route open at the sync
        #: (sync time, ASINs tracked from then on)
        self._tracked_since: list[tuple[datetime, frozenset[str]]] = []
        if args.skip_open:
            tracking_sync.select = _select_without_open  # type: ignore[assignment]
        self._polling_budgets: list[int] = []
        self._pushed_at: set[tuple[str, datetime]] = set()
        # The sync recomputes every ASIN's break-evens every run: memoised (same results,
        # devtools/sample/breakeven_memo.py), or the run takes an hour.
        self._memo = BreakevenMemo()

    def deliver(self, run: Run, start: datetime, end: datetime) -> None:
        refreshes = []
        for asin, request in self._keepa.requests().items():
            for market in request.markets:
                offset = refresh_offset(self._seed, asin, market, self._interval)
                for t in refresh_times(offset, self._interval, start, end):
                    refreshes.append((t, asin, market))
        for t, asin, market in sorted(refreshes, key=lambda r: (r[0], r[1], r[2].value)):
            current = self._sim.product_at(asin, market.value, t)["stats"]["current"]
            for notification in self._keepa.refresh(asin, market, t, current):
                self._by_type[PriceType(notification.price_type).name] += 1
                merge = merge_notification(run.states[asin].quotes.get(market), notification)
                self._outcomes[merge.outcome] += 1
                if merge.quote is None:
                    if merge.outcome == "no_quote":
                        self._requested.append((asin, market.value))
                    continue
                run.ingest(merge.quote, t)
                run.settle(asin, [market.value], t)
                self._pushed_at.add((asin, t))

    def polling_budget(self, budget: int) -> int:
        self._tokens += self._owed
        left = max(0, budget - self._owed)
        self._polling_budgets.append(left)
        return left

    def requested(self) -> list[tuple[str, str]]:
        asked, self._requested = self._requested, []
        return asked

    def sync(self, run: Run, now: datetime) -> None:
        quotes = {asin: dict(state.latest) for asin, state in run.states.items()}
        inputs = SyncInputs(self._entries, quotes, PRICING, POLICY)
        reduction = self._reduction()
        refill = round(self._nominal - reduction)
        state = TokenState(
            tokens_left=0,
            refill_in_ms=0,
            refill_rate=refill,
            token_flow_reduction=self._nominal - refill,
        )
        selection, plan = plan_sync(
            inputs, self._keepa.trackings(), state, self._policy, now, breakevens=self._memo
        )
        added = self._keepa.apply(plan, now)
        self._tracked_per_run.append(len(self._keepa.requests()))
        self._tracked_since.append((now, frozenset(self._keepa.requests())))
        self._tracked_open += sum(1 for c in selection.chosen if c.closeness == 0)
        self._owed = added + self._reduction() * round(_RUN_MINUTES)

    def _reduction(self) -> int:
        """Keepa's ``tokenFlowReduction``: the estimate rounded to a whole token per minute."""
        return math.floor(self._keepa.flow_reduction() + 0.5)

    def tokens(self) -> int:
        return self._tokens

    def report(self) -> dict[str, Any]:
        tracked = self._tracked_per_run
        open_share = self._tracked_open / max(1, sum(tracked))
        return {
            "push": {
                "push_tokens": self._tokens,
                "add_tokens": self._keepa.add_tokens,
                "mean_polling_budget": round(
                    sum(self._polling_budgets) / max(1, len(self._polling_budgets)), 1
                ),
                "mean_tracked_asins": round(sum(tracked) / max(1, len(tracked)), 1),
                "max_tracked_asins": max(tracked, default=0),
                "tracked_with_open_route_share": round(open_share, 3),
                "notifications": self._keepa.notifications,
                "notifications_by_price_type": dict(self._by_type),
                "merge_outcomes": dict(self._outcomes),
                "breakeven_memo": {"hits": self._memo.hits, "misses": self._memo.misses},
            },
            "pushed_at": sorted(self._pushed_at),
            "tracked_since": self._tracked_since,
        }


def _select_without_open(
    candidates: Iterable[Candidate], budget: TokenBudget, policy: TrackingPolicy
) -> Selection:
    """What-if (``--skip-open``): the planner's rule without the ASINs that have a route
    open now (closeness 0), which the adaptive scheduler already polls every 15 minutes."""
    return select([c for c in candidates if c.closeness > 0], budget, policy)


def simulate_push(planner: str, args: argparse.Namespace) -> dict[str, Any]:
    return simulate(planner, args, PushTracking)


def first_detected_by_push(result: dict[str, Any], episodes: list[tuple[str, Episode]]) -> int:
    """Detected episodes whose route the state first showed open right after a
    notification."""
    pushed = {(asin, t) for asin, t in result["pushed_at"]}
    count = 0
    for asin, episode in episodes:
        history = result["seen"].get((asin, f"{episode.buy_market}:{episode.sell_market}"), [])
        hit = next(
            (t for t, is_open in history if is_open and episode.opens_at <= t < episode.closes_at),
            None,
        )
        if hit is not None and (asin, hit) in pushed:
            count += 1
    return count


def tracked_when_opened(result: dict[str, Any], episodes: list[tuple[str, Episode]]) -> int:
    """Episodes whose ASIN was tracked when the episode opened."""
    count = 0
    for asin, episode in episodes:
        before = [asins for t, asins in result["tracked_since"] if t <= episode.opens_at]
        if before and asin in before[-1]:
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    defaults = Settings.model_fields
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--asins", type=int, default=300)
    parser.add_argument("--days", type=float, default=2.0)
    parser.add_argument("--budget", type=int, default=300, help="tokens per 15-minute run")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--planner", choices=("adaptive", "round_robin"), default="adaptive")
    parser.add_argument(
        "--flow-share",
        type=float,
        default=defaults["keepa_tracking_share"].default,
        help="share of the refill rate push may take (KEEPA_TRACKING_SHARE)",
    )
    parser.add_argument(
        "--update-interval",
        type=int,
        default=defaults["keepa_tracking_update_interval_h"].default,
        help="Keepa's updateInterval in hours (KEEPA_TRACKING_UPDATE_INTERVAL_H)",
    )
    parser.add_argument(
        "--price-types",
        choices=TRACKING_PRICE_TYPES,
        default=defaults["keepa_tracking_price_types"].default,
        help="the price types the thresholds watch (KEEPA_TRACKING_PRICE_TYPES)",
    )
    parser.add_argument(
        "--skip-open",
        action="store_true",
        help="what-if, not the shipped rule: push only ASINs without a route open now",
    )
    parser.add_argument("--no-fill", action="store_true", help="adaptive: leave tokens unused")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    sim = _SHARED["sim"] = _sim(args)
    episodes = detectable_episodes(sim)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=context) as pool:
        polling_future = pool.submit(simulate, args.planner, args)
        push_future = pool.submit(simulate_push, args.planner, args)
        polling_result, push_result = polling_future.result(), push_future.result()
    polling = score(polling_result, episodes)
    push = score(push_result, episodes)
    push.update(push_result["push"])
    push["tracked_when_opened"] = tracked_when_opened(push_result, episodes)
    push["first_detected_by_notification"] = first_detected_by_push(push_result, episodes)
    keys = ("found_per_1k_tokens", "median_detect_min", "p90_detect_min", "median_close_lag_min")
    line = {
        "asins": args.asins,
        "days": args.days,
        "budget_per_run": args.budget,
        "run_every_min": round(_RUN_MINUTES),
        "seed": args.seed,
        "planner": args.planner,
        "flow_share": args.flow_share,
        "price_types": args.price_types,
        "skip_open_what_if": args.skip_open,
        "update_interval_h": args.update_interval,
        "fill_budget": not args.no_fill,
        "polling_only": polling,
        "push_plus_polling": push,
        "ratio_push_to_polling": {k: _ratio(push[k], polling[k]) for k in keys},
        "elapsed_s": round(time.perf_counter() - began, 1),
    }
    sys.stdout.write(orjson.dumps(line).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
