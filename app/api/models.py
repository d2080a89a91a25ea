"""Response models of the REST API (what the OpenAPI schema documents and clients get).

Money is integer cents (``*_eur_cents``) or integer minor units of the named currency
(``*_minor``); ratios (``roi``, ``margin``, rates) are floats; times are UTC ISO-8601.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.domain.markets import Market

__all__ = [
    "Breakdown",
    "BreakdownLine",
    "ComponentHealth",
    "Counts",
    "ErrorResponse",
    "HealthResponse",
    "HistoryPoint",
    "KeepaUsage",
    "LifetimeFigures",
    "LifetimeStats",
    "MarketFreshness",
    "OpportunityDetail",
    "OpportunityPage",
    "OpportunityRoute",
    "PairLifetime",
    "PriceHistory",
    "ProductQuote",
    "ProductView",
    "ProfileView",
    "ProfitQuote",
    "QuotedRoute",
    "RouteLifetime",
    "SellSignals",
    "SignalCompetition",
    "SignalDemand",
    "SignalRestrictions",
    "SignalStability",
    "StatsResponse",
    "UnpricedRoute",
    "WatchlistItem",
    "WatchlistPage",
    "WatchlistWriteResult",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErrorResponse(_Model):
    """Body of every error response (4xx/5xx)."""

    detail: str


class BreakdownLine(_Model):
    """One line of the breakdown: a cost, or VAT shown only (``is_cost`` false)."""

    kind: str = Field(
        description=(
            "sales_vat, purchase_vat, referral, closing_fee, digital_services_fee, fee_vat, "
            "fba, efn, mfn_shipping, storage, inbound_shipping, customs, import_duty, prep, "
            "fx_fee, returns_allowance."
        )
    )
    amount_minor: int = Field(description="In the charging currency's minor unit.")
    currency: str
    eur_cents: int = Field(description="amount_minor converted once to EUR cents.")
    is_cost: bool = Field(description="Deducted from the profit; false: shown only.")
    note: str = ""


class Breakdown(_Model):
    """How the profit of a route comes about, EUR cents.

    profit = net_sell - sum(lines with is_cost) - net_buy, exactly; VAT the seller recovers
    (or that is in the sell price) is a line with is_cost false.
    """

    fees_on: date = Field(description="Date whose fee schedule figures were applied.")
    net_sell_eur_cents: int
    net_buy_eur_cents: int
    sell_vat_rate: float
    buy_vat_rate: float
    total_costs_eur_cents: int
    investment_eur_cents: int = Field(
        description="net buy + purchase VAT if a cost + inbound, customs, duty, prep."
    )
    lines: list[BreakdownLine]


class LifetimeFigures(_Model):
    """How long past spreads lasted (docs/signals.md, "Lifetime history"); event time."""

    episodes: int = Field(description="Openings seen: closed + still open.")
    closed: int
    still_open: int
    median_seconds: int | None = Field(
        None, description="Median lifetime of the closed episodes (nearest rank); null: none."
    )
    p90_seconds: int | None = Field(
        None, description="90th percentile lifetime of the closed episodes (nearest rank)."
    )
    reopened: int = Field(description="Closed episodes after which the route opened again.")
    reopen_rate: float | None = Field(None, description="reopened / closed (4 places).")
    surviving_24h: float | None = Field(
        None, description="Share still open 24 h after opening (Kaplan-Meier); null: unknown."
    )
    surviving_72h: float | None = Field(
        None, description="Share still open 72 h after opening (Kaplan-Meier); null: unknown."
    )


class RouteLifetime(_Model):
    """The lifetime history of a route of an ASIN and of its market pair."""

    route: LifetimeFigures = Field(description="This route of this ASIN (exact).")
    market_pair: LifetimeFigures = Field(
        description=(
            "Every ASIN on the route's market pair (nearest rank; beyond rank 10,000 within "
            "0.1 %, docs/signals.md)."
        ),
    )
    usually_lasts: str | None = Field(
        None,
        description=(
            "'spreads on this route usually last ...' from at least 3 closed episodes of the "
            "route, else 'spreads on DE:FR usually last ...' from the market pair; null: "
            "too few."
        ),
    )


class PairLifetime(LifetimeFigures):
    """The lifetime history of one market pair."""

    market_pair: str = Field(description="BUY:SELL, e.g. DE:FR.")


class LifetimeStats(_Model):
    """``GET /stats/lifetimes``: per market pair, how long spreads lasted."""

    until: datetime | None = Field(
        None, description="Newest event time of the opportunities index (null: no data)."
    )
    pairs: list[PairLifetime]
    generated_at: datetime


class OpportunityRoute(_Model):
    """One route (buy market -> sell market) of one ASIN, as last evaluated by the worker."""

    asin: str
    route: str = Field(description="BUY:SELL, e.g. DE:FR.")
    state: Literal["open", "closed"]
    last_event: str | None = Field(None, description="opened, updated or closed.")
    reason: str | None = Field(None, description="Why the route closed (closed routes only).")
    title: str | None = None
    image_url: str | None = None
    buy_market: Market
    sell_market: Market
    buy_url: str
    sell_url: str
    buy_currency: str
    sell_currency: str
    buy_price_minor: int = Field(description="Gross buy price in the buy market's minor unit.")
    sell_price_minor: int = Field(description="Gross sell price in the sell market's minor unit.")
    buy_price_eur_cents: int
    sell_price_eur_cents: int
    profit_eur_cents: int
    roi: float = Field(description="profit / investment (4 places).")
    margin: float = Field(description="profit / net sell (4 places).")
    breakdown: Breakdown | None = Field(
        None, description="Null for a document written before the fee breakdown existed."
    )
    fee_category: str | None = Field(None, description="Fee category (default when unmapped).")
    estimates: list[str] = Field(
        default_factory=list, description="What was estimated or is unverified."
    )
    failed_thresholds: list[str] = Field(
        default_factory=list, description="min_profit, min_roi, max_sales_rank (closed routes)."
    )
    profile_version: str | None = Field(None, description="Seller profile priced with.")
    fx_eur_per_gbp: float | None = None
    buy_observed_at: datetime | None = None
    sell_observed_at: datetime | None = None
    first_seen: datetime = Field(description="When the route opened (event time).")
    last_seen: datetime = Field(description="Event time of the latest evaluation.")
    closed_at: datetime | None = None
    age_seconds: int = Field(description="Seconds since first_seen (0 if in the future).")
    sales_rank: int | None = Field(None, description="Sales rank in the sell market.")
    category: int | None = Field(None, description="Keepa root category in the sell market.")
    amazon_sells_in_target: bool | None = Field(
        None,
        description=(
            "Amazon itself offers the product in the sell market (Keepa AMAZON price "
            "type current); null when unknown."
        ),
    )
    sell_signals: SellSignals | None = Field(
        None,
        description=(
            "Quality signals of the sell market as of the route's last event; null for a "
            "route last evaluated before signals existed."
        ),
    )
    expected_monthly_units: float | None = Field(
        None,
        description="Units a new seller can expect to sell a month: sales / (offers + 1).",
    )
    expected_monthly_profit_eur_cents: int | None = Field(
        None,
        description=(
            "profit_eur_cents x the expected monthly units; null when the sales estimate or "
            "the offer count is unknown."
        ),
    )
    open_for_seconds: int | None = Field(
        None, description="How long the route's last opening lasted (closed routes)."
    )
    lifetime: RouteLifetime | None = Field(
        None,
        description="Lifetime history of the route and its market pair (detail view only).",
    )


class SignalStability(_Model):
    """The sell price against its history (minor units of the sell market's currency)."""

    price_type: int | None = Field(
        None, description="Keepa price type of the sell price: 18 BUY_BOX_SHIPPING, 10 NEW_FBA."
    )
    current: int | None = Field(None, description="Current sell price.")
    avg30: int | None = Field(None, description="30-day average (Keepa stats.avg30).")
    avg90: int | None = Field(None, description="90-day average (Keepa stats.avg90).")
    low_90: int | None = Field(None, description="Lowest value of the last 90 days.")
    high_90: int | None = Field(None, description="Highest value of the last 90 days.")
    spike: bool | None = Field(
        None, description="Current price more than the spike share (20 %) above avg90."
    )


class SignalDemand(_Model):
    """How well the product sells in the sell market."""

    sales_rank: int | None = None
    rank_drops_30: int | None = Field(None, description="Keepa stats.salesRankDrops30.")
    rank_drops_90: int | None = Field(None, description="Keepa stats.salesRankDrops90.")
    monthly_sold: int | None = Field(None, description="Keepa monthlySold (bought past month).")
    estimated_monthly_sales: int | None = Field(
        None, description="Estimated units sold a month (docs/signals.md)."
    )
    estimate_method: str | None = Field(
        None, description="monthly_sold, sales_rank_drops_30 or sales_rank_drops_90."
    )


class SignalCompetition(_Model):
    """Who else sells the product new in the sell market."""

    new_offer_count: int | None = Field(None, description="New offers (Keepa COUNT_NEW).")
    amazon_sells: bool | None = None
    amazon_buy_box_share: float | None = Field(
        None, description="Share of the 90 days Amazon held the buy box, 0..1."
    )


class SignalRestrictions(_Model):
    """Flags that can keep a seller from selling the product."""

    hazardous_material: bool | None = None
    hazardous_aspects: list[str] = Field(default_factory=list)
    adult_product: bool | None = None
    heat_sensitive: bool | None = None


class SellSignals(_Model):
    """Quality signals of the product in the sell market (docs/signals.md); null = unknown."""

    market: Market
    stability: SignalStability
    demand: SignalDemand
    competition: SignalCompetition
    restrictions: SignalRestrictions


class OpportunityPage(_Model):
    """A page of ``GET /opportunities``."""

    total: int = Field(description="Matching items: ASINs with best_per_asin, else routes.")
    total_routes: int = Field(description="Matching routes (all of them, also when collapsed).")
    total_exact: bool = Field(
        description="False when the ASIN count is an estimate (more than 40,000 ASINs)."
    )
    page: int
    page_size: int
    pages: int
    best_per_asin: bool
    sort: str
    order: str
    items: list[OpportunityRoute]
    warnings: list[str] = Field(
        default_factory=list, description="Anything that makes the result incomplete."
    )
    generated_at: datetime


class OpportunityDetail(_Model):
    """Every route of one ASIN (open and closed) with the full breakdown."""

    asin: str
    title: str | None
    image_url: str | None
    open_routes: int
    routes: list[OpportunityRoute]
    generated_at: datetime


class ProductQuote(_Model):
    """The latest observation of one ASIN in one market."""

    market: Market
    currency: str
    title: str | None = None
    buy_price_minor: int | None = None
    sell_price_minor: int | None = None
    buy_price_eur_cents: int | None = None
    sell_price_eur_cents: int | None = None
    fx_eur_per_gbp: float | None = None
    prices: dict[str, int] = Field(
        default_factory=dict, description="Keepa price type -> minor units (current values)."
    )
    referral_fee_rate: float | None = None
    fba_fee_minor: int | None = None
    package_weight_g: int | None = None
    package_length_mm: int | None = None
    package_width_mm: int | None = None
    package_height_mm: int | None = None
    sales_rank: int | None = None
    category: int | None = Field(None, description="Keepa root category id.")
    image_url: str | None = None
    product_url: str | None = None
    amazon_in_stock: bool | None = None
    observed_at: datetime
    fetched_at: datetime | None = None
    indexed_at: datetime | None = None
    age_seconds: int = Field(description="Seconds since observed_at (0 if in the future).")


class ProductView(_Model):
    asin: str
    title: str | None
    image_url: str | None
    markets: list[ProductQuote]
    generated_at: datetime


class HistoryPoint(_Model):
    market: Market
    currency: str
    observed_at: datetime
    buy_price_minor: int | None = None
    sell_price_minor: int | None = None
    buy_price_eur_cents: int | None = None
    sell_price_eur_cents: int | None = None
    sales_rank: int | None = None
    prices: dict[str, int] = Field(default_factory=dict)


class PriceHistory(_Model):
    """Price points of one ASIN, oldest first (for charts)."""

    asin: str
    total: int = Field(description="Matching observations (may exceed the points returned).")
    truncated: bool = Field(description="True when only the newest `limit` points are returned.")
    points: list[HistoryPoint]


class WatchlistItem(_Model):
    asin: str
    markets: list[str]
    priority: int | None = None
    added_at: datetime | None = None
    updated_at: datetime | None = None
    source: str | None = None
    note: str | None = None


class WatchlistPage(_Model):
    total: int
    page: int
    page_size: int
    items: list[WatchlistItem]


class WatchlistWriteResult(_Model):
    created: list[str] = Field(description="ASINs added to the watchlist.")
    updated: list[str] = Field(description="ASINs already tracked whose entry changed.")
    unchanged: list[str] = Field(description="ASINs already tracked exactly like this.")


class ProfileView(_Model):
    """The seller profile in force (``GET /profile``), or the one just published
    (``PUT /profile``)."""

    profile: dict[str, Any] = Field(
        description="The complete profile (docs/pricing.md): money in EUR cents or the sell "
        "market's minor unit, rates as decimal strings, markets as codes."
    )
    version: str = Field(
        description="Fingerprint of the profile's content: changes when the profile changes."
    )
    published: bool = Field(
        description="False: no profile was published yet, the default is in force."
    )
    updated_at: datetime | None = Field(None, description="When it was published (UTC).")
    updated_by: str | None = Field(None, description="Who published it (free text).")


class QuotedRoute(_Model):
    """One route priced by ``POST /profit/quote``: the full breakdown, whether or not it is an
    opportunity (``failed_thresholds`` says why not)."""

    route: str = Field(description="BUY:SELL, e.g. DE:FR.")
    buy_market: Market
    sell_market: Market
    buy_currency: str
    sell_currency: str
    buy_price_minor: int = Field(description="Gross buy price in the buy market's minor unit.")
    sell_price_minor: int = Field(description="Gross sell price in the sell market's minor unit.")
    buy_price_eur_cents: int
    sell_price_eur_cents: int
    profit_eur_cents: int
    roi: float = Field(description="profit / investment (4 places; decided on the exact value).")
    margin: float = Field(description="profit / net sell (4 places).")
    is_opportunity: bool = Field(description="True when no threshold of the profile failed.")
    failed_thresholds: list[str] = Field(
        default_factory=list, description="min_profit, min_roi, max_sales_rank."
    )
    fee_category: str = Field(description="Fee category (default when unmapped).")
    estimates: list[str] = Field(
        default_factory=list, description="What was estimated or is unverified."
    )
    profile_version: str = Field(description="Version of the profile priced with.")
    fx_eur_per_gbp: float
    breakdown: Breakdown
    buy_observed_at: datetime
    sell_observed_at: datetime


class UnpricedRoute(_Model):
    """A route between two known markets that has no breakdown, and why."""

    route: str
    buy_market: Market
    sell_market: Market
    reason: Literal["no_buy_price", "no_sell_price", "stale_quote", "fee_schedule_gap"] = Field(
        description="no_buy_price / no_sell_price: the quote has no such price; stale_quote: "
        "a quote is more than STALE_AFTER_HOURS older than the newest (as the worker ignores "
        "it); fee_schedule_gap: the fee schedule has no figure the route needs (e.g. EFN "
        "across the UK-EU border)."
    )
    detail: str


class ProfitQuote(_Model):
    """Every route's breakdown for stored quotes or explicit offers (``POST /profit/quote``)."""

    asin: str | None = Field(description="The ASIN priced; null for explicit offers.")
    title: str | None = None
    source: Literal["stored_quotes", "offers"]
    profile: dict[str, Any] = Field(
        description="The profile priced with: the profile in force with the overrides applied."
    )
    profile_version: str = Field(description="Version of that profile.")
    profile_in_force_version: str = Field(description="Version of the profile in force.")
    overrides: dict[str, str] = Field(
        default_factory=dict, description="The overrides applied, as dotted keys."
    )
    fx_eur_per_gbp: float = Field(description="The EUR/GBP rate in force (fx.rates topic).")
    fx_as_of: datetime
    fees_on: date | None = Field(
        None, description="as_of's date when given (else each route's breakdown says)."
    )
    routes: list[QuotedRoute] = Field(description="Priced routes, in the fixed route order.")
    unpriced: list[UnpricedRoute] = Field(default_factory=list)
    generated_at: datetime


class Counts(_Model):
    open_opportunities: int
    opportunities: int = Field(description="All routes ever indexed (open and closed).")
    products: int = Field(description="(ASIN, market) pairs with a latest quote.")
    price_history: int
    watchlist: int


class MarketFreshness(_Model):
    market: str
    products: int
    newest_observed_at: datetime | None
    age_seconds: int | None = Field(description="Seconds since the newest observation.")


class KeepaUsage(_Model):
    available: bool = Field(description="False when no ingestion run has been recorded.")
    detail: str | None = None
    last_run_finished_at: datetime | None = None
    last_run_tokens_consumed: int | None = None
    tokens_left: int | None = None
    tokens_consumed_24h: int | None = None
    runs_24h: int | None = None


class StatsResponse(_Model):
    counts: Counts
    freshness: list[MarketFreshness]
    keepa: KeepaUsage
    generated_at: datetime


class ComponentHealth(_Model):
    ok: bool
    status: str = Field(description="green/yellow/red for Elasticsearch, up/down for Kafka.")
    detail: str | None = None
    latency_ms: float | None = None
    checked_at: datetime


class HealthResponse(_Model):
    status: Literal["ok", "unavailable"]
    components: dict[str, ComponentHealth]
    checked_at: datetime
