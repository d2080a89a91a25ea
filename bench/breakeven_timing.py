"""Time per ASIN of the break-even prices (app.domain.breakeven), in-process, one core.

    uv run python bench/breakeven_timing.py [--asins 300] [--seed 7] [--no-third-party-invoice]

The ASINs are the synthetic sample generator's (``arbitrage bench``'s market: every ASIN quoted
on all five markets, Amazon and third-party offers, ~15 % with a profitable spread, some
products without Keepa's fees), one snapshot each, parsed by the real envelope parser. Each
ASIN's :func:`~app.domain.breakeven.breakevens` runs once with the default profile (or, with
``--no-third-party-invoice``, a profile without third-party VAT invoices: a second buy bound per
market, for Amazon's offers) and a rate of 1.17; a second pass counts the route evaluations
(:func:`~app.domain.fees.price_route` calls) per ASIN. Prints one JSON line: milliseconds per
ASIN (mean, p50, p99, max), evaluations per ASIN (mean, max) and how many bounds were found.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import orjson

import app.domain.breakeven as breakeven
from app.domain.detection import Pricing
from app.domain.envelope import quote_from_keepa_product
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fees import price_route
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE
from app.domain.quote import MarketQuote
from devtools.sample.generator import generate_sample

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def asins(n: int, seed: int) -> Iterator[dict[Market, MarketQuote]]:
    quotes: dict[str, dict[Market, MarketQuote]] = {}
    for envelope in generate_sample(n, seed=seed, start=START, steps=1, step_minutes=15):
        quote = quote_from_keepa_product(envelope.product, envelope.domain, envelope.fetched_at)
        quotes.setdefault(quote.asin, {})[quote.market] = quote
    yield from quotes.values()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asins", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-third-party-invoice", dest="invoice", action="store_false")
    args = parser.parse_args(argv)
    profile = replace(DEFAULT_PROFILE, third_party_vat_invoice=args.invoice)
    pricing = Pricing(FxRates(Decimal("1.17"), START), profile, "bench", default_fee_schedule())
    policy = DetectionPolicy()
    at = START + timedelta(minutes=5)
    states = list(asins(args.asins, args.seed))

    millis: list[float] = []
    bounds = 0
    for quotes in states:
        began = time.perf_counter()
        results = breakeven.breakevens(quotes, policy, pricing, at)
        millis.append((time.perf_counter() - began) * 1000)
        bounds += sum(b is not None for r in results.values() for b in (r.buy_max, r.sell_min))

    calls = 0

    def counted(*a: Any, **kw: Any) -> Any:
        nonlocal calls
        calls += 1
        return price_route(*a, **kw)

    evaluations: list[int] = []
    with mock.patch.object(breakeven, "price_route", counted):
        for quotes in states:
            calls = 0
            breakeven.breakevens(quotes, policy, pricing, at)
            evaluations.append(calls)

    report = {
        "asins": len(states),
        "markets_per_asin": statistics.mean(len(q) for q in states),
        "third_party_vat_invoice": args.invoice,
        "ms_per_asin_mean": round(statistics.mean(millis), 2),
        "ms_per_asin_p50": round(percentile(millis, 0.5), 2),
        "ms_per_asin_p99": round(percentile(millis, 0.99), 2),
        "ms_per_asin_max": round(max(millis), 2),
        "evaluations_per_asin_mean": round(statistics.mean(evaluations), 1),
        "evaluations_per_asin_max": max(evaluations),
        "buy_and_sell_bounds_found": bounds,
    }
    sys.stdout.write(orjson.dumps(report).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
