"""The Streamlit script end to end in-process (``streamlit.testing`` AppTest), with the REST
API faked at the HTTP boundary by a local server."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

from app.api.models import (
    SellSignals,
    SignalCompetition,
    SignalDemand,
    SignalRestrictions,
    SignalStability,
)
from app.domain.markets import Market
from app.settings import PROJECT_ROOT, get_settings
from tests.unit.dashboard.dashboard_fake_api import (
    FakeApi,
    detail,
    history,
    page,
    profile_view,
    quoted,
    route,
    serve,
    stats,
)

SCRIPT = str(PROJECT_ROOT / "dashboard" / "app.py")

ITEMS = [
    route("B0AAAAAAA1", sell_cents=4800, age_seconds=7200),
    route(
        "B0AAAAAAA2",
        Market.IT,
        Market.DE,
        sell_cents=6000,
        age_seconds=60,
        title="[SYNTHETIC] Kettle",
    ),
    route("B0AAAAAAA3", Market.GB, Market.ES, sell_cents=5000, age_seconds=7200),
]


def _use_api(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("API_URL", url)
    monkeypatch.setenv("DASHBOARD_REFRESH_S", "60")
    get_settings.cache_clear()


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    fake = FakeApi()
    fake.set("/stats", stats(products=50, open_opportunities=3))
    fake.set("/opportunities", page(ITEMS))
    fake.set("/profile", profile_view())
    for item in ITEMS:
        fake.set(f"/opportunities/{item.asin}", detail(item.asin, [item]))
        fake.set(f"/products/{item.asin}/history", history(item.asin))
    with serve(fake):
        _use_api(monkeypatch, fake.url)
        yield fake
    get_settings.cache_clear()


def _app() -> AppTest:
    return AppTest.from_file(SCRIPT, default_timeout=30)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _signal_table(at: AppTest) -> dict[str, str]:
    """The detail view's signal table (markdown ``| label | **value** |``) as a dict."""
    [table] = [m.value for m in at.markdown if m.value.startswith("| Signal | Value |")]
    rows = [line.strip("|").split("|") for line in table.splitlines()[2:]]
    return {label.strip(): value.strip().strip("*") for label, value in rows}


def test_kpis_table_and_freshness(api: FakeApi) -> None:
    at = _app().run()
    assert not at.exception
    assert not at.error
    metrics = _metrics(at)
    best = max(ITEMS, key=lambda i: i.profit_eur_cents)
    assert metrics["Open opportunities"] == "3"
    assert (
        metrics["Best profit"]
        == f"€{best.profit_eur_cents // 100}.{best.profit_eur_cents % 100:02d}"
    )
    median = sorted(i.roi for i in ITEMS)[1]
    assert metrics["Median ROI"] == f"{median * 100:.1f} %"
    assert metrics["Tracked products"] == "50"
    assert [metrics[m.value] for m in Market] == ["1 min"] * 5

    table = at.dataframe[0].value
    assert list(table["asin"]) == [i.asin for i in page(ITEMS).items]
    assert table.loc[table["asin"] == "B0AAAAAAA2", "new"].item()
    assert not table.loc[table["asin"] == "B0AAAAAAA1", "new"].item()
    assert table.loc[table["asin"] == "B0AAAAAAA3", "sell_url"].item() == (
        "https://www.amazon.es/dp/B0AAAAAAA3"
    )
    captions = " ".join(c.value for c in at.caption)
    assert "last updated" in captions
    # the API's order (its default sort: expected monthly profit), unknown shown as "?"
    first = page(ITEMS).items[0]
    assert f"Top by expected monthly profit: {first.asin} " in captions
    assert "?/month" in captions
    assert table.loc[table["asin"] == "B0AAAAAAA3", "spike"].item() == "?"
    assert at.selectbox(key="f_sort").value == "expected_monthly_profit"
    assert any("Synthetic data" in w.value for w in at.warning)

    (query,) = api.queries("/opportunities")
    assert query["sort"] == ["expected_monthly_profit"]
    assert query["best_per_asin"] == ["true"]


def test_filters_come_from_the_url_and_reach_the_api(api: FakeApi) -> None:
    at = _app()
    at.query_params["buy_market"] = ["DE", "it"]
    at.query_params["min_profit_eur"] = "7.5"
    at.query_params["min_roi"] = "0.2"
    at.query_params["category"] = "3167641"
    at.query_params["exclude_amazon_seller"] = "true"
    at.run()
    assert not at.exception

    assert at.multiselect(key="f_buy").value == ["DE", "IT"]
    assert at.number_input(key="f_min_profit").value == 7.5
    assert at.number_input(key="f_min_roi_pct").value == 20.0
    assert at.text_input(key="f_category").value == "3167641"
    assert at.toggle(key="f_exclude").value is True

    (query,) = api.queries("/opportunities")
    assert query["buy_market"] == ["DE,IT"]
    assert query["min_profit_eur"] == ["7.5"]
    assert query["min_roi"] == ["0.2"]
    assert query["category"] == ["3167641"]
    assert query["exclude_amazon_seller"] == ["true"]
    # The URL is rewritten in the canonical form (and gains the ASIN of the detail view).
    assert at.query_params["buy_market"] == "DE,IT"


def test_the_sort_of_the_sidebar_reaches_the_api_and_the_url(api: FakeApi) -> None:
    at = _app().run()
    at.selectbox(key="f_sort").set_value("profit").run()
    assert not at.exception
    assert at.query_params["sort"] == "profit"
    assert api.queries("/opportunities")[-1]["sort"] == ["profit"]
    assert any(c.value.startswith("Top by profit: ") for c in at.caption)


def test_changing_a_filter_updates_the_url_and_the_query(api: FakeApi) -> None:
    at = _app().run()
    at.multiselect(key="f_sell").select("FR").run()
    at.number_input(key="f_min_profit").set_value(12.0).run()
    assert not at.exception
    assert at.query_params["sell_market"] == "FR"
    assert at.query_params["min_profit_eur"] == "12"
    last = api.queries("/opportunities")[-1]
    assert last["sell_market"] == ["FR"]
    assert last["min_profit_eur"] == ["12"]


def test_invalid_url_parameters_are_ignored_with_a_warning(api: FakeApi) -> None:
    at = _app()
    at.query_params["sell_market"] = "XX"
    at.query_params["asin"] = "nope"
    at.run()
    assert not at.exception
    warnings = [w.value for w in at.sidebar.warning]
    assert "Ignored URL parameter sell_market='XX': not a tracked market" in warnings
    assert any(w.startswith("Ignored URL parameter asin='nope'") for w in warnings)
    assert "sell_market" not in api.queries("/opportunities")[0]


def test_detail_view_of_the_asin_in_the_url(api: FakeApi) -> None:
    at = _app()
    at.query_params["asin"] = "B0AAAAAAA3"
    at.run()
    assert not at.exception
    assert at.selectbox(key="asin").value == "B0AAAAAAA3"
    assert at.selectbox(key="route_B0AAAAAAA3").value == "GB:ES"
    assert any(s.value == ITEMS[2].title for s in at.subheader)
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2  # price history and profit waterfall: no sell signals
    assert api.queries("/products/B0AAAAAAA3/history")
    routes = at.dataframe[1].value
    assert list(routes["route"]) == ["GB → ES"]
    assert any("No sell price history or 90-day statistics for ES" in i.value for i in at.info)
    facts = _signal_table(at)
    assert facts["Est. monthly sales"] == "?"
    assert facts["Spike"] == "?"
    assert not any("usually last" in i.value for i in at.info)  # no lifetime from the API


def test_detail_view_shows_the_sell_signals_and_the_lifetime(api: FakeApi) -> None:
    item = ITEMS[2]  # GB -> ES
    signals = SellSignals(
        market=Market.ES,
        stability=SignalStability(current=6500, avg90=5000, low_90=4800, high_90=6600, spike=True),
        demand=SignalDemand(estimated_monthly_sales=90, estimate_method="monthly_sold"),
        competition=SignalCompetition(new_offer_count=2, amazon_sells=False),
        restrictions=SignalRestrictions(adult_product=True),
    )
    with_signals = item.model_copy(
        update={"sell_signals": signals, "expected_monthly_profit_eur_cents": 28350}
    )
    body = detail(item.asin, [with_signals]).model_dump(mode="json")
    figures = {"episodes": 3, "closed": 3, "still_open": 0, "reopened": 1}
    body["routes"][0]["lifetime"] = {
        "route": figures,
        "market_pair": figures,
        "usually_lasts": "spreads on this route usually last 2 d (median of 3 closed; ...)",
    }
    api.set(f"/opportunities/{item.asin}", body)
    h = history(item.asin)
    points = [
        p.model_copy(update={"sell_price_minor": 6400 + i})
        for i, p in enumerate(x for x in h.points if x.market is Market.ES)
    ]
    api.set(f"/products/{item.asin}/history", h.model_copy(update={"points": points}))
    at = _app()
    at.query_params["asin"] = item.asin
    at.run()
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 3  # + the sell price with its 90-day band
    facts = _signal_table(at)
    assert facts["Expected monthly profit"] == "€283.50"
    assert facts["Est. monthly sales"] == "90"
    assert facts["New offers"] == "2"
    assert facts["Amazon"] == "does not sell"
    assert facts["Restrictions"] == "adult"
    assert facts["Spike"] == "yes, +30 %"
    assert facts["90-day range"] == "€48.00 to €66.00"
    lasts = "Spreads on this route usually last 2 d (median of 3 closed; ...)."
    assert any(i.value == lasts for i in at.info)
    assert any("Would it sell in ES?" in m.value for m in at.markdown)


def test_detail_defaults_to_the_top_opportunity_and_goes_into_the_url(api: FakeApi) -> None:
    at = _app().run()
    top = page(ITEMS).items[0].asin
    assert at.selectbox(key="asin").value == top
    assert at.query_params["asin"] == top


def test_opportunities_that_appear_on_the_page_stay_flagged_new(api: FakeApi) -> None:
    old = [ITEMS[0]]
    api.set("/opportunities", page(old))
    at = _app().run()
    assert not at.dataframe[0].value["new"].any()

    api.set("/opportunities", page([*old, ITEMS[2]]))
    at.run()
    table = at.dataframe[0].value
    assert table.loc[table["asin"] == "B0AAAAAAA3", "new"].item()
    assert not table.loc[table["asin"] == "B0AAAAAAA1", "new"].item()
    # The next refresh (the same list): still new, it appeared on this page moments ago,
    # although it opened 2 h ago in event time (before, it stayed new for one refresh only).
    at.run()
    table = at.dataframe[0].value
    assert table.loc[table["asin"] == "B0AAAAAAA3", "new"].item()
    assert not table.loc[table["asin"] == "B0AAAAAAA1", "new"].item()


def test_unreachable_api_shows_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _use_api(monkeypatch, f"http://127.0.0.1:{port}")
    try:
        at = _app().run()
    finally:
        get_settings.cache_clear()
    assert not at.exception
    assert "The API is unavailable" in at.error[0].value
    assert f"http://127.0.0.1:{port}" in at.error[0].value
    assert not at.dataframe


def test_api_server_error_is_shown(api: FakeApi) -> None:
    api.set("/opportunities", {"detail": "Elasticsearch is unavailable"}, status=503)
    at = _app().run()
    assert not at.exception
    assert "Elasticsearch is unavailable" in at.error[0].value


def test_no_data_yet(api: FakeApi) -> None:
    api.set("/stats", stats(products=0, open_opportunities=0))
    api.set("/opportunities", page([]))
    at = _app().run()
    assert not at.exception
    assert any("No data yet" in i.value for i in at.info)
    assert _metrics(at)["DE"] == "no data"
    assert not at.dataframe


def test_no_match_for_the_filters(api: FakeApi) -> None:
    api.set("/opportunities", page([]))
    at = _app()
    at.query_params["min_profit_eur"] = "1000"
    at.run()
    assert any("matches the filters" in i.value for i in at.info)


def test_my_costs_recomputes_the_route_through_the_api(api: FakeApi) -> None:
    """The panel is preset with the profile in force; submitted, it posts the ASIN with the
    changed values as a profile override and draws the answer next to the figures in force.
    Registered in DE only, the FR VAT on fees becomes a cost (the fake API's answer)."""
    item = ITEMS[0]  # B0AAAAAAA1, DE -> FR
    answer = quoted(item, fee_vat_cost=True)
    api.set("/profit/quote", answer)
    at = _app()
    at.query_params["asin"] = item.asin
    at.run()
    assert not at.exception
    key = "whatif_B0AAAAAAA1_DE_FR"
    assert at.multiselect(key=f"{key}_vat").value == ["DE", "FR", "IT", "ES", "GB"]
    assert at.selectbox(key=f"{key}_mode").value == "local_fba"
    assert not api.posts  # nothing asked before the form is submitted

    at.multiselect(key=f"{key}_vat").set_value(["DE"])
    at.number_input(key=f"{key}_prep").set_value(0.4)
    submit = next(b for b in at.button if b.label == "Recompute with my costs")
    submit.click()
    at.run()
    assert not at.exception
    assert not at.error
    assert api.posts == [
        (
            "/profit/quote",
            {
                "asin": item.asin,
                "profile": {
                    "vat_registered_in": ["DE"],
                    "fulfilment": {"FR": {"mode": "local_fba"}},
                    "prep_eur_cents": 40,
                    "thresholds": {"min_profit_eur_cents": 500},
                },
            },
        )
    ]
    what_if = answer.routes[0]
    fee_vat = next(li.eur_cents for li in what_if.breakdown.lines if li.kind == "fee_vat")
    assert what_if.profit_eur_cents == item.profit_eur_cents - fee_vat
    text = " ".join(m.value for m in at.markdown)
    euros, cents = divmod(what_if.profit_eur_cents, 100)
    assert f"With my costs: €{euros}.{cents:02d} profit" in text
    comparison = at.dataframe[1].value  # [0]: the opportunities, [2]: the routes
    rows = {row["line"]: row for row in comparison.to_dict("records")}
    assert rows["VAT on fees"]["my_costs_eur"] == fee_vat / 100
    assert rows["Profit"]["change_eur"] == -fee_vat / 100


def test_my_costs_shows_a_refusal_of_the_api(api: FakeApi) -> None:
    detail = [
        {
            "type": "invalid_profile",
            "loc": ["body", "profile", "fulfilment", "DE", "mode"],
            "msg": "profile field 'fulfilment.DE.mode': 'efn' ships from the home market",
        }
    ]
    api.set("/profit/quote", {"detail": detail}, status=422)
    at = _app()
    at.query_params["asin"] = ITEMS[0].asin
    at.run()
    next(b for b in at.button if b.label == "Recompute with my costs").click()
    at.run()
    assert not at.exception
    assert any("fulfilment.DE.mode" in e.value for e in at.error)
