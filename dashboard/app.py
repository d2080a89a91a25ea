"""The Streamlit dashboard: live opportunities, KPIs and one ASIN in detail.

Run with ``arbitrage dashboard`` (or ``streamlit run dashboard/app.py``). It reads only
through the REST API (``API_URL``); all data shaping lives in :mod:`dashboard.shaping`.
The filters and the selected ASIN are kept in the URL query parameters, so a view can be
shared; the live part refreshes itself every ``DASHBOARD_REFRESH_S`` seconds without
reloading the page.
"""

# ruff: noqa: E402  (the sys.path fix below must run before the project imports)

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run dashboard/app.py` puts dashboard/ first on sys.path, where this very file
# would shadow the `app` package. The project's packages are installed, so drop that entry.
_SCRIPT_DIR = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != _SCRIPT_DIR]

from datetime import UTC, datetime
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from app.api.models import (
    OpportunityPage,
    OpportunityRoute,
    PriceHistory,
    ProfitQuote,
    StatsResponse,
)
from app.api.params import OpportunitySort
from app.domain.markets import Market
from app.settings import get_settings
from dashboard.api_client import ApiClient, ApiError, ApiUnavailableError
from dashboard.config import DashboardSettings
from dashboard.shaping import (
    DEFAULT_SORT,
    FULFILMENT_LABELS,
    FULFILMENT_MODES,
    SORT_LABELS,
    Filters,
    MyCosts,
    PricedRoute,
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
    format_eur,
    format_percent,
    freshness_rows,
    history_rows,
    is_synthetic,
    lifetime_text,
    line_comparison,
    my_costs_in_force,
    opportunity_rows,
    percent_to_fraction,
    profit_quote_body,
    quoted_route_of,
    route_key,
    route_rows,
    sell_history_rows,
    signal_facts,
    top_asins_caption,
    waterfall_steps,
)

MARKETS = [m.value for m in Market]
NEW_ROW_STYLE = "background-color: rgba(255, 196, 0, 0.22)"
#: One clearly distinct colour per market (DE, FR, IT, ES, GB) in the history chart.
MARKET_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"]
WATERFALL_COLORS = {"total": "#4c78a8", "cost": "#e45756", "result": "#54a24b"}


@st.cache_resource(show_spinner=False)
def _client(base_url: str, timeout_s: float) -> ApiClient:
    return ApiClient(base_url, timeout_s=timeout_s)


def _now() -> datetime:
    return datetime.now(UTC)


# --- filters in the sidebar, mirrored in the URL ---------------------------------------------


def _init_state_from_url() -> None:
    """On the first run of a session, load the filters and the ASIN from the URL."""
    if st.session_state.get("_initialised"):
        return
    params = {name: st.query_params.get_all(name) for name in st.query_params}
    parsed = filters_from_query_params(params)
    f = parsed.filters
    st.session_state["f_buy"] = [m.value for m in f.buy_markets]
    st.session_state["f_sell"] = [m.value for m in f.sell_markets]
    st.session_state["f_min_profit"] = (
        f.min_profit_eur_cents / 100 if f.min_profit_eur_cents is not None else None
    )
    st.session_state["f_min_roi_pct"] = float(f.min_roi * 100) if f.min_roi is not None else None
    st.session_state["f_category"] = str(f.category) if f.category is not None else ""
    st.session_state["f_exclude"] = f.exclude_amazon_seller
    st.session_state["f_q"] = f.q or ""
    st.session_state["f_sort"] = f.sort
    asin, asin_note = asin_from_query_params(params)
    st.session_state["asin"] = asin
    st.session_state["_url_notes"] = [*parsed.ignored, *([asin_note] if asin_note else [])]
    st.session_state["_initialised"] = True


def _reset_filters() -> None:
    st.session_state["f_buy"] = []
    st.session_state["f_sell"] = []
    st.session_state["f_min_profit"] = None
    st.session_state["f_min_roi_pct"] = None
    st.session_state["f_category"] = ""
    st.session_state["f_exclude"] = False
    st.session_state["f_q"] = ""
    st.session_state["f_sort"] = DEFAULT_SORT


def _sidebar_filters() -> Filters:
    with st.sidebar:
        st.header("Filters")
        buy = st.multiselect("Buy in", MARKETS, key="f_buy", placeholder="any market")
        sell = st.multiselect("Sell in", MARKETS, key="f_sell", placeholder="any market")
        min_profit = st.number_input(
            "Min profit (€)", min_value=0.0, max_value=1_000_000.0, step=1.0, key="f_min_profit"
        )
        min_roi_pct = st.number_input(
            "Min ROI (%)", min_value=-100_000.0, max_value=100_000.0, step=5.0, key="f_min_roi_pct"
        )
        category_text = st.text_input(
            "Category (Keepa root category id)", key="f_category", placeholder="any"
        ).strip()
        exclude = st.toggle("Exclude routes where Amazon sells", key="f_exclude")
        q = st.text_input("Title contains", key="f_q", placeholder="all words must match")
        sort = st.selectbox(
            "Sort by (best first)",
            list(SORT_LABELS),
            key="f_sort",
            format_func=lambda s: SORT_LABELS[s].capitalize(),
            help="Unknown expected monthly profits come last.",
        )
        st.button("Reset filters", on_click=_reset_filters)
        for note in st.session_state.get("_url_notes", []):
            st.warning(f"Ignored URL parameter {note}")

        category: int | None = None
        if category_text:
            if category_text.isdigit():
                category = int(category_text)
            else:
                st.warning("The category must be a number (a Keepa root category id).")
    return Filters(
        buy_markets=tuple(Market(m) for m in buy),
        sell_markets=tuple(Market(m) for m in sell),
        min_profit_eur_cents=eur_to_cents(min_profit) if min_profit is not None else None,
        min_roi=percent_to_fraction(min_roi_pct) if min_roi_pct is not None else None,
        category=category,
        exclude_amazon_seller=bool(exclude),
        q=q.strip() or None,
        sort=OpportunitySort(sort or DEFAULT_SORT),
    )


def _sync_url(filters: Filters) -> None:
    """Write the filters (and the selected ASIN) to the URL when they changed."""
    wanted = filters_to_query_params(filters)
    asin = st.session_state.get("asin")
    if asin:
        wanted["asin"] = asin
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


# --- the live view ---------------------------------------------------------------------------


def _kpis(page: OpportunityPage, stats: StatsResponse) -> None:
    k = compute_kpis(page)
    cols = st.columns(4)
    cols[0].metric(
        "Open opportunities",
        f"{k.open_opportunities:,}",
        help=f"ASINs with an open route matching the filters ({k.open_routes:,} routes).",
        border=True,
    )
    cols[1].metric(
        "Median ROI",
        format_percent(k.median_roi),
        help=f"Median over the {k.shown} most profitable opportunities shown below.",
        border=True,
    )
    cols[2].metric(
        "Best profit",
        format_eur(k.best_profit_eur_cents),
        help=f"Net profit per unit of {k.best_asin}." if k.best_asin else None,
        border=True,
    )
    cols[3].metric(
        "Tracked products",
        f"{stats.counts.products:,}",
        help="(ASIN, market) pairs with a latest quote.",
        border=True,
    )
    st.caption("Data freshness (age of the newest observation per market)")
    fresh = st.columns(len(MARKETS))
    for col, row in zip(fresh, freshness_rows(stats)[: len(MARKETS)], strict=True):
        col.metric(row.market, row.label, help=f"{row.products:,} products", border=True)


#: The profit of a route and its sell market's signals, side by side in both route tables
#: (configured by :func:`_route_figure_columns`).
_PROFIT_AND_SIGNAL_COLUMNS = (
    "profit_eur",
    "monthly_profit_eur",
    "monthly_sales",
    "offers",
    "spike",
    "restrictions",
)


def _route_figure_columns() -> dict[str, Any]:
    """Column settings of the figures every route table shows (``_route_figures``)."""
    host = r"https://www\.(.+?)/dp/.*"
    return {
        "route": st.column_config.TextColumn("Route", width=70, help="Buy market → sell market."),
        "profit_eur": st.column_config.NumberColumn(
            "Profit", format="€ %.2f", width=72, help="Net profit per unit."
        ),
        "roi_pct": st.column_config.NumberColumn("ROI", format="%.1f %%", width=64),
        "margin_pct": st.column_config.NumberColumn("Margin", format="%.1f %%", width="small"),
        "buy_eur": st.column_config.NumberColumn("Buy (gross)", format="€ %.2f", width="small"),
        "sell_eur": st.column_config.NumberColumn("Sell (gross)", format="€ %.2f", width="small"),
        "buy_url": st.column_config.LinkColumn("Buy at", display_text=host, width=100),
        "sell_url": st.column_config.LinkColumn("Sell at", display_text=host, width=100),
        "monthly_profit_eur": st.column_config.NumberColumn(
            "Profit / mo.",
            format="€ %.2f",
            width=86,
            help="Expected: profit x estimated monthly sales / (new offers + 1). "
            "Empty: sales or offers unknown.",
        ),
        "monthly_sales": st.column_config.NumberColumn(
            "Sales / mo.",
            format="%d",
            width=80,
            help="Estimated units sold a month in the sell market. Empty: unknown.",
        ),
        "offers": st.column_config.NumberColumn(
            "Offers",
            format="%d",
            width=58,
            help="New offers in the sell market. Empty: unknown.",
        ),
        "spike": st.column_config.TextColumn(
            "Spike",
            width=84,
            help="Sell price more than the spike share (default 20 %) above its 90-day "
            "average, with how far above. ?: unknown.",
        ),
        "restrictions": st.column_config.TextColumn(
            "Restricted",
            width=78,
            help="Hazmat, adult or heat-sensitive in the sell market (Keepa). ?: unknown.",
        ),
    }


def _table(
    items: list[OpportunityRoute], shown: dict[str, datetime], now: datetime, new_s: int
) -> None:
    rows = opportunity_rows(items, shown=shown, now=now, new_within_s=new_s)
    frame = pd.DataFrame(rows)

    def highlight(row: pd.Series) -> list[str]:
        return [NEW_ROW_STYLE if row["new"] else ""] * len(row)

    st.dataframe(
        frame.style.apply(highlight, axis=1),
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * max(len(rows), 1), 640),
        # What decides first, all in view at 1500 px with the sidebar open (pixel widths):
        # the route, its profit and the sell market's signals (sorted by the monthly
        # profit), then the sell page (the e2e test reads it). ROI, prices, the buy page
        # (also in the detail view), age and rank follow, to the right.
        column_order=[
            "new",
            "image",
            "title",
            "asin",
            "route",
            *_PROFIT_AND_SIGNAL_COLUMNS,
            "sell_url",
            "roi_pct",
            "buy_eur",
            "sell_eur",
            "margin_pct",
            "buy_url",
            "age",
            "sales_rank",
        ],
        column_config={
            "new": st.column_config.CheckboxColumn(
                "New",
                width=46,
                help=f"Opened within {new_s // 60} min, or appeared on this page within "
                f"{new_s // 60} min.",
            ),
            "image": st.column_config.ImageColumn("Image", width=56),
            "title": st.column_config.TextColumn("Title", width=160),
            "asin": st.column_config.TextColumn("ASIN", width=98),
            **_route_figure_columns(),
            "age": st.column_config.TextColumn("Open for", help="Since the route opened."),
            "sales_rank": st.column_config.NumberColumn("Sales rank", format="%d"),
        },
    )


def _live_view(client: ApiClient, filters: Filters, dash: DashboardSettings) -> None:
    attempted = _now()
    try:
        stats = client.stats()
        page = client.opportunities(api_params(filters, page_size=dash.dashboard_page_size))
    except ApiUnavailableError as exc:
        st.error(
            f"**The API is unavailable.** {exc}\n\n"
            "Start it with `arbitrage api` (or everything with `make demo`). "
            f"This view retries every {dash.dashboard_refresh_s:g} s."
        )
        st.caption(f"Last attempt {attempted:%H:%M:%S} UTC")
        return
    except ApiError as exc:
        st.error(f"**The API answered with an error.** {exc}")
        st.caption(f"Last attempt {attempted:%H:%M:%S} UTC")
        return

    st.caption(
        f":green[●] Live · last updated {attempted:%H:%M:%S} UTC · refreshes every "
        f"{dash.dashboard_refresh_s:g} s · API {client.base_url}"
    )
    # "Appeared on this page" only compares refreshes with the same filters.
    previous_filters, previous_shown = st.session_state.get("_shown_at", (None, None))
    shown = first_shown(
        previous_shown if previous_filters == filters else None,
        (route_key(i) for i in page.items),
        attempted,
    )
    st.session_state["_shown_at"] = (filters, shown)
    st.session_state["_shown"] = {i.asin: i.title or "" for i in page.items}

    _kpis(page, stats)
    for warning in page.warnings:
        st.warning(warning)

    if not page.items:
        if stats.counts.products == 0:
            st.info(
                "**No data yet.** The API is up but nothing has been ingested: start a "
                "worker (`arbitrage worker`) and feed it (`arbitrage replay sample.jsonl`, "
                "the Airflow ingestion, or `make demo`)."
            )
        elif stats.counts.open_opportunities == 0:
            st.info("**No open opportunities right now.** Prices are tracked; none pays off.")
        else:
            st.info("**No open opportunity matches the filters.** Loosen them in the sidebar.")
        return

    if any(is_synthetic(i.title) for i in page.items):
        st.warning(
            "**Synthetic data.** Titles marked [SYNTHETIC] come from the sample generator "
            "(`arbitrage sample`), not from Amazon or Keepa; prices and links are made up."
        )
    new_s = dash.dashboard_new_minutes * 60
    st.subheader(f"Opportunities ({len(page.items)} of {page.total:,}, best route per ASIN)")
    st.caption(top_asins_caption(page.items, sort=filters.sort))
    _table(page.items, shown, attempted, new_s)


# --- one ASIN in detail ----------------------------------------------------------------------


def _sell_signals_chart(history: PriceHistory | None, route: OpportunityRoute) -> None:
    """The sell market's sell price over the observations, its 90-day average as a line and
    its 90-day range as a band (Keepa's figures in the route's signals), in the sell
    market's currency."""
    market = route.sell_market
    rows = sell_history_rows(history, market) if history else []
    stability = route.sell_signals.stability if route.sell_signals else None
    symbol = "£" if market is Market.GB else "€"
    y_title = f"Sell price in {market.value} ({symbol}, gross)"
    layers: list[alt.Chart] = []
    if stability is not None and stability.low_90 and stability.high_90:
        band = pd.DataFrame([{"low": stability.low_90 / 100, "high": stability.high_90 / 100}])
        layers.append(
            alt.Chart(band)
            .mark_rect(opacity=0.13, color="#4c78a8")
            .encode(
                y=alt.Y("low:Q", title=y_title, scale=alt.Scale(zero=False)),
                y2="high:Q",
                tooltip=[
                    alt.Tooltip("low:Q", title="90-day low", format=",.2f"),
                    alt.Tooltip("high:Q", title="90-day high", format=",.2f"),
                ],
            )
        )
    if stability is not None and stability.avg90:
        average = pd.DataFrame([{"avg90": stability.avg90 / 100, "label": "90-day avg."}])
        layers.append(
            alt.Chart(average)
            .mark_rule(strokeDash=[6, 4], color="#4c78a8", size=2)
            .encode(
                y=alt.Y("avg90:Q", title=y_title, scale=alt.Scale(zero=False)),
                tooltip=[alt.Tooltip("avg90:Q", title="90-day average", format=",.2f")],
            )
        )
    if rows:
        layers.append(
            alt.Chart(pd.DataFrame(rows))
            .mark_line(
                point=alt.OverlayMarkDef(size=22),
                interpolate="step-after",
                color=MARKET_COLORS[MARKETS.index(market.value)],
            )
            .encode(
                x=alt.X("time:T", title="Observed (UTC)", axis=alt.Axis(format="%d %b %H:%M")),
                y=alt.Y("price:Q", title=y_title, scale=alt.Scale(zero=False)),
                tooltip=[
                    alt.Tooltip("time:T", title="Observed", format="%Y-%m-%d %H:%M"),
                    alt.Tooltip("price:Q", title=symbol, format=",.2f"),
                ],
            )
        )
    if not layers:
        st.info(f"No sell price history or 90-day statistics for {market.value} yet.")
        return
    st.altair_chart(alt.layer(*layers).properties(height=300), width="stretch")
    st.caption(
        "Line: the sell price as observed; dashed: Keepa's 90-day average; band: the "
        "90-day low to high."
    )


def _signals_panel(history: PriceHistory | None, route: OpportunityRoute) -> None:
    """The chosen route's sell market: its price against the 90-day average and range, and
    its signals (docs/signals.md), with how long spreads on the route usually last when the
    API says."""
    st.markdown(
        f"**Would it sell in {route.sell_market.value}?** The sell market's signals as of "
        "the route's last event"
    )
    lifetime = lifetime_text(route)
    if lifetime:
        st.info(lifetime)
    chart_col, facts_col = st.columns([3, 2])
    with chart_col:
        _sell_signals_chart(history, route)
    with facts_col:
        facts = signal_facts(route)
        # A table, not metrics: values such as "sells, 62 % buy box" need the width.
        st.markdown(
            "| Signal | Value |\n|---|---|\n"
            + "\n".join(f"| {fact.label} | **{fact.value}** |" for fact in facts)
        )
        with st.expander("How these are read"):
            st.markdown("\n".join(f"- **{fact.label}**: {fact.help}" for fact in facts))
            st.caption("? = unknown (Keepa did not send it), never 0. docs/signals.md")


def _history_chart(history: PriceHistory | None) -> None:
    kind = st.segmented_control(
        "Price",
        ["buy", "sell"],
        default="buy",
        key="history_kind",
        format_func=lambda k: "Buy price" if k == "buy" else "Sell price",
    )
    rows = history_rows(history, "sell" if kind == "sell" else "buy") if history else []
    if not rows:
        st.info("No price history for this ASIN yet.")
        return
    frame = pd.DataFrame(rows)
    chart = (
        alt.Chart(frame)
        .mark_line(point=alt.OverlayMarkDef(size=18), interpolate="step-after")
        .encode(
            x=alt.X("time:T", title="Observed (UTC)", axis=alt.Axis(format="%d %b %H:%M")),
            y=alt.Y("price_eur:Q", title="EUR (gross)", scale=alt.Scale(zero=False)),
            color=alt.Color(
                "market:N",
                title="Market",
                scale=alt.Scale(domain=MARKETS, range=MARKET_COLORS),
            ),
            tooltip=[
                alt.Tooltip("market:N", title="Market"),
                alt.Tooltip("time:T", title="Observed", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("price_eur:Q", title="EUR", format=",.2f"),
            ],
        )
        .properties(height=320)
    )
    st.altair_chart(chart, width="stretch")
    if history is not None and history.truncated:
        st.caption(f"The newest {len(history.points)} of {history.total} observations.")


def _waterfall_chart(route: PricedRoute) -> None:
    steps = waterfall_steps(route)
    if not steps:
        st.info("The API sent no cost breakdown for this route.")
        return
    frame = pd.DataFrame(
        [
            {
                "step": s.label,
                "kind": s.kind,
                "start": s.start_eur_cents / 100,
                "end": s.end_eur_cents / 100,
                "top": max(s.start_eur_cents, s.end_eur_cents) / 100,
                "amount": s.amount_eur_cents / 100,
            }
            for s in steps
        ]
    )
    order = [s.label for s in steps]
    # One bar per cost line: up to ~12 labels, slanted so that none is dropped for overlap.
    x = alt.X("step:N", sort=order, title=None, axis=alt.Axis(labelAngle=-30, labelOverlap=False))
    bars = (
        alt.Chart(frame)
        .mark_bar(size=44)
        .encode(
            x=x,
            y=alt.Y("start:Q", title="EUR"),
            y2="end:Q",
            color=alt.Color(
                "kind:N",
                scale=alt.Scale(
                    domain=list(WATERFALL_COLORS), range=list(WATERFALL_COLORS.values())
                ),
                legend=None,
            ),
            tooltip=[
                alt.Tooltip("step:N", title="Step"),
                alt.Tooltip("amount:Q", title="EUR", format=",.2f"),
            ],
        )
    )
    labels = (
        alt.Chart(frame)
        .mark_text(dy=-8)
        .encode(x=x, y="top:Q", text=alt.Text("amount:Q", format=",.2f"))
    )
    st.altair_chart((bars + labels).properties(height=320), width="stretch")


def _detail_view(client: ApiClient) -> None:
    st.divider()
    st.header("Opportunity detail")
    shown: dict[str, str] = st.session_state.get("_shown", {})
    options = asin_options(list(shown), st.session_state.get("asin"))
    if not options:
        st.info("Pick an ASIN here once there are opportunities.")
        return
    if st.session_state.get("asin") not in options:
        st.session_state["asin"] = options[0]
    asin = st.selectbox(
        "ASIN",
        options,
        key="asin",
        format_func=lambda a: f"{a} · {shown[a]}" if shown.get(a) else a,
    )
    if asin and st.query_params.get("asin") != asin:
        st.query_params["asin"] = asin
    if not asin:
        return

    try:
        detail = client.opportunity(asin)
        if detail is None:
            st.warning(f"The API knows no opportunity for {asin}.")
            return
        title = detail.title or "(no title)"
        left, right = st.columns([1, 5], vertical_alignment="center")
        if detail.image_url:
            left.image(detail.image_url, width=110)
        right.subheader(title)
        right.markdown(
            " · ".join(f"[{m.amazon_host}]({m.product_url(asin)})" for m in Market)
            + f"  \n{detail.open_routes} open route(s)"
        )
        if is_synthetic(detail.title):
            right.caption("Synthetic sample data: not a real product.")

        routes = [r for r in detail.routes if r.state == "open"] or list(detail.routes)
        best = best_route(detail)
        keys = [r.route for r in routes]
        chosen = st.selectbox(
            "Route (buy → sell)",
            keys,
            index=keys.index(best.route) if best is not None else 0,
            key=f"route_{asin}",
            format_func=lambda k: k.replace(":", " → "),
        )
        route = next(r for r in routes if r.route == chosen)
        history = client.history(asin)
        _signals_panel(history, route)
        history_col, waterfall_col = st.columns(2)
        with history_col:
            st.markdown("**Price history, all markets (EUR)**")
            _history_chart(history)
        with waterfall_col:
            st.markdown(
                f"**Profit breakdown {route.buy_market.value} → {route.sell_market.value}**: "
                f"{format_eur(route.profit_eur_cents)} profit, ROI {format_percent(route.roi)}"
            )
            _waterfall_chart(route)
            for note in breakdown_notes(route):
                st.caption(note)
        _my_costs_panel(client, asin, route)
        _routes_table(route_rows(detail))
    except ApiUnavailableError as exc:
        st.error(f"**The API is unavailable.** {exc}")
    except ApiError as exc:
        st.error(f"**The API answered with an error.** {exc}")


def _my_costs_form(key: str, route: OpportunityRoute, in_force: MyCosts) -> MyCosts | None:
    """The panel's widgets, preset with the profile in force; the values once submitted."""
    sell = route.sell_market
    with st.form(key=f"{key}_form", border=True):
        vat = st.multiselect(
            "VAT-registered in",
            MARKETS,
            default=[m.value for m in in_force.vat_registered_in],
            key=f"{key}_vat",
            help="Not registered where Amazon charges its fees: the VAT on them is a cost.",
        )
        mode = st.selectbox(
            f"Fulfilment of orders in {sell.value}",
            FULFILMENT_MODES,
            index=FULFILMENT_MODES.index(in_force.fulfilment),
            format_func=lambda m: FULFILMENT_LABELS[m],
            key=f"{key}_mode",
        )
        shipping = st.number_input(
            f"Own shipping per unit ({sell.currency.value}, merchant-fulfilled)",
            min_value=0.0,
            max_value=10_000.0,
            step=0.5,
            value=(in_force.mfn_shipping_minor or 0) / 100,
            key=f"{key}_shipping",
        )
        prep = st.number_input(
            "Prep per unit (€)",
            min_value=0.0,
            max_value=10_000.0,
            step=0.1,
            value=in_force.prep_eur_cents / 100,
            key=f"{key}_prep",
        )
        min_profit = st.number_input(
            "Minimum profit (€)",
            min_value=0.0,
            max_value=1_000_000.0,
            step=1.0,
            value=in_force.min_profit_eur_cents / 100,
            key=f"{key}_min_profit",
        )
        if not st.form_submit_button("Recompute with my costs"):
            return None
    return MyCosts(
        vat_registered_in=tuple(Market(m) for m in vat),
        fulfilment=str(mode),
        mfn_shipping_minor=eur_to_cents(shipping) if mode == "mfn" else None,
        prep_eur_cents=eur_to_cents(prep),
        min_profit_eur_cents=eur_to_cents(min_profit),
    )


def _my_costs_panel(client: ApiClient, asin: str, route: OpportunityRoute) -> None:
    """ "My costs": the chosen route recomputed by ``POST /profit/quote`` with the seller's
    own values, its waterfall next to the figures in force."""
    st.markdown(
        f"**My costs: what if** ({route.buy_market.value} → {route.sell_market.value}, "
        "the ASIN's latest quotes; nothing is saved)"
    )
    key = f"whatif_{asin}_{route.route.replace(':', '_')}"
    form_col, chart_col = st.columns(2)
    with form_col:
        try:
            profile = client.profile()
        except ApiError as exc:
            st.error(f"**The profile in force could not be read.** {exc}")
            return
        costs = _my_costs_form(key, route, my_costs_in_force(profile.profile, route.sell_market))
        st.caption(f"Preset with the profile in force (version {profile.version}).")
    if costs is not None:
        try:
            answer: ProfitQuote | str | None = client.profit_quote(
                profit_quote_body(asin, costs, route.sell_market)
            )
        except ApiError as exc:
            answer = f"The API refused these values: {exc}"
        st.session_state[key] = answer if answer is not None else f"{asin} has no stored quotes."
    answer = st.session_state.get(key)
    with chart_col:
        if answer is None:
            st.info("Change the values and press **Recompute with my costs**.")
            return
        quoted = quoted_route_of(answer, route.route) if isinstance(answer, ProfitQuote) else answer
        if isinstance(quoted, str):
            st.error(quoted)
            return
        verdict = (
            "an opportunity"
            if quoted.is_opportunity
            else "not an opportunity (" + ", ".join(quoted.failed_thresholds) + ")"
        )
        st.markdown(
            f"**With my costs: {format_eur(quoted.profit_eur_cents)} profit**, ROI "
            f"{format_percent(quoted.roi)}, {verdict}; in force "
            f"{format_eur(route.profit_eur_cents)}"
        )
        _waterfall_chart(quoted)
        # One element whatever the number of notes: a rerun with fewer notes leaves none behind.
        st.caption("  \n".join(breakdown_notes(quoted)))
    st.dataframe(
        pd.DataFrame(line_comparison(route, quoted)),
        hide_index=True,
        width="stretch",
        column_config={
            "line": st.column_config.TextColumn("Line"),
            "in_force_eur": st.column_config.NumberColumn("In force", format="€ %.2f"),
            "my_costs_eur": st.column_config.NumberColumn("My costs", format="€ %.2f"),
            "change_eur": st.column_config.NumberColumn("Change", format="€ %.2f"),
        },
    )


def _routes_table(rows: list[dict[str, Any]]) -> None:
    st.markdown("**All routes of this ASIN**")
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_order=[
            "route",
            "state",
            *_PROFIT_AND_SIGNAL_COLUMNS,
            "buy_url",
            "sell_url",
            "buy_eur",
            "sell_eur",
            "roi_pct",
            "margin_pct",
            "last_seen",
        ],
        column_config={
            **_route_figure_columns(),
            "state": st.column_config.TextColumn("State"),
            "last_seen": st.column_config.DatetimeColumn("Last seen", format="YYYY-MM-DD HH:mm"),
        },
    )


# --- the page --------------------------------------------------------------------------------


def main() -> None:
    st.set_page_config(page_title="EU arbitrage", page_icon="📦", layout="wide")
    settings = get_settings()
    dash = DashboardSettings()
    client = _client(settings.api_url, dash.dashboard_api_timeout_s)

    _init_state_from_url()
    filters = _sidebar_filters()
    _sync_url(filters)

    st.title("Amazon EU arbitrage")
    live = st.fragment(run_every=dash.dashboard_refresh_s)(_live_view)
    live(client, filters, dash)
    detail = st.fragment(run_every=dash.dashboard_refresh_s * 4)(_detail_view)
    detail(client)


main()
