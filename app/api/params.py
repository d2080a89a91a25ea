"""Validated request parameters: query-string models, path parameters and request bodies.

FastAPI validates every request against these models before a handler runs, so a bad value
is a 422 naming the parameter and the rule it broke, never a 500. The models are plain
Pydantic (no I/O) and feed the pure query builders of :mod:`app.api.queries`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Final

from fastapi import Path
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.domain.asin import ASIN_PATTERN
from app.domain.markets import Market
from app.domain.watchlist import MAX_PRIORITY, normalise_markets

__all__ = [
    "MAX_ABS_RATIO",
    "MAX_CATEGORY",
    "MAX_MIN_PROFIT_EUR",
    "MAX_MONTHLY_SALES",
    "MAX_OFFERS",
    "MAX_OFFER_COUNT",
    "MAX_PROFILE_OVERRIDES",
    "MAX_QUERY_LENGTH",
    "MAX_QUOTE_BODY_BYTES",
    "MAX_RESULT_WINDOW",
    "AsinPath",
    "BuyOffer",
    "HistoryParams",
    "MarketList",
    "OpportunityFilters",
    "OpportunitySort",
    "PageParams",
    "ProfileUpdate",
    "ProfitQuoteRequest",
    "SellOffer",
    "SellerKind",
    "SortOrder",
    "WatchlistUpsert",
]

#: Elasticsearch's default ``index.max_result_window``: ``from + size`` may not exceed it.
MAX_RESULT_WINDOW: Final = 10_000
#: Most ASINs one ``POST /watchlist`` may add.
MAX_WATCHLIST_BATCH: Final = 1_000
#: Bounds of the opportunity filters (the dashboard keeps its URL filters within them).
MAX_MIN_PROFIT_EUR: Final = 1_000_000
MAX_ABS_RATIO: Final = 1_000
MAX_CATEGORY: Final = 2**62
MAX_QUERY_LENGTH: Final = 200
#: Bounds of the signal filters (estimated monthly unit sales, new offer count).
MAX_MONTHLY_SALES: Final = 100_000_000
MAX_OFFER_COUNT: Final = 100_000
#: ``POST /profit/quote``: most offers per side (one per market), most profile overrides
#: (leaves of the ``profile`` mapping) and the largest body accepted (413 beyond).
MAX_OFFERS: Final = len(Market)
MAX_PROFILE_OVERRIDES: Final = 64
MAX_QUOTE_BODY_BYTES: Final = 16_384
#: Bounds of an offer: 1,000,000.00 in the market's currency, 1 t, 10 m.
MAX_PRICE_MINOR: Final = 100_000_000
MAX_WEIGHT_G: Final = 1_000_000
MAX_DIMENSION_MM: Final = 10_000

AsinPath = Annotated[
    str,
    Path(
        pattern=ASIN_PATTERN,
        description="Amazon ASIN: 10 characters, upper-case A-Z and 0-9.",
        examples=["B0TESTAS1N"],
    ),
]

Asin = Annotated[str, StringConstraints(pattern=ASIN_PATTERN)]


def _split_markets(value: Any) -> Any:
    """``["DE,fr", "IT"]`` or ``"DE,FR"`` -> ``["DE", "FR", "IT"]`` (upper case, ``UK`` = GB,
    duplicates dropped, order kept); anything else is left for the enum to reject.

    A parameter given with no market in it (``?sell_market=`` or ``?sell_market=,``) is an
    error, not "no filter": leave the parameter out for that."""
    if value is None:
        return None
    items = value if isinstance(value, list | tuple) else [value]
    codes: list[Any] = []
    for item in items:
        parts = item.split(",") if isinstance(item, str) else [item]
        for part in parts:
            if isinstance(part, str):
                part = part.strip().upper()
                if not part:
                    continue
                part = "GB" if part == "UK" else part
            if part not in codes:
                codes.append(part)
    if not codes:
        raise ValueError(
            "no market code given: name at least one market or leave the parameter out"
        )
    return codes


#: One or more markets, repeatable (``?m=DE&m=FR``) or comma separated (``?m=DE,FR``).
MarketList = Annotated[list[Market] | None, BeforeValidator(_split_markets)]


def _to_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp is out of range once converted to UTC") from None


UtcDatetime = Annotated[AwareDatetime | None, AfterValidator(_to_utc)]

#: A ratio filter (ROI, margin): a finite fraction within +/- ``MAX_ABS_RATIO``.
Ratio = Annotated[float, Field(ge=-MAX_ABS_RATIO, le=MAX_ABS_RATIO, allow_inf_nan=False)]


class OpportunitySort(StrEnum):
    """``profit`` (EUR cents), ``roi``, ``margin``, ``newest`` (when the route opened) or
    ``expected_monthly_profit`` (EUR cents; routes where it is unknown come last)."""

    PROFIT = "profit"
    ROI = "roi"
    MARGIN = "margin"
    NEWEST = "newest"
    EXPECTED_MONTHLY_PROFIT = "expected_monthly_profit"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


class PageParams(BaseModel):
    """``page`` (1-based) and ``page_size``; ``page * page_size`` is capped by the result window."""

    model_config = ConfigDict(extra="forbid")

    page: int = Field(1, ge=1, le=MAX_RESULT_WINDOW, description="1-based page number.")
    page_size: int = Field(50, ge=1, le=200, description="Items per page (at most 200).")

    @model_validator(mode="after")
    def _within_result_window(self) -> PageParams:
        if self.page * self.page_size > MAX_RESULT_WINDOW:
            raise ValueError(
                f"page * page_size must be at most {MAX_RESULT_WINDOW} "
                f"(got {self.page} * {self.page_size}); narrow the filters instead"
            )
        return self

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


class OpportunityFilters(PageParams):
    """Query parameters of ``GET /opportunities``."""

    buy_market: MarketList = Field(
        None, description="Buy (source) market(s): repeat the parameter or separate by commas."
    )
    sell_market: MarketList = Field(
        None, description="Sell (target) market(s): repeat the parameter or separate by commas."
    )
    min_profit_eur: Decimal | None = Field(
        None,
        ge=0,
        le=MAX_MIN_PROFIT_EUR,
        decimal_places=2,
        allow_inf_nan=False,
        description="Minimum net profit in euros (at most 2 decimals), e.g. 7.50.",
    )
    min_roi: Ratio | None = Field(None, description="Minimum ROI, 0.15 = 15 %.")
    min_margin: Ratio | None = Field(None, description="Minimum margin, 0.1 = 10 %.")
    max_sales_rank: int | None = Field(
        None,
        ge=1,
        le=1_000_000_000,
        description="Best sellers rank in the target market at most this (rank 1 = best).",
    )
    category: int | None = Field(
        None,
        ge=0,
        le=MAX_CATEGORY,
        description="Keepa root category id of the product in the target market.",
    )
    exclude_amazon_seller: bool = Field(
        False, description="Leave out routes where Amazon itself sells in the target market."
    )
    exclude_spikes: bool = Field(
        False,
        description=(
            "Leave out routes whose sell price is a spike (more than the spike share, 20 %, "
            "above its 90-day average). Routes whose spike flag is unknown are kept."
        ),
    )
    min_monthly_sales: int | None = Field(
        None,
        ge=0,
        le=MAX_MONTHLY_SALES,
        description=(
            "Estimated monthly unit sales in the sell market at least this (docs/signals.md). "
            "Routes whose estimate is unknown are left out."
        ),
    )
    max_offers: int | None = Field(
        None,
        ge=0,
        le=MAX_OFFER_COUNT,
        description=(
            "New offers in the sell market at most this (Keepa COUNT_NEW). Routes whose "
            "offer count is unknown are left out."
        ),
    )
    q: str | None = Field(
        None,
        max_length=MAX_QUERY_LENGTH,
        description="Free-text search in the title (all words must match).",
    )
    sort: OpportunitySort = Field(OpportunitySort.PROFIT, description="Sort key.")
    order: SortOrder = Field(SortOrder.DESC, description="Sort direction.")
    best_per_asin: bool = Field(
        True,
        description=(
            "One route per ASIN (the route ranking first under the chosen sort and order) "
            "instead of every route."
        ),
    )

    @field_validator("q")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        if value is None:
            return None
        stripped = value.strip()
        return stripped or None

    @property
    def min_profit_eur_cents(self) -> int | None:
        """``min_profit_eur`` in integer cents (exact: at most two decimals are accepted)."""
        if self.min_profit_eur is None:
            return None
        return int((self.min_profit_eur * 100).to_integral_value())


class HistoryParams(BaseModel):
    """Query parameters of ``GET /products/{asin}/history``."""

    model_config = ConfigDict(extra="forbid")

    market: MarketList = Field(
        None, description="Only these market(s); repeat the parameter or separate by commas."
    )
    since: UtcDatetime = Field(
        None, description="Observations at or after this time (ISO-8601 with a time zone)."
    )
    until: UtcDatetime = Field(
        None, description="Observations at or before this time (ISO-8601 with a time zone)."
    )
    limit: int = Field(
        1_000,
        ge=1,
        le=MAX_RESULT_WINDOW,
        description="Most points returned: the newest ones, in ascending time order.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> HistoryParams:
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError("since must not be after until")
        return self


class WatchlistUpsert(BaseModel):
    """Body of ``POST /watchlist``: add ASINs, or update the markets/priority of tracked ones."""

    model_config = ConfigDict(extra="forbid")

    asins: list[Asin] = Field(
        min_length=1,
        max_length=MAX_WATCHLIST_BATCH,
        description="ASINs to track (10 characters, upper-case A-Z and 0-9).",
    )
    markets: list[Market] = Field(
        default_factory=lambda: list(Market),
        min_length=1,
        description="Markets to track them on (default: all five).",
    )
    priority: int = Field(
        0,
        ge=0,
        le=MAX_PRIORITY,
        description=f"Scheduling priority 0-{MAX_PRIORITY}: higher = refreshed more often.",
    )
    note: str | None = Field(None, max_length=1_000, description="A free note.")

    @field_validator("asins")
    @classmethod
    def _unique_asins(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @field_validator("markets")
    @classmethod
    def _canonical_markets(cls, value: list[Market]) -> list[Market]:
        """Without duplicates, in the canonical order (as the watchlist store keeps them)."""
        return [Market(code) for code in normalise_markets([m.value for m in value])]


class ProfileUpdate(BaseModel):
    """Body of ``PUT /profile``: the new profile, replacing the one in force."""

    model_config = ConfigDict(extra="forbid")

    profile: dict[str, Any] = Field(
        description="The profile's fields as `GET /profile` shows them (docs/pricing.md); a "
        "field left out takes the default profile's value."
    )
    updated_by: str = Field(
        "api", min_length=1, max_length=200, description="Who changes it (free text)."
    )


class SellerKind(StrEnum):
    """Who sells the offer bought: Amazon itself (always with a VAT invoice) or a third party
    (with one only when the profile's ``third_party_vat_invoice`` says so)."""

    AMAZON = "amazon"
    THIRD_PARTY = "third_party"


PriceMinor = Annotated[StrictInt, Field(ge=1, le=MAX_PRICE_MINOR)]
OptionalMinor = Annotated[StrictInt | None, Field(ge=0, le=MAX_PRICE_MINOR)]
OptionalDimension = Annotated[StrictInt | None, Field(ge=1, le=MAX_DIMENSION_MM)]


class _Offer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    market: Market
    price_minor: PriceMinor = Field(
        description="Gross price (VAT included) in the market's minor unit (cents, pence)."
    )
    root_category: StrictInt | None = Field(
        None, ge=0, le=MAX_CATEGORY, description="Keepa root category id in this market."
    )
    package_weight_g: StrictInt | None = Field(None, ge=1, le=MAX_WEIGHT_G)
    package_length_mm: OptionalDimension = None
    package_width_mm: OptionalDimension = None
    package_height_mm: OptionalDimension = None


class BuyOffer(_Offer):
    """Where and at what price the product is bought."""

    seller: SellerKind = Field(
        SellerKind.THIRD_PARTY, description="amazon (VAT invoice) or third_party."
    )


class SellOffer(_Offer):
    """Where and at what price the product is sold."""

    fba_fee_minor: OptionalMinor = Field(
        None, description="The FBA fee, sell market's minor unit (else the fee card's)."
    )
    referral_fee_rate: float | None = Field(
        None,
        ge=0,
        lt=1,
        allow_inf_nan=False,
        description="Referral fee as a fraction (0.15), else the schedule's for the category.",
    )
    sales_rank: StrictInt | None = Field(None, ge=1, le=1_000_000_000)


def _unique_markets(offers: list[Any] | None, side: str) -> None:
    if offers is None:
        return
    markets = [offer.market for offer in offers]
    if len(set(markets)) != len(markets):
        raise ValueError(f"{side}: at most one offer per market")


class ProfitQuoteRequest(BaseModel):
    """Body of ``POST /profit/quote``: an ASIN (its stored quotes) **or** explicit ``buy`` and
    ``sell`` offers; optionally a profile override and the date of the fee figures."""

    model_config = ConfigDict(extra="forbid")

    asin: Asin | None = Field(
        None, description="Price the routes of this ASIN's stored quotes (latest per market)."
    )
    buy: list[BuyOffer] | None = Field(
        None, min_length=1, max_length=MAX_OFFERS, description="Offers to buy (one per market)."
    )
    sell: list[SellOffer] | None = Field(
        None, min_length=1, max_length=MAX_OFFERS, description="Offers to sell (one per market)."
    )
    title: str | None = Field(None, max_length=300, description="A title for explicit offers.")
    profile: dict[str, Any] | None = Field(
        None,
        description=(
            "Changes to the seller profile in force, for this computation only (nothing is "
            'published): a partial profile, e.g. `{"vat_registered_in": ["DE"], "fulfilment": '
            '{"FR": {"mode": "mfn", "mfn_shipping_minor": 450}}}`, or dotted keys, e.g. '
            '`{"thresholds.min_roi": "0.2"}`; a list replaces the whole list; at most '
            f"{MAX_PROFILE_OVERRIDES} values. An invalid result is a 422 whose `loc` is the "
            "field's path."
        ),
    )
    as_of: UtcDatetime = Field(
        None,
        description="The date whose fee schedule figures apply. Default: the newer quote's "
        "observation date (an ASIN), the time of the request (explicit offers).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> ProfitQuoteRequest:
        offers = self.buy is not None or self.sell is not None
        if (self.asin is None) == (not offers):
            raise ValueError("give either an asin or buy and sell offers, not both")
        if offers and (self.buy is None or self.sell is None):
            raise ValueError("explicit offers need both buy and sell")
        if self.asin is not None and self.title is not None:
            raise ValueError("title goes with explicit offers (an ASIN's title is stored)")
        _unique_markets(self.buy, "buy")
        _unique_markets(self.sell, "sell")
        return self
