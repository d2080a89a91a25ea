"""The pure parts of the bench: rate windows, percentiles, ratios and the human table."""

from __future__ import annotations

import pytest

from app.domain.asin import is_valid_asin
from app.settings import Settings
from devtools import benchmark
from devtools.bench_baselines import BaselineResult
from devtools.benchmark import (
    _latency_prefix,
    baseline_rate,
    format_table,
    per_100k,
    percentile,
    ratio,
    recovery_asin,
    window_rate,
)


def test_a_window_counts_what_came_after_its_first_reading() -> None:
    assert window_rate(100, 10.0, 1100, 12.0) == 500.0
    assert window_rate(0, 0.0, 30, 0.5) == 60.0


@pytest.mark.parametrize(
    ("first_count", "first_t", "last_count", "last_t"),
    [(1, 5.0, 10, 5.0), (1, 5.0, 10, 4.0), (10, 1.0, 9, 2.0)],
)
def test_an_empty_or_backward_window_is_refused(
    first_count: int, first_t: float, last_count: int, last_t: float
) -> None:
    with pytest.raises(ValueError, match="not a window"):
        window_rate(first_count, first_t, last_count, last_t)


def test_a_baseline_rate_is_over_the_events_after_the_first() -> None:
    assert baseline_rate(BaselineResult(count=1001, first=100.0, last=102.0)) == 500.0


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 100..1, unordered input
    assert percentile(values, 0.5) == 51.0  # rank round(0.5 * 99) = 50 (0-based) of 1..100
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 0.0) == 1.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([7.0], 0.99) == 7.0


def test_percentile_refuses_no_values_and_bad_quantiles() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match="within"):
        percentile([1.0], 1.5)


def test_ratio_and_per_100k() -> None:
    assert ratio(250.0, 1000.0) == 0.25
    assert ratio(None, 1000.0) is None
    assert ratio(1.0, 0.0) is None
    assert per_100k(12.0, 50_000) == 24.0
    assert per_100k(12.0, 0) is None


def test_the_table_lists_known_figures_in_order_with_units() -> None:
    table = format_table(
        {
            "worker_events_per_s": 1234.5,
            "noop_faust_events_per_s": 10000.0,
            "latency_rates": [50.0, 500.0],
            "latency_50_p50_ms": 12.5,
            "latency_500_p99_ms": None,
            "unknown_key": 3,
        }
    )
    lines = table.splitlines()
    assert lines == [
        "no-op Faust agent      10,000.0  events/s",
        "worker                  1,234.5  events/s",
        "latency at 50/s, p50       12.5  ms",
        "latency at 500/s, p99         -  ms",
    ]
    assert format_table({}) == ""


def test_bench_asins_are_valid_and_distinct_per_latency_run() -> None:
    assert is_valid_asin(recovery_asin(0))
    assert is_valid_asin(recovery_asin(9_999_999))
    prefixes = [_latency_prefix(i) for i in range(4)]
    assert len(set(prefixes)) == 4
    assert all(is_valid_asin(f"{p}{0:07d}") for p in prefixes)
    assert recovery_asin(0)[:3] not in prefixes


@pytest.mark.parametrize("keep", [False, True])
def test_the_run_s_topics_and_indices_go_even_after_a_failure(
    monkeypatch: pytest.MonkeyPatch, keep: bool
) -> None:
    deleted: list[str] = []

    def failing_run(settings: object, name: str, **kwargs: object) -> dict[str, object]:
        raise RuntimeError(f"{name} failed")

    monkeypatch.setattr(benchmark, "_run_benchmark", failing_run)
    monkeypatch.setattr(benchmark, "_delete_run", lambda settings, name: deleted.append(name))
    with pytest.raises(RuntimeError, match=r"bench[0-9a-f]{6} failed"):
        benchmark.run_benchmark(
            Settings(),
            asins=1,
            steps=1,
            latency_rates=[],
            latency_seconds=1,
            recovery_asins=0,
            keep=keep,
        )
    assert len(deleted) == (0 if keep else 1)
    assert all(name.startswith("bench") for name in deleted)
