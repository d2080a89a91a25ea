"""The backtest's HTML page: the Kaplan-Meier curve and the histograms it draws, computed by
hand, and the page."""

from __future__ import annotations

import re
from datetime import timedelta

from app.backtest.html import histogram_svg, render_html, survival_curve, survival_svg
from app.backtest.report import build_report
from tests.unit.backtest.backtest_events import EVENTS, T0, UNTIL, H, event


def test_the_survival_curve_steps_at_each_closed_lifetime() -> None:
    report = build_report(EVENTS, until=UNTIL)
    # Lifetimes: 2 h, 10 h, 30 h closed; 95 h open (censored). At risk 4 -> 3/4 at 2 h,
    # 3 -> 1/2 at 10 h, 2 -> 1/4 at 30 h; flat to the censored 95 h.
    assert survival_curve(report.openings, report.until) == [
        (0.0, 1.0),
        (2.0, 0.75),
        (10.0, 0.5),
        (30.0, 0.25),
        (95.0, 0.25),
    ]


def test_a_curve_of_open_spreads_only_stays_at_one() -> None:
    report = build_report([event("opened", "B0E0000000", "DE:IT", 0)], until=T0 + 10 * H)
    assert survival_curve(report.openings, report.until) == [(0.0, 1.0), (10.0, 1.0)]
    assert survival_curve([], report.until) == []  # no spread: no estimate at all


def bars(svg: str) -> list[str]:
    """The tooltips of a histogram's bars, left to right."""
    return re.findall(r'<rect class="bar"[^>]*><title>([^<]*)</title>', svg)


def test_a_histogram_counts_each_lifetime_in_its_bar() -> None:
    # [0, 12 h] in 12 bars of 1 h: 30 min and 59 min in the first; 1 h (an upper edge) in the
    # second; 12 h (the upper end) in the last. The axis is in hours (up to 3 days).
    lifetimes = [timedelta(minutes=m) for m in (30, 59, 60, 720)]
    svg = histogram_svg("DE:FR", lifetimes, 12 * H)
    assert bars(svg) == [
        "2 spread(s) lasting 0 s to 1 h",
        "1 spread(s) lasting 1 h to 2 h",
        "1 spread(s) lasting 11 h to 12 h",
    ]
    assert "lifetime (h)" in svg
    # Up to 2 h the axis is in minutes; nothing closed: no bar.
    assert "lifetime (min)" in histogram_svg("x", [], timedelta(minutes=90))
    assert bars(histogram_svg("x", [], timedelta(0))) == []


def test_the_survival_plot_is_a_step_curve_with_the_horizons() -> None:
    report = build_report(EVENTS, until=UNTIL)
    svg = survival_svg(survival_curve(report.openings, report.until), report.horizons)
    [path] = re.findall(r'<path class="curve" d="([^"]*)"', svg)
    # 5 points: a move, then across and down at each of the 4 later points.
    assert [c[0] for c in path.split()] == ["M"] + ["L"] * 8
    assert svg.count('class="horizon"') == 2  # 24 h and 72 h, both within 95 h
    assert "time since opening (d)" in svg
    short = survival_svg([(0.0, 1.0), (10.0, 0.5)], report.horizons)
    assert 'class="horizon"' not in short  # the curve ends before 24 h


def test_the_page_holds_the_tables_and_the_plots_and_nothing_from_elsewhere() -> None:
    report = build_report(EVENTS, until=UNTIL)
    page = render_html(report, title="Backtest of <sample>", notes=["file a & b"])
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Backtest of &lt;sample&gt;</title>" in page
    assert "<li>file a &amp; b</li>" in page
    assert "market pair  openings" in page  # the fixed-width tables, in <pre>
    for outside in ("<script", "src=", "href=", "@import", "url("):
        assert outside not in page
    # One histogram per pair on the same axis (0 to 30 h, the longest closed lifetime, in
    # 12 bars of 2.5 h): DE:FR 2 h (first bar) and 30 h (last); FR:IT 10 h (fifth).
    assert "DE:FR: 2 closed" in page
    assert "FR:IT: 1 closed" in page
    assert bars(page) == [
        "1 spread(s) lasting 0 s to 2 h 30 min",
        "1 spread(s) lasting 1 d 3 h to 1 d 6 h",
        "1 spread(s) lasting 10 h to 12 h 30 min",
    ]
    assert page.count('<path class="curve"') == 1
