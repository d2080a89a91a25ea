"""The backtest report as one self-contained HTML page (``arbitrage backtest --html OUT.html``).

The page holds the report's tables (as :func:`app.backtest.report.format_report` prints them)
and its plots as inline SVG drawn here: the lifetimes of the closed spreads, one histogram per
market pair (all on the same time axis, so pairs compare at a glance), and the Kaplan-Meier
share of all spreads still open against the time since they opened
(:func:`app.domain.lifetimes.kaplan_meier`, open spreads censored at the end of the file), with
the 24 h / 72 h horizons marked. No script, no stylesheet or library from elsewhere: the file
opens offline, in a browser or attached to a note (a Vega-Lite page by Altair would load its
JavaScript from a CDN, and draws nothing without network access).
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from app.backtest.report import BacktestReport, Opening, format_report
from app.domain.lifetimes import format_duration, kaplan_meier
from app.domain.utc import format_utc

__all__ = ["MAX_CURVE_POINTS", "histogram_svg", "render_html", "survival_curve", "survival_svg"]

#: The survival curve is evaluated at most at this many lifetimes (evenly spread over the
#: distinct ones): each point is one Kaplan-Meier estimate over every episode.
MAX_CURVE_POINTS: Final = 200
#: Bars of a lifetime histogram.
BINS: Final = 12
_HOUR: Final = timedelta(hours=1)
# Plot geometry (SVG user units): the plotting area inside the margins.
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 12, 24, 34


def survival_curve(openings: Sequence[Opening], until: datetime) -> list[tuple[float, float]]:
    """``(hours since opening, share still open)`` of the Kaplan-Meier estimate, at 0 and at
    the distinct lifetimes of the closed episodes (where it steps) and the longest one, as long
    as it is supported by the data (:func:`kaplan_meier` is ``None`` beyond that); empty
    without any episode."""
    observations = [(o.episode.lifetime(until), o.episode.closed) for o in openings]
    steps = sorted({d for d, closed in observations if closed})
    if len(steps) > MAX_CURVE_POINTS:
        stride = len(steps) / MAX_CURVE_POINTS
        steps = [steps[int(i * stride)] for i in range(MAX_CURVE_POINTS)] + [steps[-1]]
    longest = max((d for d, _ in observations), default=timedelta(0))
    points: list[tuple[float, float]] = []
    for at in [timedelta(0), *steps, longest]:
        share = kaplan_meier(observations, at)
        if share is not None and (not points or at / _HOUR > points[-1][0]):
            points.append((at / _HOUR, float(share)))
    return points


def _unit(upper: timedelta) -> tuple[str, timedelta]:
    """The unit of a time axis reaching ``upper``: minutes up to 2 h, hours up to 3 days."""
    if upper <= 2 * _HOUR:
        return "min", timedelta(minutes=1)
    if upper <= 72 * _HOUR:
        return "h", _HOUR
    return "d", timedelta(days=1)


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _tick_step(span: float, ticks: int) -> float:
    """A round step (1, 2, 2.5 or 5 x a power of ten) giving about ``ticks`` ticks over
    ``span``."""
    raw = span / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def _x_ticks(span: float, width: int, height: int, ticks: int = 4) -> list[str]:
    """Labels of the x axis (``span`` in the axis unit) at round values, with tick marks."""
    plot_w, bottom = width - _LEFT - _RIGHT, height - _BOTTOM
    step = _tick_step(span, ticks)
    out = []
    for i in range(math.floor(span / step * (1 + 1e-9)) + 1):
        x = _LEFT + i * step / span * plot_w
        out.append(
            f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 3}" stroke="#333"/>'
            f'<text x="{x:.1f}" y="{bottom + 13}" text-anchor="middle">{_fmt(i * step)}</text>'
        )
    return out


def _frame(width: int, height: int, title: str, body: list[str], x_label: str) -> str:
    """An ``<svg>`` with a title, both axes and ``body`` inside."""
    bottom = height - _BOTTOM
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
            f'<text x="{_LEFT}" y="14" font-weight="bold">{html.escape(title)}</text>',
            *body,
            f'<line x1="{_LEFT}" y1="{bottom}" x2="{width - _RIGHT}" y2="{bottom}" stroke="#333"/>',
            f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{bottom}" stroke="#333"/>',
            f'<text x="{(width + _LEFT) // 2}" y="{height - 4}" text-anchor="middle">'
            f"{html.escape(x_label)}</text>",
            "</svg>",
        ]
    )


def histogram_svg(
    title: str,
    lifetimes: Sequence[timedelta],
    upper: timedelta,
    *,
    width: int = 360,
    height: int = 150,
    bins: int = BINS,
) -> str:
    """A histogram of ``lifetimes`` on ``[0, upper]`` in ``bins`` equal bars (a lifetime at a
    bar's upper edge counts in the next one; ``upper`` itself in the last); each bar's tooltip
    says its count and range."""
    name, unit = _unit(upper)
    span = upper if upper > timedelta(0) else unit
    bar = span / bins
    counts = [0] * bins
    for d in lifetimes:
        counts[min(bins - 1, int(d / bar))] += 1
    top = max(counts, default=0) or 1
    plot_w, plot_h = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM
    body = []
    for i, count in enumerate(counts):
        if not count:
            continue
        h = count / top * plot_h
        x = _LEFT + i * plot_w / bins
        low, high = format_duration(i * bar), format_duration((i + 1) * bar)
        tip = f"{count} spread(s) lasting {low} to {high}"
        body.append(
            f'<rect class="bar" x="{x:.1f}" y="{_TOP + plot_h - h:.1f}" '
            f'width="{max(plot_w / bins - 1, 1):.1f}" height="{h:.1f}" fill="#4c78a8">'
            f"<title>{html.escape(tip)}</title></rect>"
        )
    bottom = height - _BOTTOM
    body += [
        f'<text x="{_LEFT - 4}" y="{_TOP + 4}" text-anchor="end">{top}</text>',
        f'<text x="{_LEFT - 4}" y="{bottom}" text-anchor="end">0</text>',
        *_x_ticks(span / unit, width, height),
    ]
    return _frame(width, height, title, body, f"lifetime ({name}); bars: spreads")


def survival_svg(
    points: Sequence[tuple[float, float]],
    horizons: Sequence[timedelta],
    *,
    width: int = 720,
    height: int = 260,
) -> str:
    """The step curve of ``points`` (:func:`survival_curve`, hours): the share holds from one
    point to the next; each horizon within the curve's range is a dashed line."""
    upper_h = points[-1][0] if points else 0.0
    name, unit = _unit(upper_h * _HOUR)
    scale = _HOUR / unit  # hours -> axis unit
    span = upper_h * scale or 1.0
    plot_w, plot_h = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM

    def xy(hours: float, share: float) -> str:
        return f"{_LEFT + hours * scale / span * plot_w:.1f},{_TOP + (1 - share) * plot_h:.1f}"

    body = []
    if points:
        segments = [f"M{xy(*points[0])}"]
        for (_, before), (hours, share) in itertools.pairwise(points):
            segments += [f"L{xy(hours, before)}", f"L{xy(hours, share)}"]
        body.append(
            f'<path class="curve" d="{" ".join(segments)}" fill="none" stroke="#e45756" '
            'stroke-width="2"/>'
        )
    for horizon in horizons:
        hours = horizon / _HOUR
        if 0 < hours <= upper_h:
            x = _LEFT + hours * scale / span * plot_w
            body.append(
                f'<line class="horizon" x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" '
                f'y2="{height - _BOTTOM}" stroke="#888" stroke-dasharray="4 3"/>'
                f'<text x="{x + 3:.1f}" y="{_TOP + 10}">{_fmt(hours)} h</text>'
            )
    bottom = height - _BOTTOM
    body += [
        f'<text x="{_LEFT - 4}" y="{_TOP + 4}" text-anchor="end">100 %</text>',
        f'<text x="{_LEFT - 4}" y="{bottom}" text-anchor="end">0 %</text>',
        *_x_ticks(span, width, height),
    ]
    title = "Share of all spreads still open (Kaplan-Meier; open ones censored at the end)"
    return _frame(width, height, title, body, f"time since opening ({name})")


def render_html(report: BacktestReport, *, title: str, notes: Sequence[str] = ()) -> str:
    """The page (see the module doc); ``notes``: lines shown above the tables (the file, the
    profile, the timing)."""
    closed = [o for o in report.openings if o.episode.closed]
    upper = max((o.episode.lifetime(report.until) for o in closed), default=timedelta(0))
    histograms = [
        histogram_svg(
            f"{pair.name}: {pair.lifetimes.closed} closed",
            [o.episode.lifetime(report.until) for o in closed if o.pair == pair.name],
            upper,
        )
        for pair in report.pairs
    ]
    curve = survival_svg(survival_curve(report.openings, report.until), report.horizons)
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
pre {{ font-size: 12px; background: #f6f6f6; padding: 1em; overflow-x: auto; }}
.plots svg {{ margin: 0 1em 1em 0; }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<ul>{items}<li>observed until {format_utc(report.until)} (the file's last event time)</li></ul>
<pre>{html.escape(format_report(report))}</pre>
<h2>Survival</h2>
<div class="plots">{curve}</div>
<h2>Lifetimes of the closed spreads, per market pair</h2>
<div class="plots">{"".join(histograms) or "<p>No spread closed.</p>"}</div>
</body>
</html>
"""
