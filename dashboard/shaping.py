"""Pure data shaping for the dashboard: no Streamlit, no I/O.

Everything the Streamlit script shows is computed here from the API's response models
(:mod:`app.api.models`): the filters and their URL form, the opportunity table, the KPIs,
the freshness per market, the price-history chart data and the profit waterfall.

Money stays integer EUR cents until the very last step: table cells and chart values are
converted to euros (``cents / 100``) for display only, never computed with.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Final, Literal, Protocol

from app.api.models import (
    Breakdown,
    OpportunityDetail,
    OpportunityPage,
    OpportunityRoute,
    PriceHistory,
    ProfitQuote,
    QuotedRoute,
    StatsResponse,
)
from app.api.params import (
    MAX_ABS_RATIO,
    MAX_CATEGORY,
    MAX_MIN_PROFIT_EUR,
    MAX_QUERY_LENGTH,
    OpportunitySort,
)
from app.domain.asin import normalise_asin
from app.domain.markets import Market, UnknownMarketError

__all__ = [
    "DEFAULT_SORT",
    "FILTER_PARAMS",
    "FULFILMENT_LABELS",
    "FULFILMENT_MODES",
    "LINE_LABELS",
    "SHOWN_FROM_THE_START",
    "SORT_LABELS",
    "SYNTHETIC_PREFIX",
    "UNKNOWN",
    "Filters",
    "FreshnessRow",
    "Kpis",
    "MyCosts",
    "ParsedFilters",
    "PricedRoute",
    "SignalFact",
    "WaterfallStep",
    "api_params",
    "asin_from_query_params",
    "asin_options",
    "best_route",
    "breakdown_notes",
    "compute_kpis",
    "eur_to_cents",
    "filters_from_query_params",
    "filters_to_query_params",
    "first_shown",
    "format_age",
    "format_eur",
    "format_percent",
    "freshness_rows",
    "history_rows",
    "is_new",
    "is_synthetic",
    "lifetime_text",
    "line_comparison",
    "my_costs_in_force",
    "my_costs_overrides",
    "newest",
    "opportunity_rows",
    "percent_to_fraction",
    "profit_quote_body",
    "quoted_route_of",
    "restrictions_label",
    "route_key",
    "route_rows",
    "sell_history_rows",
    "share_above_avg90",
    "signal_facts",
    "spike_label",
    "top_asins_caption",
    "waterfall_steps",
]

#: Titles of generated sample data start with this (see ``devtools.sample.generator``).
SYNTHETIC_PREFIX: Final = "[SYNTHETIC]"

#: The query parameters that carry filters; the names are those of ``GET /opportunities``.
FILTER_PARAMS: Final[tuple[str, ...]] = (
    "buy_market",
    "sell_market",
    "min_profit_eur",
    "min_roi",
    "category",
    "exclude_amazon_seller",
    "q",
    "sort",
)

#: The table's default order: highest expected monthly profit first (unknown last).
DEFAULT_SORT: Final = OpportunitySort.EXPECTED_MONTHLY_PROFIT
#: What each sort is called in the sidebar and in the caption above the table.
SORT_LABELS: Final[Mapping[OpportunitySort, str]] = {
    OpportunitySort.EXPECTED_MONTHLY_PROFIT: "expected monthly profit",
    OpportunitySort.PROFIT: "profit",
    OpportunitySort.ROI: "ROI",
    OpportunitySort.MARGIN: "margin",
    OpportunitySort.NEWEST: "newest",
}

_CENT: Final = Decimal("0.01")
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off", ""})


# --- filters <-> URL query parameters ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    """The sidebar filters, in the API's units (cents, fractions)."""

    buy_markets: tuple[Market, ...] = ()
    sell_markets: tuple[Market, ...] = ()
    min_profit_eur_cents: int | None = None
    min_roi: Decimal | None = None
    """A fraction: ``Decimal("0.15")`` = 15 %."""
    category: int | None = None
    """Keepa root category id in the sell market."""
    exclude_amazon_seller: bool = False
    q: str | None = None
    """Free text that every word of the title must match."""
    sort: OpportunitySort = DEFAULT_SORT
    """The table's order (always descending: best first)."""


@dataclass(frozen=True, slots=True)
class ParsedFilters:
    """Filters read from a URL plus a note for every parameter that had to be ignored."""

    filters: Filters
    ignored: tuple[str, ...] = field(default=())


def _values(params: Mapping[str, str | Sequence[str]], name: str) -> list[str]:
    raw = params.get(name)
    if raw is None:
        return []
    return [raw] if isinstance(raw, str) else [str(item) for item in raw]


def _last(params: Mapping[str, str | Sequence[str]], name: str) -> str | None:
    values = _values(params, name)
    return values[-1].strip() if values else None


def _markets(values: Iterable[str], name: str, ignored: list[str]) -> tuple[Market, ...]:
    markets: list[Market] = []
    for value in values:
        for part in value.split(","):
            if not part.strip():
                continue
            try:
                market = Market.parse(part)
            except UnknownMarketError:
                ignored.append(f"{name}={part.strip()!r}: not a tracked market")
                continue
            if market not in markets:
                markets.append(market)
    return tuple(markets)


def _decimal(text: str | None, name: str, ignored: list[str]) -> Decimal | None:
    if text is None or text == "":
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        ignored.append(f"{name}={text!r}: not a number")
        return None
    if not value.is_finite():
        ignored.append(f"{name}={text!r}: not a finite number")
        return None
    return value


def filters_from_query_params(params: Mapping[str, str | Sequence[str]]) -> ParsedFilters:
    """Read the filters from URL query parameters (``st.query_params`` or a plain dict).

    Tolerant: an invalid or out-of-range value is ignored (and reported in ``ignored``)
    instead of failing the page. Markets may be repeated or comma separated.
    """
    ignored: list[str] = []
    buy = _markets(_values(params, "buy_market"), "buy_market", ignored)
    sell = _markets(_values(params, "sell_market"), "sell_market", ignored)

    min_profit_cents: int | None = None
    profit = _decimal(_last(params, "min_profit_eur"), "min_profit_eur", ignored)
    if profit is not None:
        # the API's bounds: out-of-range URL values are dropped here rather than turned
        # into a 422 on every refresh
        if 0 <= profit <= MAX_MIN_PROFIT_EUR:
            min_profit_cents = eur_to_cents(profit)
        else:
            ignored.append(f"min_profit_eur={profit}: outside 0..{MAX_MIN_PROFIT_EUR}")

    min_roi = _decimal(_last(params, "min_roi"), "min_roi", ignored)
    if min_roi is not None and abs(min_roi) > MAX_ABS_RATIO:
        ignored.append(f"min_roi={min_roi}: outside -{MAX_ABS_RATIO}..{MAX_ABS_RATIO}")
        min_roi = None

    category: int | None = None
    category_text = _last(params, "category")
    if category_text:
        if category_text.isdigit() and int(category_text) <= MAX_CATEGORY:
            category = int(category_text)
        else:
            ignored.append(f"category={category_text!r}: not a Keepa category id")

    exclude = False
    exclude_text = _last(params, "exclude_amazon_seller")
    if exclude_text is not None:
        if exclude_text.lower() in _TRUE:
            exclude = True
        elif exclude_text.lower() not in _FALSE:
            ignored.append(f"exclude_amazon_seller={exclude_text!r}: not a boolean")

    q = _last(params, "q") or None
    if q is not None and len(q) > MAX_QUERY_LENGTH:
        ignored.append(f"q: longer than {MAX_QUERY_LENGTH} characters")
        q = None

    sort = DEFAULT_SORT
    sort_text = _last(params, "sort")
    if sort_text:
        try:
            sort = OpportunitySort(sort_text.lower())
        except ValueError:
            ignored.append(f"sort={sort_text!r}: not one of {', '.join(OpportunitySort)}")

    filters = Filters(
        buy_markets=buy,
        sell_markets=sell,
        min_profit_eur_cents=min_profit_cents,
        min_roi=min_roi,
        category=category,
        exclude_amazon_seller=exclude,
        q=q,
        sort=sort,
    )
    return ParsedFilters(filters, tuple(ignored))


def asin_from_query_params(
    params: Mapping[str, str | Sequence[str]],
) -> tuple[str | None, str | None]:
    """The ASIN of the detail view from the URL (``?asin=``): ``(asin, None)``, or
    ``(None, note)`` when the value is not an ASIN, or ``(None, None)`` when absent."""
    text = _last(params, "asin")
    if not text:
        return None, None
    try:
        return normalise_asin(text), None
    except ValueError:
        return None, f"asin={text!r}: not an ASIN (10 characters A-Z, 0-9)"


def _plain(value: Decimal) -> str:
    """``Decimal("0.150")`` -> ``"0.15"``; ``Decimal("7.00")`` -> ``"7"`` (no exponent)."""
    text = format(value.normalize(), "f")
    return text


def filters_to_query_params(filters: Filters) -> dict[str, str]:
    """The URL form of ``filters``: only what differs from the defaults, so URLs stay short.

    ``filters_from_query_params(filters_to_query_params(f)).filters == f`` for any ``f``
    within the API's bounds.
    """
    params: dict[str, str] = {}
    if filters.buy_markets:
        params["buy_market"] = ",".join(m.value for m in filters.buy_markets)
    if filters.sell_markets:
        params["sell_market"] = ",".join(m.value for m in filters.sell_markets)
    if filters.min_profit_eur_cents is not None:
        params["min_profit_eur"] = _plain(Decimal(filters.min_profit_eur_cents) / 100)
    if filters.min_roi is not None:
        params["min_roi"] = _plain(filters.min_roi)
    if filters.category is not None:
        params["category"] = str(filters.category)
    if filters.exclude_amazon_seller:
        params["exclude_amazon_seller"] = "true"
    if filters.q:
        params["q"] = filters.q
    if filters.sort != DEFAULT_SORT:
        params["sort"] = filters.sort.value
    return params


def api_params(filters: Filters, *, page_size: int = 200) -> dict[str, str]:
    """Query parameters of ``GET /opportunities`` for the table: best route per ASIN, best
    first by the filters' sort (by default the highest expected monthly profit, routes where
    it is unknown last)."""
    params = filters_to_query_params(filters)
    params.update(
        sort=filters.sort.value,
        order="desc",
        best_per_asin="true",
        page="1",
        page_size=str(page_size),
    )
    return params


def eur_to_cents(euros: Decimal | float | str) -> int:
    """Euros (as typed in a widget) -> integer cents, half-up. Floats go through ``str``
    so that ``7.1`` is 710 cents, not 709."""
    value = euros if isinstance(euros, Decimal) else Decimal(str(euros))
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent_to_fraction(percent: Decimal | float | str) -> Decimal:
    """``15`` (%) -> ``Decimal("0.15")``."""
    value = percent if isinstance(percent, Decimal) else Decimal(str(percent))
    return (value / 100).normalize()


# --- formatting ----------------------------------------------------------------------------


def format_eur(cents: int | None) -> str:
    """``123456`` -> ``"€1,234.56"``; negative amounts get a leading minus."""
    if cents is None:
        return "n/a"
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}€{whole:,}.{rest:02d}"


def format_percent(ratio: float | Decimal | None, places: int = 1) -> str:
    """``0.2345`` -> ``"23.5 %"``."""
    if ratio is None:
        return "n/a"
    return f"{float(ratio) * 100:.{places}f} %"


def format_age(seconds: int | float | None) -> str:
    """A short age: ``"just now"``, ``"42 s"``, ``"5 min"``, ``"3 h 20 min"``, ``"2 d 4 h"``."""
    if seconds is None:
        return "no data"
    s = max(0, int(seconds))
    if s < 5:
        return "just now"
    if s < 60:
        return f"{s} s"
    minutes = s // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def is_synthetic(title: str | None) -> bool:
    """Generated sample data (``arbitrage sample``) is titled ``[SYNTHETIC] ...``."""
    return bool(title) and str(title).startswith(SYNTHETIC_PREFIX)


# --- the opportunity table -----------------------------------------------------------------


def route_key(item: OpportunityRoute) -> str:
    """``ASIN:BUY:SELL``: the identity of one route (as the ``opportunities`` index ids)."""
    return f"{item.asin}:{item.buy_market.value}:{item.sell_market.value}"


#: When a route was already on screen at the first load (or after a filter change): never
#: "new" by :func:`first_shown`'s rule, whatever the clock says.
SHOWN_FROM_THE_START: Final = datetime.min.replace(tzinfo=UTC)


def first_shown(
    previous: Mapping[str, datetime] | None, keys: Iterable[str], now: datetime
) -> dict[str, datetime]:
    """When this dashboard session first showed each of ``keys`` (route keys of the current
    refresh), given the record of the previous refresh (``None`` on the first load or after a
    filter change: then everything counts as shown from the start). A route that left the
    list and comes back is shown anew."""
    if previous is None:
        return dict.fromkeys(keys, SHOWN_FROM_THE_START)
    return {key: previous.get(key, now) for key in keys}


def is_new(
    item: OpportunityRoute,
    *,
    shown_at: datetime | None,
    now: datetime,
    new_within_s: int,
) -> bool:
    """Newly opened: first seen by the system within ``new_within_s`` seconds, or first shown
    by this dashboard session (``shown_at``, see :func:`first_shown`) within that time. The
    second rule keeps a route that appeared while the page was open highlighted for the same
    time, even when its opportunity opened earlier in event time (a backlog catching up)."""
    if item.age_seconds <= new_within_s:
        return True
    return shown_at is not None and (now - shown_at).total_seconds() <= new_within_s


#: How an unknown signal shows in a text cell (numbers show empty).
UNKNOWN: Final = "?"


def share_above_avg90(route: OpportunityRoute) -> Fraction | None:
    """How far the current sell price is above (below: negative) its 90-day average:
    ``current / avg90 - 1``, exact; unknown without either."""
    stability = route.sell_signals.stability if route.sell_signals else None
    if stability is None or stability.current is None or not stability.avg90:
        return None
    return Fraction(stability.current, stability.avg90) - 1


def spike_label(route: OpportunityRoute) -> str:
    """``"yes, +34 %"`` (a spike, with the share above the 90-day average), ``"no"``, or
    ``"?"`` when unknown."""
    stability = route.sell_signals.stability if route.sell_signals else None
    if stability is None or stability.spike is None:
        return UNKNOWN
    if not stability.spike:
        return "no"
    share = share_above_avg90(route)
    return "yes" if share is None else f"yes, +{float(share) * 100:.0f} %"


def restrictions_label(route: OpportunityRoute) -> str:
    """The restriction flags set (``"hazmat, adult"``), ``"none"`` when all three are known
    and clear, else ``"?"`` (docs/signals.md: an unknown flag is not a clear one)."""
    restrictions = route.sell_signals.restrictions if route.sell_signals else None
    if restrictions is None:
        return UNKNOWN
    flags = {
        "hazmat": restrictions.hazardous_material,
        "adult": restrictions.adult_product,
        "heat-sensitive": restrictions.heat_sensitive,
    }
    set_ = [name for name, value in flags.items() if value]
    if set_:
        return ", ".join(set_)
    return "none" if all(value is False for value in flags.values()) else UNKNOWN


def _route_figures(route: OpportunityRoute) -> dict[str, Any]:
    """The columns every route table shows: the route, its gross prices, profit, ROI and
    margin (euros and percent as floats, for display only), the two product pages, and the
    sell market's signals (docs/signals.md): expected monthly profit, estimated monthly
    sales, new offers (numbers: ``None`` when unknown, shown empty), the spike flag and the
    restrictions (text: ``"?"`` when unknown)."""
    signals = route.sell_signals
    monthly = route.expected_monthly_profit_eur_cents
    return {
        "route": f"{route.buy_market.value} → {route.sell_market.value}",
        "buy_eur": route.buy_price_eur_cents / 100,
        "sell_eur": route.sell_price_eur_cents / 100,
        "profit_eur": route.profit_eur_cents / 100,
        "roi_pct": route.roi * 100,
        "margin_pct": route.margin * 100,
        "buy_url": route.buy_url,
        "sell_url": route.sell_url,
        "monthly_profit_eur": None if monthly is None else monthly / 100,
        "monthly_sales": None if signals is None else signals.demand.estimated_monthly_sales,
        "offers": None if signals is None else signals.competition.new_offer_count,
        "spike": spike_label(route),
        "restrictions": restrictions_label(route),
    }


def opportunity_rows(
    items: Sequence[OpportunityRoute],
    *,
    shown: Mapping[str, datetime],
    now: datetime,
    new_within_s: int,
) -> list[dict[str, Any]]:
    """One row per route for ``st.dataframe``, in the API's order (highest expected monthly
    profit first).

    Money and ratios are converted for display only: euros and percent as floats.
    """
    rows: list[dict[str, Any]] = []
    for item in items:
        rows.append(
            {
                "new": is_new(
                    item, shown_at=shown.get(route_key(item)), now=now, new_within_s=new_within_s
                ),
                "image": item.image_url,
                "title": item.title or "(no title)",
                "asin": item.asin,
                **_route_figures(item),
                "age": format_age(item.age_seconds),
                "sales_rank": item.sales_rank,
            }
        )
    return rows


def top_asins_caption(
    items: Sequence[OpportunityRoute], limit: int = 5, sort: OpportunitySort = DEFAULT_SORT
) -> str:
    """``"Top by expected monthly profit: B0... DE→FR €58.50/month (€6.50/unit) · ..."``:
    the leaders in the table's order as plain text (readable by people and by browser tests,
    unlike the canvas-drawn table); the monthly figure is ``?`` when unknown."""
    if not items:
        return "No open opportunity matches."
    parts = []
    for i in items[:limit]:
        monthly = i.expected_monthly_profit_eur_cents
        parts.append(
            f"{i.asin} {i.buy_market.value}→{i.sell_market.value} "
            f"{UNKNOWN if monthly is None else format_eur(monthly)}/month "
            f"({format_eur(i.profit_eur_cents)}/unit)"
        )
    return f"Top by {SORT_LABELS[sort]}: " + " · ".join(parts)


# --- KPIs ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Kpis:
    open_opportunities: int
    """ASINs with an open route matching the filters (``OpportunityPage.total``)."""
    open_routes: int
    median_roi: float | None
    """Median ROI of the routes shown (the most profitable page)."""
    best_profit_eur_cents: int | None
    best_asin: str | None
    shown: int


def compute_kpis(page: OpportunityPage) -> Kpis:
    items = page.items
    best = max(items, key=lambda i: i.profit_eur_cents, default=None)
    return Kpis(
        open_opportunities=page.total,
        open_routes=page.total_routes,
        median_roi=statistics.median(i.roi for i in items) if items else None,
        best_profit_eur_cents=best.profit_eur_cents if best else None,
        best_asin=best.asin if best else None,
        shown=len(items),
    )


@dataclass(frozen=True, slots=True)
class FreshnessRow:
    market: str
    products: int
    age_seconds: int | None
    label: str


def freshness_rows(stats: StatsResponse) -> list[FreshnessRow]:
    """Age of the newest observation per market, in the fixed order DE, FR, IT, ES, GB
    (markets the API did not report show "no data")."""
    by_market = {f.market.upper(): f for f in stats.freshness}
    order = [m.value for m in Market] + sorted(set(by_market) - {m.value for m in Market})
    rows: list[FreshnessRow] = []
    for market in order:
        entry = by_market.get(market)
        age = entry.age_seconds if entry else None
        has_data = entry is not None and entry.newest_observed_at is not None
        rows.append(
            FreshnessRow(
                market=market,
                products=entry.products if entry else 0,
                age_seconds=age if has_data else None,
                label=format_age(age) if has_data else "no data",
            )
        )
    return rows


# --- detail view ---------------------------------------------------------------------------


def asin_options(shown: Sequence[str], selected: str | None) -> list[str]:
    """ASINs for the detail select box: the shown opportunities' ASINs in order, plus a
    selected ASIN (e.g. from the URL) that is not among them, first."""
    options = list(dict.fromkeys(shown))
    if selected and selected not in options:
        options.insert(0, selected)
    return options


def best_route(detail: OpportunityDetail) -> OpportunityRoute | None:
    """The most profitable open route, else the most profitable route at all."""
    open_routes = [r for r in detail.routes if r.state == "open"]
    candidates = open_routes or list(detail.routes)
    return max(candidates, key=lambda r: r.profit_eur_cents, default=None)


def route_rows(detail: OpportunityDetail) -> list[dict[str, Any]]:
    """Every route of one ASIN, open ones first, most profitable first."""
    ordered = sorted(detail.routes, key=lambda r: (r.state != "open", -r.profit_eur_cents))
    return [{**_route_figures(r), "state": r.state, "last_seen": r.last_seen} for r in ordered]


PriceKind = Literal["buy", "sell"]


def history_rows(history: PriceHistory, kind: PriceKind = "buy") -> list[dict[str, Any]]:
    """Chart points ``{time, market, price_eur}`` of every market, in EUR (GB converted by
    the worker at observation time); points without that price are left out."""
    rows: list[dict[str, Any]] = []
    for point in history.points:
        cents = point.buy_price_eur_cents if kind == "buy" else point.sell_price_eur_cents
        if cents is None:
            continue
        rows.append(
            {
                "time": point.observed_at,
                "market": point.market.value,
                "price_eur": cents / 100,
            }
        )
    rows.sort(key=lambda r: (r["time"], r["market"]))
    return rows


def sell_history_rows(history: PriceHistory, market: Market) -> list[dict[str, Any]]:
    """Chart points ``{time, price}`` of the sell price in ``market``, in its own currency
    (``price``: major units, display only), like the signals' averages and range."""
    points = sorted(
        (p for p in history.points if p.market == market and p.sell_price_minor is not None),
        key=lambda p: p.observed_at,
    )
    return [{"time": p.observed_at, "price": (p.sell_price_minor or 0) / 100} for p in points]


@dataclass(frozen=True, slots=True)
class SignalFact:
    """One figure of the detail view's signal panel."""

    label: str
    value: str
    help: str


def _money(minor: int | None, market: Market) -> str:
    if minor is None:
        return UNKNOWN
    whole, rest = divmod(minor, 100)
    symbol = "£" if market is Market.GB else "€"
    return f"{symbol}{whole:,}.{rest:02d}"


_ESTIMATE_METHODS: Final[Mapping[str, str]] = {
    "monthly_sold": "Amazon's 'bought in past month'",
    "sales_rank_drops_30": "sales rank drops, 30 days",
    "sales_rank_drops_90": "sales rank drops, 90 days / 3",
}


def signal_facts(route: OpportunityRoute) -> list[SignalFact]:
    """The sell market's signals of ``route`` as labelled texts (``?``: unknown): expected
    monthly profit, estimated monthly sales, new offers, Amazon, restrictions, spike, and the
    sell price against its 90-day average and range (sell market's currency)."""
    signals = route.sell_signals
    market = route.sell_market
    demand = signals.demand if signals else None
    competition = signals.competition if signals else None
    stability = signals.stability if signals else None
    monthly = route.expected_monthly_profit_eur_cents
    units = route.expected_monthly_units
    sales = demand.estimated_monthly_sales if demand else None
    method = demand.estimate_method if demand else None
    offers = competition.new_offer_count if competition else None
    amazon = competition.amazon_sells if competition else None
    share = competition.amazon_buy_box_share if competition else None
    amazon_text = {True: "sells", False: "does not sell", None: UNKNOWN}[amazon]
    if share is not None:
        amazon_text += f", {share * 100:.0f} % buy box"
    above = share_above_avg90(route)
    return [
        SignalFact(
            "Expected monthly profit",
            UNKNOWN if monthly is None else format_eur(monthly),
            "Profit per unit x estimated monthly sales / (new offers + 1)"
            + ("" if units is None else f": {units:.2f} units a month")
            + " (docs/signals.md).",
        ),
        SignalFact(
            "Est. monthly sales",
            UNKNOWN if sales is None else f"{sales:,}",
            f"Units a month in {market.value}"
            + (f", from {_ESTIMATE_METHODS.get(method, method)}." if method else "."),
        ),
        SignalFact(
            "New offers",
            UNKNOWN if offers is None else f"{offers:,}",
            f"New offers in {market.value} now (Keepa COUNT_NEW).",
        ),
        SignalFact(
            "Amazon",
            amazon_text,
            "Whether Amazon itself offers it, and its share of the buy box over 90 days.",
        ),
        SignalFact(
            "Restrictions",
            restrictions_label(route),
            "Hazardous material, adult product, heat-sensitive (Keepa's flags).",
        ),
        SignalFact(
            "Spike",
            spike_label(route),
            "Sell price more than the spike share (SPIKE_SHARE, default 20 %) above its "
            "90-day average.",
        ),
        SignalFact(
            "Sell price vs 90-day avg.",
            (
                f"{_money(stability.current if stability else None, market)} vs "
                f"{_money(stability.avg90 if stability else None, market)}"
                + ("" if above is None else f" ({float(above) * 100:+.0f} %)")
            ),
            "Current sell price against Keepa's 90-day average of its price type.",
        ),
        SignalFact(
            "90-day range",
            f"{_money(stability.low_90 if stability else None, market)} to "
            f"{_money(stability.high_90 if stability else None, market)}",
            "Lowest and highest sell price of the last 90 days (Keepa).",
        ),
    ]


def lifetime_text(route: OpportunityRoute) -> str | None:
    """The API's ``usually_lasts`` ("spreads on this route usually last ...", or on the
    route's market pair when the route has too few closed openings) as a sentence; ``None``
    when the API has too little history."""
    lasts = route.lifetime.usually_lasts if route.lifetime else None
    return f"{lasts[:1].upper()}{lasts[1:]}." if lasts else None


@dataclass(frozen=True, slots=True)
class WaterfallStep:
    """One bar of the profit waterfall: from ``start`` to ``end`` (EUR cents)."""

    order: int
    label: str
    kind: Literal["total", "cost", "result"]
    amount_eur_cents: int
    start_eur_cents: int
    end_eur_cents: int


#: Waterfall label of each breakdown line kind (app.domain.fees.LineKind).
LINE_LABELS: Final[Mapping[str, str]] = {
    "sales_vat": "VAT",
    "purchase_vat": "Purchase VAT",
    "referral": "Referral fee",
    "closing_fee": "Closing fee",
    "digital_services_fee": "Digital Services Fee",
    "fee_vat": "VAT on fees",
    "fba": "FBA fee",
    "efn": "EFN cross-border fee",
    "mfn_shipping": "Own shipping",
    "storage": "Storage",
    "inbound_shipping": "Inbound shipping",
    "customs": "Customs",
    "import_duty": "Import duty",
    "prep": "Prep",
    "fx_fee": "Currency conversion",
    "returns_allowance": "Returns allowance",
}


class PricedRoute(Protocol):
    """A route with a breakdown: an opportunity document's (:class:`OpportunityRoute`) or a
    what-if quote's (:class:`QuotedRoute`)."""

    @property
    def buy_market(self) -> Market: ...
    @property
    def sell_market(self) -> Market: ...
    @property
    def breakdown(self) -> Breakdown | None: ...
    @property
    def estimates(self) -> list[str]: ...


def waterfall_steps(route: PricedRoute) -> list[WaterfallStep]:
    """Gross sell price -> its VAT -> every cost line of the breakdown, in its order ->
    net purchase -> profit.

    Built from the route's breakdown lines, so the last bar is exactly
    ``net_sell - sum(cost lines) - net_buy`` = the route's profit (VAT the seller recovers
    is not a bar: see :func:`breakdown_notes`). Empty when the API sent no breakdown.
    """
    b = route.breakdown
    if b is None:
        return []
    sales_vat = sum(line.eur_cents for line in b.lines if line.kind == "sales_vat")
    gross_sell = b.net_sell_eur_cents + sales_vat
    costs: list[tuple[str, int]] = []
    if sales_vat:
        costs.append((f"VAT {route.sell_market.value}", sales_vat))
    costs += [
        (LINE_LABELS.get(line.kind, line.kind), line.eur_cents) for line in b.lines if line.is_cost
    ]
    costs.append((f"Purchase {route.buy_market.value} (net)", b.net_buy_eur_cents))
    steps = [WaterfallStep(0, "Sell price", "total", gross_sell, 0, gross_sell)]
    level = gross_sell
    for order, (label, cost) in enumerate(costs, start=1):
        steps.append(WaterfallStep(order, label, "cost", -cost, level, level - cost))
        level -= cost
    steps.append(WaterfallStep(len(costs) + 1, "Profit", "result", level, 0, level))
    return steps


def breakdown_notes(route: PricedRoute) -> list[str]:
    """What the waterfall does not show as a bar: VAT shown only (recovered purchase VAT,
    VAT on fees under the reverse charge) and what the figures rest on (estimates)."""
    b = route.breakdown
    if b is None:
        return []
    notes = [
        f"{LINE_LABELS.get(line.kind, line.kind)} {format_eur(line.eur_cents)}: not a cost "
        f"({line.note})."
        for line in b.lines
        if not line.is_cost and line.kind != "sales_vat"
    ]
    if route.estimates:
        notes.append("Estimated: " + ", ".join(route.estimates) + ".")
    return notes


def newest(items: Iterable[OpportunityRoute]) -> datetime | None:
    """The newest ``last_seen`` of the items (when the data last changed)."""
    return max((i.last_seen for i in items), default=None)


# --- "my costs": what-if pricing through POST /profit/quote --------------------------------

#: Fulfilment of a sell market (app.domain.profile.FulfilmentMode), in the panel's order.
FULFILMENT_MODES: Final[tuple[str, ...]] = ("local_fba", "efn", "mfn")
FULFILMENT_LABELS: Final[Mapping[str, str]] = {
    "local_fba": "Stock held there (local FBA fee)",
    "efn": "Shipped from the home market (FBA + EFN fee)",
    "mfn": "Merchant-fulfilled (own shipping)",
}


@dataclass(frozen=True, slots=True)
class MyCosts:
    """The values of the "my costs" panel for one route: what the seller may change."""

    vat_registered_in: tuple[Market, ...]
    fulfilment: str
    """How the sell market's orders are fulfilled: one of :data:`FULFILMENT_MODES`."""
    mfn_shipping_minor: int | None
    """Own shipping per unit, sell market's minor unit (merchant-fulfilled only)."""
    prep_eur_cents: int
    min_profit_eur_cents: int


def my_costs_in_force(profile: Mapping[str, Any], sell_market: Market) -> MyCosts:
    """The panel's values in the profile in force (``GET /profile``'s ``profile``)."""
    fulfilment = (profile.get("fulfilment") or {}).get(sell_market.value) or {}
    mode = str(fulfilment.get("mode") or "local_fba")
    shipping = fulfilment.get("mfn_shipping_minor")
    registered = [str(m) for m in profile.get("vat_registered_in") or []]
    return MyCosts(
        vat_registered_in=tuple(m for m in Market if m.value in registered),
        fulfilment=mode if mode in FULFILMENT_MODES else "local_fba",
        mfn_shipping_minor=int(shipping) if mode == "mfn" and shipping is not None else None,
        prep_eur_cents=int(profile.get("prep_eur_cents") or 0),
        min_profit_eur_cents=int((profile.get("thresholds") or {}).get("min_profit_eur_cents", 0)),
    )


def my_costs_overrides(costs: MyCosts, sell_market: Market) -> dict[str, Any]:
    """The profile override of ``POST /profit/quote`` for the panel's values (a partial
    profile: only these fields change, the rest stays as in force)."""
    fulfilment: dict[str, Any] = {"mode": costs.fulfilment}
    if costs.fulfilment == "mfn":
        fulfilment["mfn_shipping_minor"] = costs.mfn_shipping_minor or 0
    return {
        "vat_registered_in": [m.value for m in Market if m in costs.vat_registered_in],
        "fulfilment": {sell_market.value: fulfilment},
        "prep_eur_cents": costs.prep_eur_cents,
        "thresholds": {"min_profit_eur_cents": costs.min_profit_eur_cents},
    }


def profit_quote_body(asin: str, costs: MyCosts, sell_market: Market) -> dict[str, Any]:
    """The body of ``POST /profit/quote``: the ASIN's stored quotes with the panel's values."""
    return {"asin": asin, "profile": my_costs_overrides(costs, sell_market)}


def quoted_route_of(quote: ProfitQuote, route: str) -> QuotedRoute | str:
    """The quote's route ``BUY:SELL``, or why it has none (a sentence to show)."""
    for quoted in quote.routes:
        if quoted.route == route:
            return quoted
    for unpriced in quote.unpriced:
        if unpriced.route == route:
            return f"{route.replace(':', ' → ')} cannot be priced: {unpriced.detail}."
    return f"{route.replace(':', ' → ')} has no quote on both sides."


def _line_totals(route: PricedRoute) -> dict[str, int]:
    """EUR cents per line label: the cost lines (lines of one kind added up)."""
    totals: dict[str, int] = {}
    if route.breakdown is None:
        return totals
    for line in route.breakdown.lines:
        if line.is_cost:
            label = LINE_LABELS.get(line.kind, line.kind)
            totals[label] = totals.get(label, 0) + line.eur_cents
    return totals


def line_comparison(in_force: OpportunityRoute, what_if: QuotedRoute) -> list[dict[str, Any]]:
    """The cost lines and the profit side by side (euros, for display): ``line``,
    ``in_force_eur``, ``my_costs_eur`` (0 where the line is no cost on that side) and
    ``change_eur``; every cost line of either: the what-if breakdown's order, then the lines
    only the figures in force have."""
    before, after = _line_totals(in_force), _line_totals(what_if)
    labels = list(dict.fromkeys([*after, *before]))
    rows = [
        {
            "line": label,
            "in_force_eur": before.get(label, 0) / 100,
            "my_costs_eur": after.get(label, 0) / 100,
            "change_eur": (after.get(label, 0) - before.get(label, 0)) / 100,
        }
        for label in labels
    ]
    rows.append(
        {
            "line": "Profit",
            "in_force_eur": in_force.profit_eur_cents / 100,
            "my_costs_eur": what_if.profit_eur_cents / 100,
            "change_eur": (what_if.profit_eur_cents - in_force.profit_eur_cents) / 100,
        }
    )
    return rows
