from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

import pytest

from app.api.models import (
    OpportunityRoute,
    SellSignals,
    SignalCompetition,
    SignalDemand,
    SignalRestrictions,
    SignalStability,
    UnpricedRoute,
)
from app.api.params import OpportunitySort
from app.api.whatif import flatten_overrides
from app.domain.markets import Market
from app.domain.profile import DEFAULT_PROFILE, profile_to_mapping, with_overrides
from dashboard.shaping import (
    SHOWN_FROM_THE_START,
    Filters,
    MyCosts,
    api_params,
    asin_from_query_params,
    asin_options,
    best_route,
    breakdown_notes,
    compute_kpis,
    eur_to_cents,
    filters_from_query_params,
    filters_to_query_params,
    first_shown,
    format_age,
    format_eur,
    format_percent,
    freshness_rows,
    history_rows,
    is_new,
    is_synthetic,
    lifetime_text,
    line_comparison,
    my_costs_in_force,
    my_costs_overrides,
    opportunity_rows,
    percent_to_fraction,
    profit_quote_body,
    quoted_route_of,
    restrictions_label,
    route_key,
    route_rows,
    sell_history_rows,
    share_above_avg90,
    signal_facts,
    spike_label,
    top_asins_caption,
    waterfall_steps,
)
from tests.unit.dashboard.dashboard_fake_api import (
    detail,
    history,
    page,
    quoted,
    route,
    stats,
)

# --- filters <-> URL -------------------------------------------------------------------------


def test_filters_from_query_params_reads_every_filter() -> None:
    parsed = filters_from_query_params(
        {
            "buy_market": ["de", "FR,uk"],
            "sell_market": "IT",
            "min_profit_eur": "7.5",
            "min_roi": "0.15",
            "category": "3167641",
            "exclude_amazon_seller": "true",
            "q": " bottle ",
        }
    )
    assert parsed.ignored == ()
    assert parsed.filters == Filters(
        buy_markets=(Market.DE, Market.FR, Market.GB),
        sell_markets=(Market.IT,),
        min_profit_eur_cents=750,
        min_roi=Decimal("0.15"),
        category=3167641,
        exclude_amazon_seller=True,
        q="bottle",
    )


def test_filters_from_empty_query_params_are_the_defaults() -> None:
    assert filters_from_query_params({}).filters == Filters()


@pytest.mark.parametrize(
    ("params", "note"),
    [
        ({"buy_market": "XX"}, "buy_market='XX': not a tracked market"),
        ({"min_profit_eur": "abc"}, "min_profit_eur='abc': not a number"),
        ({"min_profit_eur": "-1"}, "min_profit_eur=-1: outside 0..1000000"),
        ({"min_profit_eur": "NaN"}, "min_profit_eur='NaN': not a finite number"),
        ({"min_roi": "5000"}, "min_roi=5000: outside -1000..1000"),
        ({"category": "books"}, "category='books': not a Keepa category id"),
        ({"exclude_amazon_seller": "maybe"}, "exclude_amazon_seller='maybe': not a boolean"),
        ({"q": "x" * 201}, "q: longer than 200 characters"),
    ],
)
def test_invalid_query_params_are_ignored_with_a_note(params: dict[str, str], note: str) -> None:
    parsed = filters_from_query_params(params)
    assert parsed.filters == Filters()
    assert parsed.ignored == (note,)


def test_filters_to_query_params_leaves_out_defaults() -> None:
    assert filters_to_query_params(Filters()) == {}
    assert filters_to_query_params(
        Filters(
            buy_markets=(Market.DE, Market.GB),
            min_profit_eur_cents=700,
            min_roi=Decimal("0.150"),
            exclude_amazon_seller=True,
        )
    ) == {
        "buy_market": "DE,GB",
        "min_profit_eur": "7",
        "min_roi": "0.15",
        "exclude_amazon_seller": "true",
    }


@pytest.mark.parametrize(
    "filters",
    [
        Filters(),
        Filters(sell_markets=(Market.FR, Market.ES), min_profit_eur_cents=1234),
        Filters(min_roi=Decimal("-0.5"), category=0, q="usb c cable"),
        Filters(min_profit_eur_cents=5, min_roi=Decimal("1E+1"), exclude_amazon_seller=True),
    ],
)
def test_filters_round_trip_through_the_url(filters: Filters) -> None:
    parsed = filters_from_query_params(filters_to_query_params(filters))
    assert parsed.ignored == ()
    assert parsed.filters == filters


def test_api_params_ask_for_the_best_route_per_asin_by_expected_monthly_profit() -> None:
    params = api_params(Filters(sell_markets=(Market.FR,)), page_size=50)
    assert params == {
        "sell_market": "FR",
        "sort": "expected_monthly_profit",
        "order": "desc",
        "best_per_asin": "true",
        "page": "1",
        "page_size": "50",
    }


def test_asin_from_query_params() -> None:
    assert asin_from_query_params({}) == (None, None)
    assert asin_from_query_params({"asin": "b0testas1n"}) == ("B0TESTAS1N", None)
    assert asin_from_query_params({"asin": "nope"}) == (
        None,
        "asin='nope': not an ASIN (10 characters A-Z, 0-9)",
    )


@pytest.mark.parametrize(
    ("euros", "cents"), [(7.1, 710), ("0.005", 1), (Decimal("12.345"), 1235), (0, 0)]
)
def test_eur_to_cents(euros: float | str | Decimal, cents: int) -> None:
    assert eur_to_cents(euros) == cents


def test_percent_to_fraction() -> None:
    assert percent_to_fraction(15.0) == Decimal("0.15")
    assert percent_to_fraction("2.5") == Decimal("0.025")


# --- formatting ----------------------------------------------------------------------------


def test_format_eur() -> None:
    assert format_eur(123456) == "€1,234.56"
    assert format_eur(-5) == "-€0.05"
    assert format_eur(None) == "n/a"


def test_format_percent() -> None:
    assert format_percent(0.2351) == "23.5 %"
    assert format_percent(Decimal("0.5")) == "50.0 %"
    assert format_percent(None) == "n/a"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "no data"),
        (-3, "just now"),
        (4, "just now"),
        (42, "42 s"),
        (300, "5 min"),
        (3600, "1 h"),
        (12_000, "3 h 20 min"),
        (2 * 86_400 + 4 * 3600 + 59, "2 d 4 h"),
        (86_400, "1 d"),
    ],
)
def test_format_age(seconds: int | None, text: str) -> None:
    assert format_age(seconds) == text


def test_is_synthetic() -> None:
    assert is_synthetic("[SYNTHETIC] Acme kettle")
    assert not is_synthetic("Acme kettle [SYNTHETIC]")
    assert not is_synthetic(None)


# --- the table -----------------------------------------------------------------------------


def _items() -> list[OpportunityRoute]:
    return [
        route("B0AAAAAAA1", sell_cents=4800, age_seconds=7200),
        route("B0AAAAAAA2", Market.IT, Market.DE, sell_cents=6000, age_seconds=60),
        route("B0AAAAAAA3", Market.GB, Market.ES, sell_cents=5000, age_seconds=7200),
    ]


def test_is_new_by_age_or_by_when_this_page_first_showed_it() -> None:
    old, fresh, other = _items()  # opened 2 h, 1 min and 2 h ago (age_seconds)
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    # First load: what is on screen counts as shown from the start; only the age rule applies.
    shown = first_shown(None, [route_key(old), route_key(fresh)], now)
    assert shown[route_key(old)] == SHOWN_FROM_THE_START
    assert is_new(fresh, shown_at=shown[route_key(fresh)], now=now, new_within_s=900)
    assert not is_new(old, shown_at=shown[route_key(old)], now=now, new_within_s=900)
    # 2 s later `other` appears (opened 2 h ago in event time): new for the next 900 s.
    later = now + timedelta(seconds=2)
    shown = first_shown(shown, [route_key(old), route_key(other)], later)
    assert shown[route_key(other)] == later
    assert shown[route_key(old)] == SHOWN_FROM_THE_START
    assert is_new(other, shown_at=shown[route_key(other)], now=later, new_within_s=900)
    # Still new at the next refreshes, up to 900 s after it was first shown, not after.
    again = first_shown(shown, [route_key(old), route_key(other)], later + timedelta(seconds=2))
    assert again[route_key(other)] == later
    at_900 = later + timedelta(seconds=900)
    assert is_new(other, shown_at=again[route_key(other)], now=at_900, new_within_s=900)
    at_901 = later + timedelta(seconds=901)
    assert not is_new(other, shown_at=again[route_key(other)], now=at_901, new_within_s=900)
    # A route that left the list and comes back is shown anew.
    gone = first_shown(again, [route_key(old)], at_901)
    back = first_shown(gone, [route_key(old), route_key(other)], at_901)
    assert back[route_key(other)] == at_901
    assert route_key(other) == "B0AAAAAAA3:GB:ES"


def test_opportunity_rows_keep_the_api_order_and_convert_for_display() -> None:
    items = page(_items()).items
    rows = opportunity_rows(
        items, shown={}, now=datetime(2026, 11, 29, tzinfo=UTC), new_within_s=900
    )
    assert [r["asin"] for r in rows] == [i.asin for i in items]
    by_asin = {r["asin"]: r for r in rows}
    second = next(i for i in items if i.asin == "B0AAAAAAA2")
    row = by_asin["B0AAAAAAA2"]
    assert row["new"] is True
    assert row["route"] == "IT → DE"
    assert row["profit_eur"] == second.profit_eur_cents / 100
    assert row["roi_pct"] == pytest.approx(second.roi * 100)
    assert row["buy_url"] == "https://www.amazon.it/dp/B0AAAAAAA2"
    assert row["sell_url"] == "https://www.amazon.de/dp/B0AAAAAAA2"
    assert row["age"] == "1 min"
    assert by_asin["B0AAAAAAA1"]["new"] is False
    # a route without signals (the fake API's): the signal columns are empty, not zero
    assert (row["monthly_profit_eur"], row["monthly_sales"], row["offers"]) == (None, None, None)
    assert (row["spike"], row["restrictions"]) == ("?", "?")


def test_the_signal_columns_of_a_route() -> None:
    item = page(_items()).items[0]
    signals = SellSignals(
        market=item.sell_market,
        # 2799 / 2299 = 1.2175: 22 % above the 90-day average
        stability=SignalStability(current=2799, avg90=2299, spike=True),
        demand=SignalDemand(estimated_monthly_sales=45),
        competition=SignalCompetition(new_offer_count=4),
        restrictions=SignalRestrictions(hazardous_material=True, adult_product=False),
    )
    with_signals = item.model_copy(
        update={"sell_signals": signals, "expected_monthly_profit_eur_cents": 7992}
    )
    [row] = opportunity_rows(
        [with_signals], shown={}, now=datetime(2026, 11, 29, tzinfo=UTC), new_within_s=900
    )
    assert (row["monthly_profit_eur"], row["monthly_sales"], row["offers"]) == (79.92, 45, 4)
    assert (row["spike"], row["restrictions"]) == ("yes, +22 %", "hazmat")


def test_top_asins_caption_follows_the_sort() -> None:
    items = page(_items()).items
    first = items[0].model_copy(update={"expected_monthly_profit_eur_cents": 5850})
    caption = top_asins_caption([first, *items[1:]], limit=2)
    route = f"{first.buy_market.value}→{first.sell_market.value}"
    assert caption.startswith(
        f"Top by expected monthly profit: {first.asin} {route} €58.50/month "
        f"({format_eur(first.profit_eur_cents)}/unit) · {items[1].asin} "
    )
    assert "?/month" in caption  # the second one's is unknown
    assert items[2].asin not in caption
    assert top_asins_caption(items, sort=OpportunitySort.PROFIT).startswith("Top by profit: ")
    assert top_asins_caption([]) == "No open opportunity matches."


def _with_signals(
    item: OpportunityRoute,
    *,
    stability: SignalStability | None = None,
    demand: SignalDemand | None = None,
    competition: SignalCompetition | None = None,
    restrictions: SignalRestrictions | None = None,
) -> OpportunityRoute:
    signals = SellSignals(
        market=item.sell_market,
        stability=stability or SignalStability(),
        demand=demand or SignalDemand(),
        competition=competition or SignalCompetition(),
        restrictions=restrictions or SignalRestrictions(),
    )
    return item.model_copy(update={"sell_signals": signals})


def test_spike_label() -> None:
    item = page(_items()).items[0]
    assert spike_label(item) == "?"  # no signals
    assert spike_label(_with_signals(item)) == "?"  # spike unknown
    assert spike_label(_with_signals(item, stability=SignalStability(spike=False))) == "no"
    # known flag without the prices: no share to show
    assert spike_label(_with_signals(item, stability=SignalStability(spike=True))) == "yes"
    spiking = _with_signals(item, stability=SignalStability(current=3000, avg90=2000, spike=True))
    assert spike_label(spiking) == "yes, +50 %"
    assert share_above_avg90(spiking) == Fraction(1, 2)
    below = _with_signals(item, stability=SignalStability(current=1800, avg90=2000))
    assert share_above_avg90(below) == Fraction(-1, 10)


@pytest.mark.parametrize(
    ("flags", "label"),
    [
        ({}, "?"),
        ({"hazardous_material": False, "adult_product": False}, "?"),  # heat unknown
        ({"hazardous_material": False, "adult_product": False, "heat_sensitive": False}, "none"),
        ({"adult_product": True}, "adult"),
        ({"hazardous_material": True, "heat_sensitive": True}, "hazmat, heat-sensitive"),
    ],
)
def test_restrictions_label(flags: dict[str, bool], label: str) -> None:
    item = _with_signals(page(_items()).items[0], restrictions=SignalRestrictions(**flags))
    assert restrictions_label(item) == label


def test_signal_facts_of_a_route_with_and_without_signals() -> None:
    item = page(_items()).items[0]
    unknown = {f.label: f.value for f in signal_facts(item)}
    assert unknown["Expected monthly profit"] == "?"
    assert unknown["Est. monthly sales"] == "?"
    assert unknown["New offers"] == "?"
    assert unknown["Amazon"] == "?"
    assert unknown["Spike"] == "?"
    assert unknown["Sell price vs 90-day avg."] == "? vs ?"
    assert unknown["90-day range"] == "? to ?"
    known = _with_signals(
        item,
        stability=SignalStability(current=2799, avg90=2299, low_90=2199, high_90=2999, spike=True),
        demand=SignalDemand(estimated_monthly_sales=45, estimate_method="sales_rank_drops_30"),
        competition=SignalCompetition(
            new_offer_count=4, amazon_sells=True, amazon_buy_box_share=0.625
        ),
        restrictions=SignalRestrictions(
            hazardous_material=False, adult_product=False, heat_sensitive=False
        ),
    ).model_copy(update={"expected_monthly_profit_eur_cents": 5850, "expected_monthly_units": 9.0})
    facts = {f.label: f for f in signal_facts(known)}
    assert facts["Expected monthly profit"].value == "€58.50"
    assert "9.00 units a month" in facts["Expected monthly profit"].help
    assert facts["Est. monthly sales"].value == "45"
    assert "sales rank drops, 30 days" in facts["Est. monthly sales"].help
    assert facts["New offers"].value == "4"
    assert facts["Amazon"].value == "sells, 62 % buy box"
    assert facts["Restrictions"].value == "none"
    assert facts["Spike"].value == "yes, +22 %"
    assert facts["Sell price vs 90-day avg."].value == "€27.99 vs €22.99 (+22 %)"
    assert facts["90-day range"].value == "€21.99 to €29.99"
    pounds = known.model_copy(update={"sell_market": Market.GB})
    assert {f.label: f.value for f in signal_facts(pounds)}["90-day range"] == "£21.99 to £29.99"


def test_sell_history_rows_are_the_sell_market_in_its_currency() -> None:
    h = history("B0AAAAAAA1", hours=3)
    gb = [
        p.model_copy(update={"sell_price_minor": 1000 + i})
        for i, p in enumerate(p for p in h.points if p.market is Market.GB)
    ]
    others = [p for p in h.points if p.market is not Market.GB]
    h = h.model_copy(update={"points": [*reversed(gb), *others]})
    rows = sell_history_rows(h, Market.GB)
    assert [r["price"] for r in rows] == [10.0, 10.01, 10.02]  # pence -> pounds, oldest first
    assert sell_history_rows(h, Market.DE) == []  # no sell price in the sell currency


def test_lifetime_text_only_when_the_api_sends_it() -> None:
    item = page(_items()).items[0]
    assert item.lifetime is None
    assert lifetime_text(item) is None
    figures = {"episodes": 4, "closed": 3, "still_open": 1, "reopened": 3}
    lasts = "spreads on this route usually last 2 h (median of 3 closed; 90 % closed within 6 h)"
    with_lifetime = OpportunityRoute.model_validate(
        {
            **item.model_dump(),
            "lifetime": {"route": figures, "market_pair": figures, "usually_lasts": lasts},
        }
    )
    assert lifetime_text(with_lifetime) == (
        "Spreads on this route usually last 2 h (median of 3 closed; 90 % closed within 6 h)."
    )
    too_few = OpportunityRoute.model_validate(
        {**item.model_dump(), "lifetime": {"route": figures, "market_pair": figures}}
    )
    assert lifetime_text(too_few) is None


def test_the_sort_travels_through_the_url_and_to_the_api() -> None:
    assert Filters().sort is OpportunitySort.EXPECTED_MONTHLY_PROFIT
    assert "sort" not in filters_to_query_params(Filters())  # the default stays out of the URL
    by_roi = Filters(sort=OpportunitySort.ROI)
    assert filters_to_query_params(by_roi)["sort"] == "roi"
    assert filters_from_query_params(filters_to_query_params(by_roi)).filters == by_roi
    assert api_params(by_roi)["sort"] == "roi"
    assert api_params(Filters())["sort"] == "expected_monthly_profit"
    parsed = filters_from_query_params({"sort": "cheapest"})
    assert parsed.filters.sort is OpportunitySort.EXPECTED_MONTHLY_PROFIT
    assert parsed.ignored[0].startswith("sort='cheapest': not one of profit, roi")


# --- KPIs ------------------------------------------------------------------------------


def test_compute_kpis() -> None:
    items = _items()
    k = compute_kpis(page(items, total=42))
    assert k.open_opportunities == 42
    assert k.shown == 3
    assert k.best_profit_eur_cents == max(i.profit_eur_cents for i in items)
    assert k.best_asin == max(items, key=lambda i: i.profit_eur_cents).asin
    assert k.median_roi == sorted(i.roi for i in items)[1]


def test_compute_kpis_without_items() -> None:
    k = compute_kpis(page([]))
    assert (k.open_opportunities, k.median_roi, k.best_profit_eur_cents) == (0, None, None)


def test_freshness_rows_in_market_order() -> None:
    rows = freshness_rows(stats(products=50, age_seconds=90))
    assert [r.market for r in rows] == ["DE", "FR", "IT", "ES", "GB"]
    assert all(r.label == "1 min" and r.products == 10 for r in rows)
    empty = freshness_rows(stats(products=0))
    assert all(r.label == "no data" and r.age_seconds is None for r in empty)


# --- detail --------------------------------------------------------------------------------


def test_asin_options_put_a_selected_unknown_asin_first() -> None:
    assert asin_options(["A", "B", "A"], None) == ["A", "B"]
    assert asin_options(["A", "B"], "B") == ["A", "B"]
    assert asin_options(["A"], "Z") == ["Z", "A"]
    assert asin_options([], None) == []


def test_best_route_prefers_open_routes() -> None:
    closed_rich = route("B0AAAAAAA1", Market.ES, Market.FR, sell_cents=9000, state="closed")
    open_poor = route("B0AAAAAAA1", Market.DE, Market.FR, sell_cents=4000)
    assert best_route(detail("B0AAAAAAA1", [closed_rich, open_poor])) == open_poor
    assert best_route(detail("B0AAAAAAA1", [closed_rich])) == closed_rich
    assert best_route(detail("B0AAAAAAA1", [])) is None


def test_route_rows_open_first_then_by_profit() -> None:
    a = route("B0AAAAAAA1", Market.ES, Market.FR, sell_cents=9000, state="closed")
    b = route("B0AAAAAAA1", Market.DE, Market.FR, sell_cents=4000)
    c = route("B0AAAAAAA1", Market.IT, Market.FR, sell_cents=5000)
    rows = route_rows(detail("B0AAAAAAA1", [a, b, c]))
    assert [r["route"] for r in rows] == ["IT → FR", "DE → FR", "ES → FR"]


def test_history_rows_all_markets_in_eur_sorted_by_time() -> None:
    h = history("B0AAAAAAA1", hours=3)
    rows = history_rows(h, "buy")
    assert len(rows) == 15
    assert {r["market"] for r in rows} == {"DE", "FR", "IT", "ES", "GB"}
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)
    first_de = next(r for r in rows if r["market"] == "DE")
    assert first_de["price_eur"] == 20.0
    sell = history_rows(h, "sell")
    assert next(r for r in sell if r["market"] == "DE")["price_eur"] == 21.0


def test_waterfall_goes_from_gross_sell_price_to_the_profit() -> None:
    r = route("B0AAAAAAA1", Market.DE, Market.FR, buy_cents=2000, sell_cents=4800, dsf_cents=23)
    steps = waterfall_steps(r)
    assert [s.label for s in steps] == [
        "Sell price",
        "VAT FR",
        "Referral fee",
        "FBA fee",
        "Digital Services Fee",
        "Inbound shipping",
        "Purchase DE (net)",
        "Profit",
    ]
    assert steps[0].amount_eur_cents == 4800
    assert (steps[0].start_eur_cents, steps[0].end_eur_cents) == (0, 4800)
    # Hand check: net sell 4800/1.2 = 4000 (VAT 800); referral 15 % of 4800 = 720;
    # FBA 350; DSF 23; shipping 420; net buy 2000/1.19 = 1681 (its VAT 319 recovered: no bar)
    # -> profit 4000 - 720 - 350 - 23 - 420 - 1681 = 806.
    assert [s.amount_eur_cents for s in steps[1:7]] == [-800, -720, -350, -23, -420, -1681]
    for before, after in pairwise(steps[:-1]):
        assert after.start_eur_cents == before.end_eur_cents
    assert steps[-1].amount_eur_cents == 806 == r.profit_eur_cents
    assert (steps[-1].start_eur_cents, steps[-1].end_eur_cents) == (0, 806)


def test_an_unrecovered_purchase_vat_is_a_bar() -> None:
    r = route("B0AAAAAAA1", Market.DE, Market.FR, buy_cents=2000, sell_cents=4800)
    assert r.breakdown is not None
    lines = [
        line.model_copy(update={"is_cost": True}) if line.kind == "purchase_vat" else line
        for line in r.breakdown.lines
    ]
    vat_cost = r.model_copy(update={"breakdown": r.breakdown.model_copy(update={"lines": lines})})
    steps = waterfall_steps(vat_cost)
    assert ("Purchase VAT", -319) in [(s.label, s.amount_eur_cents) for s in steps]
    # 4000 - 319 - 720 - 350 - 420 - 1681 = 510
    assert steps[-1].amount_eur_cents == 510


def test_waterfall_without_breakdown_is_empty() -> None:
    r = route("B0AAAAAAA1").model_copy(update={"breakdown": None})
    assert waterfall_steps(r) == []


def test_breakdown_notes_name_the_vat_shown_only_and_the_estimates() -> None:
    r = route("B0AAAAAAA1", Market.DE, Market.FR, buy_cents=2000, estimates=("fba_fee_from_card",))
    # purchase VAT 2000 - 1681 = 319; VAT on fees 20 % x (720 + 350) = 214
    assert breakdown_notes(r) == [
        "Purchase VAT €3.19: not a cost (recovered).",
        "VAT on fees €2.14: not a cost (reverse charge (registered), shown only).",
        "Estimated: fba_fee_from_card.",
    ]
    assert breakdown_notes(r.model_copy(update={"breakdown": None, "estimates": []})) == []


# --- "my costs" ------------------------------------------------------------------------------


def test_my_costs_in_force_are_read_from_the_profile() -> None:
    default = my_costs_in_force(profile_to_mapping(DEFAULT_PROFILE), Market.FR)
    assert default == MyCosts(
        vat_registered_in=tuple(Market),
        fulfilment="local_fba",
        mfn_shipping_minor=None,
        prep_eur_cents=0,
        min_profit_eur_cents=500,
    )
    own = with_overrides(
        DEFAULT_PROFILE,
        {
            "vat_registered_in": "DE,GB",
            "fulfilment.GB.mode": "mfn",
            "fulfilment.GB.mfn_shipping_minor": "399",
            "prep_eur_cents": "35",
            "thresholds.min_profit_eur_cents": "700",
        },
    )
    gb = my_costs_in_force(profile_to_mapping(own), Market.GB)
    assert gb == MyCosts((Market.DE, Market.GB), "mfn", 399, 35, 700)
    assert my_costs_in_force(profile_to_mapping(own), Market.FR).fulfilment == "local_fba"


def test_my_costs_become_a_profile_override_the_api_accepts() -> None:
    """The body's override goes through the API's own path (flatten, then with_overrides)."""
    costs = MyCosts((Market.DE,), "mfn", 450, 40, 800)
    body = profit_quote_body("B0AAAAAAA1", costs, Market.FR)
    assert body == {
        "asin": "B0AAAAAAA1",
        "profile": {
            "vat_registered_in": ["DE"],
            "fulfilment": {"FR": {"mode": "mfn", "mfn_shipping_minor": 450}},
            "prep_eur_cents": 40,
            "thresholds": {"min_profit_eur_cents": 800},
        },
    }
    profile = with_overrides(DEFAULT_PROFILE, flatten_overrides(body["profile"]))
    assert profile.vat_registered_in == frozenset({Market.DE})
    assert profile.fulfilment[Market.FR].mode == "mfn"
    assert profile.fulfilment[Market.FR].mfn_shipping_minor == 450
    assert (profile.prep_eur_cents, profile.thresholds.min_profit_eur_cents) == (40, 800)
    assert profile.fulfilment[Market.IT] == DEFAULT_PROFILE.fulfilment[Market.IT]  # unchanged
    # Back from merchant-fulfilled: no shipping figure is sent with FBA.
    fba = my_costs_overrides(MyCosts((), "local_fba", None, 0, 500), Market.FR)
    assert fba["fulfilment"] == {"FR": {"mode": "local_fba"}}
    assert fba["vat_registered_in"] == []


def test_quoted_route_of_finds_the_route_or_says_why_not() -> None:
    r = route("B0AAAAAAA1", Market.DE, Market.FR)
    answer = quoted(r)
    found = quoted_route_of(answer, "DE:FR")
    assert not isinstance(found, str)
    assert found.profit_eur_cents == r.profit_eur_cents
    gap = UnpricedRoute(
        route="DE:GB",
        buy_market=Market.DE,
        sell_market=Market.GB,
        reason="fee_schedule_gap",
        detail="no EFN fee from DE to GB on 2026-11-25",
    )
    with_gap = answer.model_copy(update={"unpriced": [gap]})
    assert quoted_route_of(with_gap, "DE:GB") == (
        "DE → GB cannot be priced: no EFN fee from DE to GB on 2026-11-25."
    )
    assert quoted_route_of(answer, "IT:ES") == "IT → ES has no quote on both sides."


def test_the_what_if_waterfall_and_the_comparison_with_the_values_in_force() -> None:
    """Not registered in FR: the VAT on fees (20 % x (720 + 350) = 214) becomes a bar and
    the profit falls from 4000 - 720 - 350 - 420 - 1681 = 829 to 829 - 214 = 615."""
    r = route("B0AAAAAAA1", Market.DE, Market.FR, buy_cents=2000, sell_cents=4800)
    what_if = quoted(r, fee_vat_cost=True).routes[0]
    steps = waterfall_steps(what_if)
    assert "VAT on fees" in [s.label for s in steps]
    assert steps[-1].amount_eur_cents == what_if.profit_eur_cents == 615
    assert line_comparison(r, what_if) == [
        {"line": "Referral fee", "in_force_eur": 7.2, "my_costs_eur": 7.2, "change_eur": 0.0},
        {"line": "FBA fee", "in_force_eur": 3.5, "my_costs_eur": 3.5, "change_eur": 0.0},
        {"line": "VAT on fees", "in_force_eur": 0.0, "my_costs_eur": 2.14, "change_eur": 2.14},
        {
            "line": "Inbound shipping",
            "in_force_eur": 4.2,
            "my_costs_eur": 4.2,
            "change_eur": 0.0,
        },
        {"line": "Profit", "in_force_eur": 8.29, "my_costs_eur": 6.15, "change_eur": -2.14},
    ]
