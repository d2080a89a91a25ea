"""The backtest report from hand-made event sequences (backtest_events.py says what happens
to each route); every figure computed by hand below."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from app.backtest.report import (
    BacktestReport,
    GroupFigures,
    build_report,
    format_report,
    openings,
    report_to_json,
)
from tests.unit.backtest.backtest_events import EVENTS, T0, UNTIL, H, event


def report() -> BacktestReport:
    return build_report(EVENTS, until=UNTIL)


def cells(line: str) -> list[str]:
    """The cells of a table row (columns are at least two spaces apart)."""
    return re.split(r" {2,}", line.strip())


def by_name(groups: list[GroupFigures] | tuple[GroupFigures, ...], name: str) -> GroupFigures:
    [group] = [g for g in groups if g.name == name]
    return group


def test_episodes_from_opened_to_closed_of_a_route() -> None:
    found, unmatched = openings(EVENTS, UNTIL)
    episodes = sorted((o.episode.route_id, o.episode.opened_at, o.episode.closed_at) for o in found)
    assert episodes == [
        ("B0A0000000:DE:FR", T0, T0 + 2 * H),
        ("B0A0000000:DE:FR", T0 + 10 * H, T0 + 40 * H),
        ("B0B0000000:DE:FR", T0 + 5 * H, None),
        ("B0C0000000:FR:IT", T0 + 20 * H, T0 + 30 * H),
    ]
    assert unmatched == 1  # B0D's closed without an opening


def test_figures_of_a_market_pair() -> None:
    de_fr = by_name(list(report().pairs), "DE:FR")
    s = de_fr.lifetimes
    # Episodes 2 h (closed), 30 h (closed), 95 h (open at h100).
    assert (s.episodes, de_fr.routes, s.closed, s.still_open) == (3, 2, 2, 1)
    assert de_fr.routes_closed_at_end == 1  # B0A closed, B0B open
    # Closed [2 h, 30 h]: median rank ceil(0.5 x 2) = 1 -> 2 h; p90 rank ceil(1.8) = 2 -> 30 h.
    assert (s.median, s.p90) == (2 * H, 30 * H)
    # B0A's first episode reopened: 1 of 2 closed.
    assert (s.reopened, s.reopen_rate) == (1, Decimal("0.5000"))
    # Kaplan-Meier: at 2 h 1 of 3 at risk closes -> 2/3; at 30 h 1 of 2 -> 2/3 x 1/2 = 1/3;
    # the 95 h episode is censored beyond 72 h, so both horizons are observed.
    assert s.surviving == {24 * H: Decimal("0.6667"), 72 * H: Decimal("0.3333")}
    # Profits at opening [7.00, 9.00, 12.00]: median rank ceil(1.5) = 2 -> 9.00; max 12.00;
    # monthly known for two openings: 50.00 + 30.00 (the update's 51.00 is not an opening).
    assert (de_fr.profit_median_eur_cents, de_fr.profit_max_eur_cents) == (900, 1200)
    assert (de_fr.expected_monthly_profit_eur_cents, de_fr.expected_monthly_known) == (8000, 2)


def test_a_pair_whose_spreads_all_closed() -> None:
    fr_it = by_name(list(report().pairs), "FR:IT")
    s = fr_it.lifetimes
    assert (s.episodes, fr_it.routes, s.closed, s.still_open, fr_it.routes_closed_at_end) == (
        1,
        1,
        1,
        0,
        1,
    )
    assert (s.median, s.p90, s.reopen_rate) == (10 * H, 10 * H, Decimal("0.0000"))
    # Its only episode closed at 10 h: nothing is open at 24 h or 72 h (known, not n/a).
    assert s.surviving == {24 * H: Decimal("0.0000"), 72 * H: Decimal("0.0000")}
    assert (fr_it.expected_monthly_profit_eur_cents, fr_it.expected_monthly_known) == (0, 0)


def test_groups_by_category_and_total() -> None:
    r = report()
    assert [g.name for g in r.pairs] == ["DE:FR", "FR:IT"]  # B0D never opened: no group
    assert [g.name for g in r.categories] == ["electronics", "toys"]
    assert by_name(list(r.categories), "electronics").lifetimes == r.pairs[0].lifetimes
    t = r.total
    s = t.lifetimes
    # Closed [2, 10, 30] h, open 95 h.
    assert (s.episodes, t.routes, s.closed, s.still_open, t.routes_closed_at_end) == (4, 3, 3, 1, 2)
    # median rank ceil(1.5) = 2 -> 10 h; p90 rank ceil(2.7) = 3 -> 30 h; reopened 1 of 3.
    assert (s.median, s.p90, s.reopen_rate) == (10 * H, 30 * H, Decimal("0.3333"))
    # KM: 2 h: 1 of 4 -> 3/4; 10 h: 1 of 3 -> 1/2; 30 h: 1 of 2 -> 1/4; 95 h censored.
    assert s.surviving == {24 * H: Decimal("0.5000"), 72 * H: Decimal("0.2500")}
    # Profits [6, 7, 9, 12] EUR: median rank 2 -> 7.00.
    assert (t.profit_median_eur_cents, t.profit_max_eur_cents) == (700, 1200)
    assert (r.events, r.unmatched) == (10, 1)
    assert r.events_by_type == {"closed": 4, "opened": 5, "updated": 1}


def test_a_share_not_observed_that_long_is_unknown() -> None:
    # One spread, open 10 h at the end: the data says nothing about 24 h.
    only = [event("opened", "B0E0000000", "DE:IT", 0)]
    r = build_report(only, until=T0 + 10 * H)
    assert r.total.lifetimes.surviving == {24 * H: None, 72 * H: None}
    assert (r.total.lifetimes.median, r.total.profit_median_eur_cents) == (None, 500)
    text = format_report(r)
    assert "n/a, not observed that long" in text
    row = cells(text.splitlines()[-1])
    assert row[:9] == ["total", "1", "1", "0", "1", "-", "-", "n/a", "n/a"]
    data = report_to_json(r)
    assert data["total"]["surviving"] == {"24h": None, "72h": None}
    assert data["total"]["lifetime_median_s"] is None


def test_no_events_at_all() -> None:
    r = build_report([], until=UNTIL)
    assert (r.pairs, r.categories, r.total.lifetimes.episodes) == ([], [], 0)
    assert r.total.profit_median_eur_cents is None
    assert "total" in format_report(r)


def test_the_text_table() -> None:
    lines = format_report(report()).splitlines()
    header = next(line for line in lines if line.startswith("market pair"))
    assert header.split()[:7] == [
        "market",
        "pair",
        "openings",
        "routes",
        "closed",
        "open",
        "median",
    ]
    de_fr = next(line for line in lines if line.startswith("DE:FR"))
    assert cells(de_fr) == [
        "DE:FR", "3", "2", "2", "1", "2 h", "1 d 6 h", "66.7 %", "33.3 %", "50.0 %",
        "€9.00", "€12.00", "€80.00 (2)",
    ]  # fmt: skip
    total = lines[-1]
    assert cells(total) == [
        "total", "4", "3", "3", "1", "10 h", "1 d 6 h", "50.0 %", "25.0 %", "33.3 %",
        "€7.00", "€12.00", "€80.00 (2)",
    ]  # fmt: skip
    # Fixed width: every row of a table is as long as its header.
    table = lines[lines.index(header) : lines.index(header) + 4]
    assert len({len(line) for line in table}) == 1


def test_the_json_is_the_same_figures() -> None:
    data = json.loads(json.dumps(report_to_json(report())))
    [de_fr, fr_it] = data["pairs"]
    assert de_fr == {
        "name": "DE:FR",
        "openings": 3,
        "routes": 2,
        "closed": 2,
        "still_open": 1,
        "routes_closed_at_end": 1,
        "lifetime_median_s": 7200.0,
        "lifetime_p90_s": 108000.0,
        "lifetime_median": "2 h",
        "lifetime_p90": "1 d 6 h",
        "surviving": {"24h": "0.6667", "72h": "0.3333"},
        "reopened": 1,
        "reopen_rate": "0.5000",
        "profit_at_opening_median_eur_cents": 900,
        "profit_at_opening_max_eur_cents": 1200,
        "expected_monthly_profit_eur_cents": 8000,
        "expected_monthly_profit_known": 2,
    }
    assert fr_it["surviving"] == {"24h": "0.0000", "72h": "0.0000"}
    assert data["total"]["openings"] == 4
    assert data["until"] == "2026-11-24T04:00:00Z"
    assert data["horizons_h"] == [24.0, 72.0]
