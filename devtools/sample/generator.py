"""Synthetic Keepa product stream for the five EU marketplaces.

Every product is a Keepa product object in Keepa's real JSON format (``csv`` histories in
Keepa minutes, ``stats.current`` / ``avg90`` arrays, ``fbaFees``, package dimensions, ...),
marked synthetic by a ``[SYNTHETIC] `` title prefix. Prices are integers of the market's
smallest currency unit: euro cents for DE/FR/IT/ES, pence for GB.

The price model, per ASIN:

* a base EUR price (gross, VAT included) from the product's category,
* per market a persistent offset (noise plus the local VAT rate) and a mean-reverting random
  walk that changes the price at random moments (a few times a day); for ordinary ASINs the
  offsets and walks are bounded so that cross-market spreads stay below 45%,
* for a configurable fraction of "opportunity" ASINs, a few non-overlapping episodes during
  which one market is priced ``ratio`` (1.45-1.8 by default) times another - a price spike
  in the sell market or a deal in the buy market - which open and close over the window.

Keepa's derived price types follow the true price with small per-market differences: NEW_FBA
a little above it, an Amazon offer (sometimes absent or out of stock), an FBM offer a little
below plus shipping, NEW = the lowest new offer without shipping, and the buy box (Amazon or
FBA). Everything is seeded per ASIN and purpose, so the same arguments always give
byte-identical output, whatever order ASINs are asked for in.

The fields the quality signals read (:mod:`app.domain.signals`, docs/signals.md) come from
their own seeded streams, so adding them left every price and rank above unchanged:

* the new-offer count history (csv ``COUNT_NEW``) and its ``stats`` entries: the offers the
  price model has (Amazon, FBA, FBM) plus a per-market number of other sellers that changes
  now and then;
* ``stats.salesRankDrops30`` / ``salesRankDrops90``: the drops of the csv sales rank history
  in the interval that "indicate a sale" - every drop while the rank is at most
  ``_ALL_DROPS_RANK``, a share ``_ALL_DROPS_RANK / rank`` of them above (a slow seller's rank
  also drifts without a sale);
* ``monthlySold`` (Amazon's "bought in past month", rounded down as Amazon shows it) for part
  of the listings only, from the listing's mean rank; absent on the others, as in Keepa;
* ``stats.minInInterval`` / ``maxInInterval`` (the ``stats_days`` low and high);
* ``stats.buyBoxStats`` on most listings (a client requesting buy box data): Amazon's
  time-weighted share of the buy box in the interval under its seller id, the rest under a
  third-party seller;
* ``isAdultProduct`` and ``isHeatSensitive`` on every product, ``hazardousMaterials`` on a
  few (absent on the others: Keepa sends it only "if applicable").

The sell-market price spikes of the opportunity episodes put the current sell price well above
its 90-day average, which the spike signal flags.
"""

from __future__ import annotations

import bisect
import math
import random
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.contracts.keepa_products import ENVELOPE, KeepaProductsEnvelope, make_envelope
from app.domain.keepa_prices import CSV_LENGTH, STATS_DAYS, PriceType
from app.domain.keepa_time import from_keepa_minutes, to_keepa_minutes
from app.domain.markets import MARKET_CODES, Market

SYNTHETIC_PREFIX = "[SYNTHETIC] "

TRACKED_TYPES: tuple[PriceType, ...] = (
    PriceType.AMAZON,
    PriceType.NEW,
    PriceType.SALES,
    PriceType.NEW_FBM_SHIPPING,
    PriceType.NEW_FBA,
    PriceType.COUNT_NEW,
    PriceType.BUY_BOX_SHIPPING,
)
"""The csv histories the generator fills; all others are ``null`` as in sparse real data."""

_NOT_PRICES = frozenset((PriceType.SALES, PriceType.COUNT_NEW))
"""Tracked histories that are not prices (``lastPriceChange`` ignores them)."""

_ALL_DROPS_RANK = 10_000
"""Up to this sales rank every drop of the rank counts as a sale (see the module doc)."""

_MONTHLY_SOLD_MIN = 50
"""Amazon shows "bought in past month" from 50 units on."""

_MINUTES_PER_DAY = 1440


@dataclass(frozen=True, slots=True)
class SampleConfig:
    """Knobs of the synthetic market. Defaults give ~15% opportunity ASINs."""

    opportunity_fraction: float = 0.15
    """Share of ASINs that get profitable cross-market spread episodes."""
    spread_ratio: tuple[float, float] = (1.45, 1.8)
    """Sell-market / buy-market price ratio during an episode (uniform)."""
    episodes_per_asin: tuple[int, int] = (1, 3)
    """How many episodes an opportunity ASIN has in the window (inclusive range)."""
    episode_share: tuple[float, float] = (0.08, 0.3)
    """Episode duration as a share of the window (uniform), at least ``min_episode_minutes``."""
    history_days: int = 30
    """Simulated history before ``start``: the csv histories begin this long before it."""
    changes_per_day: tuple[float, float] = (0.5, 4.0)
    """Price changes per day of one ASIN in one market (log-uniform per ASIN and market)."""
    volatility: float = 0.035
    """Stationary standard deviation of the log-price random walk."""
    max_walk: float = 0.07
    """The random walk is clipped to +/- this (log price)."""
    reversion_days: float = 3.0
    """Mean-reversion time of the random walk."""
    market_offset_std: float = 0.03
    max_market_offset: float = 0.05
    """With ``max_walk`` and the VAT differences this bounds an ordinary ASIN's spread:
    exp(2 x (0.05 + 0.07) + ln(1.22 / 1.19)) ~ 1.30 for the true price, < 1.45 for any
    Keepa price type."""
    fx_gbp_eur: float = 1.17
    """EUR per GBP used to price GB."""
    amazon_offer_rate: float = 0.6
    """Chance that Amazon itself sells the ASIN in a market."""
    fbm_offer_rate: float = 0.8
    missing_fba_fees_rate: float = 0.1
    """Chance that a product has no ``fbaFees`` (Keepa: not collected yet)."""
    missing_referral_fee_rate: float = 0.1
    """Chance that a product has no ``referralFeePercentage``."""
    monthly_sold_rate: float = 0.4
    """Chance that a listing selling at least 50 units a month has ``monthlySold``."""
    buy_box_stats_rate: float = 0.7
    """Chance that a listing has ``stats.buyBoxStats``."""
    hazardous_rate: float = 0.05
    adult_rate: float = 0.03
    heat_sensitive_rate: float = 0.05
    """Chances of the restriction flags, per ASIN."""
    stats_days: int = STATS_DAYS
    """Interval of ``stats.avg`` (like the /product ``stats`` parameter)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.opportunity_fraction <= 1.0:
            raise ValueError("opportunity_fraction must be within [0, 1]")
        low, high = self.spread_ratio
        if not 1.0 < low <= high:
            raise ValueError("spread_ratio must satisfy 1 < low <= high")
        if not 1 <= self.episodes_per_asin[0] <= self.episodes_per_asin[1]:
            raise ValueError("episodes_per_asin must satisfy 1 <= low <= high")
        if self.history_days < 1 or self.stats_days < 1:
            raise ValueError("history_days and stats_days must be positive")


@dataclass(frozen=True, slots=True)
class Episode:
    """A window in which ``sell_market`` is ``ratio`` times as expensive as ``buy_market``."""

    buy_market: str
    sell_market: str
    opens_at: datetime
    closes_at: datetime
    ratio: float
    kind: str
    """``"spike"``: the sell market's price rises; ``"drop"``: the buy market's falls."""


@dataclass(frozen=True, slots=True)
class _Category:
    key: str
    name: str
    sub_name: str
    product_group: str
    root_ids: dict[str, int]
    items: tuple[str, ...]
    price_eur: tuple[float, float]
    weight_g: tuple[int, int]
    referral_pct: float


def _ids(base: int) -> dict[str, int]:
    # Synthetic, stable category node ids per market.
    return {m: base + 1_000_003 * i for i, m in enumerate(MARKET_CODES)}


_CATEGORIES: tuple[_Category, ...] = (
    _Category(
        "kitchen",
        "Home & Kitchen",
        "Cookware",
        "Kitchen",
        _ids(3_167_641),
        (
            "Cast Iron Casserole 28 cm",
            "Chef's Knife 20 cm",
            "Electric Kettle 1.7 L",
            "Burr Coffee Grinder",
            "Non-Stick Frying Pan 24 cm",
            "Silicone Baking Mat Set",
        ),
        (15.0, 120.0),
        (300, 6500),
        15.0,
    ),
    _Category(
        "toys",
        "Toys & Games",
        "Building Sets",
        "Toy",
        _ids(12_950_651),
        (
            "Building Blocks Set 520 Pieces",
            "Wooden Marble Run",
            "Remote Control Off-Road Car",
            "Magnetic Tiles 60 Pieces",
            "Family Board Game",
        ),
        (12.0, 90.0),
        (250, 2500),
        15.0,
    ),
    _Category(
        "electronics",
        "Electronics & Photo",
        "Chargers",
        "Electronics",
        _ids(562_066),
        (
            "USB-C Charger 65 W GaN",
            "Power Bank 20000 mAh",
            "Bluetooth Over-Ear Headphones",
            "Wireless Ergonomic Mouse",
            "HDMI 2.1 Cable 2 m",
        ),
        (10.0, 150.0),
        (80, 900),
        7.0,
    ),
    _Category(
        "sports",
        "Sports & Outdoors",
        "Fitness Equipment",
        "Sports",
        _ids(16_435_051),
        (
            "Yoga Mat 6 mm",
            "Adjustable Dumbbells 2 x 10 kg",
            "Resistance Bands Set of 5",
            "Foam Roller 45 cm",
            "Insulated Water Bottle 1 L",
        ),
        (12.0, 110.0),
        (200, 9000),
        15.0,
    ),
    _Category(
        "diy",
        "DIY & Tools",
        "Power Tools",
        "Home Improvement",
        _ids(80_084_031),
        (
            "Cordless Drill Driver 18 V",
            "Screwdriver Bit Set 32 Pieces",
            "Cross Line Laser Level",
            "Digital Stud Finder",
            "Precision Tool Kit 60 Pieces",
        ),
        (15.0, 160.0),
        (150, 3500),
        12.0,
    ),
    _Category(
        "beauty",
        "Beauty",
        "Hair Care",
        "Beauty",
        _ids(64_187_031),
        (
            "Ionic Hair Dryer 2200 W",
            "Sonic Electric Toothbrush",
            "Ceramic Hair Straightener",
            "Facial Cleansing Brush",
        ),
        (15.0, 90.0),
        (150, 1200),
        15.0,
    ),
)

_BRANDS = (
    "Nordvik",
    "Kaltenberg",
    "Lumio",
    "Vantrix",
    "Ostara",
    "Brixa",
    "Feldhaus",
    "Astrel",
    "Kovo",
    "Pelvo",
    "Maresol",
    "Tiberon",
)
_VARIANTS = ("Black", "Grey", "Blue", "Red", "White", "Green", "Anthracite", "Silver")
_FBM_SHIPPING = (0, 0, 299, 349, 399, 499)
_ASIN_ALPHABET = string.ascii_uppercase + string.digits
_IMAGE_ALPHABET = string.ascii_letters + string.digits


# --- small helpers ---------------------------------------------------------------------


def _seeded(key: str) -> random.Random:
    """An independent, reproducible stream (str seeds are hashed with SHA-512)."""
    return random.Random(key)  # noqa: S311 - synthetic data, not cryptography


def _charm(value: float) -> int:
    """A price in the smallest currency unit ending in 9 (x.x9), at least 0.99."""
    return max(99, round(value / 10.0) * 10 - 1)


def _clip(value: float, bound: float) -> float:
    return max(-bound, min(bound, value))


def _value_at(times: list[int], values: list[float], minute: int) -> float:
    return values[bisect.bisect_right(times, minute) - 1]


def _aware(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@dataclass(slots=True)
class _History:
    """One csv history in Keepa's flat layout, recording only changes.

    Keeps running integrals of value x minutes (over available periods only) so that
    time-weighted averages over any interval cost two bisections.
    """

    stride: int
    times: list[int] = field(default_factory=list)
    data: list[int] = field(default_factory=list)
    _area: list[int] = field(default_factory=list)
    _available: list[int] = field(default_factory=list)

    def add(self, minute: int, value: int, shipping: int = 0) -> None:
        if self.data:
            if self.stride == 2 and self.data[-1] == value:
                return
            if self.stride == 3 and self.data[-2] == value and self.data[-1] == shipping:
                return
            area, available = self._integral_at(len(self.times) - 1, minute)
        else:
            area, available = 0, 0
        self.times.append(minute)
        self.data.append(minute)
        self.data.append(value)
        if self.stride == 3:
            self.data.append(shipping)
        self._area.append(area)
        self._available.append(available)

    def upto(self, minute: int) -> int:
        """Number of points at or before ``minute``."""
        return bisect.bisect_right(self.times, minute)

    def value(self, index: int) -> int:
        """The stats value of point ``index``: price (+ shipping), -1 when unavailable."""
        base = index * self.stride
        price = self.data[base + 1]
        if self.stride == 3 and price >= 0:
            return price + self.data[base + 2]
        return price

    def extremes(self, count: int, start: int) -> tuple[list[int], list[int]] | None:
        """``[keepaMinute, value]`` of the lowest and of the highest available value from
        ``start`` to point ``count - 1`` (the value in effect at ``start`` counts, at
        ``start``); ``None`` if there is none."""
        first = max(0, bisect.bisect_right(self.times, start, 0, count) - 1)
        low: list[int] | None = None
        high: list[int] | None = None
        for index in range(first, count):
            value = self.value(index)
            if value < 0:
                continue
            minute = max(self.times[index], start)
            if low is None or value < low[1]:
                low = [minute, value]
            if high is None or value > high[1]:
                high = [minute, value]
        return None if low is None or high is None else (low, high)

    def _integral_at(self, index: int, minute: int) -> tuple[int, int]:
        """(value x minutes, available minutes) from the first point to ``minute``."""
        elapsed = minute - self.times[index]
        value = self.value(index)
        if value < 0:
            return self._area[index], self._available[index]
        return self._area[index] + value * elapsed, self._available[index] + elapsed

    def _integral(self, minute: int) -> tuple[int, int]:
        index = bisect.bisect_right(self.times, minute) - 1
        return (0, 0) if index < 0 else self._integral_at(index, minute)

    def average(self, count: int, start: int, end: int) -> int:
        """Time-weighted mean over ``[start, end]`` of the available periods, -1 if none.

        ``end`` must not be before point ``count - 1`` nor after point ``count``.
        """
        if count == 0:
            return -1
        area_end, available_end = self._integral_at(count - 1, end)
        area_start, available_start = self._integral(start)
        weight = available_end - available_start
        if weight <= 0:
            last = self.value(count - 1)
            return last if last >= 0 else -1
        return round((area_end - area_start) / weight)


@dataclass(slots=True)
class _Listing:
    """Static facts of one ASIN in one market plus its csv histories."""

    market: str
    root_id: int
    sub_id: int
    fba_fee: int | None
    referral_pct: float | None
    histories: dict[PriceType, _History]
    sub_rank: _History
    sale_drops: list[int]
    """Keepa minutes of the sales rank drops that indicate a sale."""
    monthly_sold: int | None
    buy_box_amazon: _History | None
    """Amazon holds the buy box (10,000) or not (0), when the listing has ``buyBoxStats``."""
    buy_box_seller: str
    """Seller id of the third-party buy box winner."""


@dataclass(slots=True)
class _Item:
    index: int
    asin: str
    title: str
    brand: str
    category: _Category
    base_eur_cents: float
    weight_g: int
    dims_mm: tuple[int, int, int]
    """Package length, width, height in millimetres."""
    images_csv: str
    opportunity: bool
    hazardous: bool = False
    adult: bool = False
    heat_sensitive: bool = False
    episodes: tuple[Episode, ...] = ()
    true_paths: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)
    """Per market: change minutes and true gross price in EUR cents."""
    listings: dict[str, _Listing] = field(default_factory=dict)


class MarketSimulator:
    """The "true" price paths of N ASINs in the five markets, and Keepa's view of them.

    ``envelope_at(asin, market, t)`` is what fetching the ASIN from Keepa at ``t`` would
    return, so a scheduling simulation can "fetch" any ASIN at any time in
    ``[start - history_days, end]``. ``episodes`` and ``true_price_eur`` are the ground
    truth to score such a simulation against.
    """

    def __init__(
        self,
        n_asins: int,
        *,
        seed: int,
        start: datetime,
        end: datetime,
        config: SampleConfig | None = None,
        min_episode_minutes: int = 60,
    ) -> None:
        if n_asins < 0:
            raise ValueError("n_asins must not be negative")
        self.seed = seed
        self.config = config or SampleConfig()
        self.start = _aware(start)
        self.end = _aware(end)
        if self.end < self.start:
            raise ValueError("end is before start")
        self.markets: tuple[str, ...] = MARKET_CODES
        self.min_episode_minutes = max(1, min_episode_minutes)
        self._start_min = to_keepa_minutes(self.start)
        self._end_min = to_keepa_minutes(self.end)
        self._history_min = self._start_min - self.config.history_days * _MINUTES_PER_DAY
        self.asins: tuple[str, ...] = self._make_asins(n_asins)
        self._index = {asin: i for i, asin in enumerate(self.asins)}
        self._items: dict[str, _Item] = {}

    # --- public ----------------------------------------------------------------------

    @property
    def opportunity_asins(self) -> frozenset[str]:
        """ASINs that have spread episodes."""
        return frozenset(a for a in self.asins if self._item(a).opportunity)

    def episodes(self, asin: str) -> tuple[Episode, ...]:
        """The spread episodes of an ASIN, in time order (empty for ordinary ASINs)."""
        return self._item(asin).episodes

    def price_path(self, asin: str, market: str) -> list[tuple[datetime, float]]:
        """Change points of the true gross price in EUR cents (GB converted at the fx rate)."""
        times, values = self._item(asin).true_paths[market]
        return [(from_keepa_minutes(t), v) for t, v in zip(times, values, strict=True)]

    def true_price_eur(self, asin: str, market: str, t: datetime) -> float:
        """The true gross price in EUR cents at ``t``."""
        times, values = self._item(asin).true_paths[market]
        return _value_at(times, values, self._minute(t))

    def true_price(self, asin: str, market: str, t: datetime) -> int:
        """The true gross price at ``t`` in the market's currency (cents or pence)."""
        return _charm(self._to_local(self.true_price_eur(asin, market, t), market))

    def spread(self, asin: str, t: datetime) -> float:
        """Highest / lowest true EUR price across the markets at ``t`` (1.5 = 50%)."""
        prices = [self.true_price_eur(asin, m, t) for m in self.markets]
        return max(prices) / min(prices)

    def envelope_at(self, asin: str, market: str, t: datetime) -> KeepaProductsEnvelope:
        """The ``keepa.products`` message of fetching ``asin`` in ``market`` from Keepa at
        ``t``."""
        when = _aware(t)
        return make_envelope(market, self.product_at(asin, market, when), when)

    def product_at(self, asin: str, market: str, t: datetime) -> dict[str, Any]:
        """Keepa's product object for ``asin`` in ``market`` as of ``t``."""
        item = self._item(asin)
        if market not in item.listings:
            raise ValueError(f"unknown market {market!r}")
        listing = item.listings[market]
        now = self._minute(t)
        csv: list[list[int] | None] = [None] * CSV_LENGTH
        current = [-1] * CSV_LENGTH
        avg = [-1] * CSV_LENGTH
        avg30 = [-1] * CSV_LENGTH
        avg90 = [-1] * CSV_LENGTH
        low: list[list[int] | None] = [None] * CSV_LENGTH
        high: list[list[int] | None] = [None] * CSV_LENGTH
        stats_start = now - self.config.stats_days * _MINUTES_PER_DAY
        last_change = self._history_min
        for csv_type, history in listing.histories.items():
            count = history.upto(now)
            if count == 0:
                continue
            csv[csv_type] = history.data[: count * history.stride]
            current[csv_type] = history.value(count - 1)
            avg[csv_type] = history.average(
                count, now - self.config.stats_days * _MINUTES_PER_DAY, now
            )
            avg30[csv_type] = history.average(count, now - 30 * _MINUTES_PER_DAY, now)
            avg90[csv_type] = history.average(count, now - 90 * _MINUTES_PER_DAY, now)
            extremes = history.extremes(count, stats_start)
            if extremes is not None:
                low[csv_type], high[csv_type] = extremes
            if csv_type not in _NOT_PRICES:
                last_change = max(last_change, history.times[count - 1])
        sub_count = listing.sub_rank.upto(now)
        length, width, height = item.dims_mm
        product: dict[str, Any] = {
            "csv": csv,
            "categories": [listing.sub_id],
            "imagesCSV": item.images_csv,
            "manufacturer": f"{item.brand} GmbH",
            "title": item.title,
            "lastUpdate": now,
            "lastPriceChange": last_change,
            "rootCategory": listing.root_id,
            "productType": 0,
            "asin": item.asin,
            "domainId": Market(market).keepa_domain_id,
            "trackingSince": self._history_min,
            "brand": item.brand,
            "productGroup": item.category.product_group,
            "packageHeight": height,
            "packageLength": length,
            "packageWidth": width,
            "packageWeight": item.weight_g,
            "packageQuantity": 1,
            "availabilityAmazon": 0 if current[PriceType.AMAZON] > 0 else -1,
            "listedSince": self._history_min - 200 * _MINUTES_PER_DAY,
            "isAdultProduct": item.adult,
            "isHeatSensitive": item.heat_sensitive,
        }
        if item.hazardous:
            product["hazardousMaterials"] = [{"aspect": "UN number", "value": "UN3481"}]
        if listing.monthly_sold is not None:
            product["monthlySold"] = listing.monthly_sold
        if listing.fba_fee is not None:
            product["fbaFees"] = {
                "lastUpdate": self._history_min,
                "pickAndPackFee": listing.fba_fee,
            }
        product["salesRankReference"] = listing.root_id
        product["salesRanks"] = {
            str(listing.sub_id): listing.sub_rank.data[: sub_count * listing.sub_rank.stride]
        }
        if listing.referral_pct is not None:
            product["referralFeePercent"] = int(listing.referral_pct)
            product["referralFeePercentage"] = listing.referral_pct
        product["categoryTree"] = [
            {"catId": listing.root_id, "name": item.category.name},
            {"catId": listing.sub_id, "name": item.category.sub_name},
        ]
        stats: dict[str, Any] = {
            "current": current,
            "avg": avg,
            "avg30": avg30,
            "avg90": avg90,
            "minInInterval": low,
            "maxInInterval": high,
            "salesRankDrops30": _count_since(listing.sale_drops, now, 30),
            "salesRankDrops90": _count_since(listing.sale_drops, now, 90),
        }
        if listing.buy_box_amazon is not None:
            stats["buyBoxStats"] = _buy_box_stats(
                listing.buy_box_amazon, listing.buy_box_seller, market, stats_start, now
            )
        product["stats"] = stats
        return product

    # --- construction ----------------------------------------------------------------

    def _rng(self, index: int, purpose: str) -> random.Random:
        return _seeded(f"{self.seed}:{index}:{purpose}")

    def _make_asins(self, n: int) -> tuple[str, ...]:
        rng = _seeded(f"{self.seed}:asins")
        seen: dict[str, None] = {}
        while len(seen) < n:
            seen.setdefault("B0" + "".join(rng.choices(_ASIN_ALPHABET, k=8)))
        return tuple(seen)

    def _minute(self, t: datetime) -> int:
        minute = to_keepa_minutes(_aware(t))
        if not self._history_min <= minute <= self._end_min:
            raise ValueError(
                f"{t.isoformat()} is outside the simulated span "
                f"{from_keepa_minutes(self._history_min).isoformat()} .. {self.end.isoformat()}"
            )
        return minute

    def _to_local(self, eur_cents: float, market: str) -> float:
        return eur_cents / self.config.fx_gbp_eur if market == "GB" else eur_cents

    def _item(self, asin: str) -> _Item:
        item = self._items.get(asin)
        if item is None:
            if asin not in self._index:
                raise ValueError(f"unknown ASIN {asin!r}")
            item = self._build_item(self._index[asin], asin)
            self._items[asin] = item
        return item

    def _build_item(self, index: int, asin: str) -> _Item:
        cfg = self.config
        rng = self._rng(index, "item")
        category = rng.choice(_CATEGORIES)
        brand = rng.choice(_BRANDS)
        noun = rng.choice(category.items)
        variant = rng.choice(_VARIANTS)
        low, high = category.price_eur
        base = math.exp(rng.uniform(math.log(low), math.log(high))) * 100.0
        weight = int(
            math.exp(rng.uniform(math.log(category.weight_g[0]), math.log(category.weight_g[1])))
        )
        side_mm = (weight / 0.25) ** (1 / 3) * 10  # cube of a ~0.25 g/cm3 parcel
        length, width, height = sorted(
            (
                max(20, int(side_mm * rng.uniform(1.2, 1.8))),
                max(20, int(side_mm * rng.uniform(0.8, 1.1))),
                max(15, int(side_mm * rng.uniform(0.4, 0.8))),
            ),
            reverse=True,
        )
        images = ",".join(
            rng.choice(("61", "71", "81", "51", "41"))
            + "".join(rng.choices(_IMAGE_ALPHABET, k=9))
            + "L.jpg"
            for _ in range(rng.randint(2, 5))
        )
        item = _Item(
            index=index,
            asin=asin,
            title=f"{SYNTHETIC_PREFIX}{brand} {noun}, {variant}",
            brand=brand,
            category=category,
            base_eur_cents=base,
            weight_g=weight,
            dims_mm=(length, width, height),
            images_csv=images,
            opportunity=rng.random() < cfg.opportunity_fraction,
        )
        flags = self._rng(index, "flags")  # its own stream: the draws above stay as they were
        item.hazardous = flags.random() < cfg.hazardous_rate
        item.adult = flags.random() < cfg.adult_rate
        item.heat_sensitive = flags.random() < cfg.heat_sensitive_rate
        originals = {m: self._walk(index, m, base) for m in self.markets}
        paths = dict(originals)
        if item.opportunity:
            item.episodes = self._episodes(index)
            for episode in item.episodes:
                paths = self._overlay(index, episode, originals, paths)
        item.true_paths = paths
        item.listings = {m: self._listing(item, m) for m in self.markets}
        return item

    def _walk(self, index: int, market: str, base: float) -> tuple[list[int], list[float]]:
        """Change minutes and true EUR prices: persistent offset + mean-reverting walk."""
        cfg = self.config
        rng = self._rng(index, f"walk:{market}")
        offset = _clip(rng.gauss(0.0, cfg.market_offset_std), cfg.max_market_offset)
        offset += math.log((1 + float(Market(market).vat_rate)) / 1.20)  # gross prices carry VAT
        low, high = cfg.changes_per_day
        per_day = math.exp(rng.uniform(math.log(low), math.log(high)))
        mean_gap = _MINUTES_PER_DAY / per_day
        x = _clip(rng.gauss(0.0, cfg.volatility), cfg.max_walk)
        minute = self._history_min
        times = [minute]
        values = [base * math.exp(offset + x)]
        clock = float(minute)
        while True:
            gap = rng.expovariate(1.0 / mean_gap)
            clock += gap
            next_minute = int(clock)
            if next_minute > self._end_min:
                break
            if next_minute <= times[-1]:
                continue
            decay = math.exp(-gap / (cfg.reversion_days * _MINUTES_PER_DAY))
            shock = rng.gauss(0.0, 1.0) * cfg.volatility * math.sqrt(1 - decay * decay)
            x = _clip(decay * x + shock, cfg.max_walk)
            times.append(next_minute)
            values.append(base * math.exp(offset + x))
        return times, values

    def _episodes(self, index: int) -> tuple[Episode, ...]:
        cfg = self.config
        rng = self._rng(index, "episodes")
        window = self._end_min - self._start_min
        if window <= 0:
            return ()
        count = rng.randint(*cfg.episodes_per_asin)
        segment = window / count
        episodes = []
        for j in range(count):
            duration = max(rng.uniform(*cfg.episode_share) * window, self.min_episode_minutes)
            duration = min(duration, segment)
            opens = self._start_min + j * segment + rng.uniform(0.0, segment - duration)
            buy, sell = rng.sample(self.markets, 2)
            ratio = round(rng.uniform(*cfg.spread_ratio), 3)
            kind = rng.choice(("spike", "drop"))
            open_min = math.ceil(opens)
            close_min = max(open_min + 1, int(opens + duration))
            episodes.append(
                Episode(
                    buy_market=buy,
                    sell_market=sell,
                    opens_at=from_keepa_minutes(open_min),
                    closes_at=from_keepa_minutes(close_min),
                    ratio=ratio,
                    kind=kind,
                )
            )
        return tuple(episodes)

    def _overlay(
        self,
        index: int,
        episode: Episode,
        originals: dict[str, tuple[list[int], list[float]]],
        paths: dict[str, tuple[list[int], list[float]]],
    ) -> dict[str, tuple[list[int], list[float]]]:
        """Replace the target market's path inside the episode by reference x factor."""
        if episode.kind == "spike":
            target, reference, factor = episode.sell_market, episode.buy_market, episode.ratio
        else:
            target, reference, factor = episode.buy_market, episode.sell_market, 1 / episode.ratio
        rng = self._rng(index, f"overlay:{to_keepa_minutes(episode.opens_at)}")
        open_min = to_keepa_minutes(episode.opens_at)
        close_min = to_keepa_minutes(episode.closes_at)
        own_t, own_v = paths[target]
        ref_t, ref_v = originals[reference]
        times = [t for t in own_t if t < open_min]
        values = own_v[: len(times)]
        during = [open_min] + [t for t in ref_t if open_min < t < close_min]
        for t in during:
            times.append(t)
            values.append(_value_at(ref_t, ref_v, t) * factor * (1 + rng.uniform(-0.01, 0.01)))
        times.append(close_min)
        values.append(_value_at(own_t, own_v, close_min))
        for t, v in zip(own_t, own_v, strict=True):
            if t > close_min:
                times.append(t)
                values.append(v)
        return {**paths, target: (times, values)}

    def _listing(self, item: _Item, market: str) -> _Listing:
        """Keepa's csv histories of one market, derived from the true path."""
        cfg = self.config
        rng = self._rng(item.index, f"listing:{market}")
        fba_premium = rng.uniform(0.0, 0.04)
        has_amazon = rng.random() < cfg.amazon_offer_rate
        amazon_premium = rng.uniform(0.0, 0.03)
        has_fbm = rng.random() < cfg.fbm_offer_rate
        fbm_discount = rng.uniform(0.0, 0.04)
        fbm_shipping = rng.choice(_FBM_SHIPPING)
        fba_fee = None if rng.random() < cfg.missing_fba_fees_rate else self._fba_fee(item, market)
        referral = (
            None if rng.random() < cfg.missing_referral_fee_rate else item.category.referral_pct
        )
        histories = {t: _History(t.stride) for t in TRACKED_TYPES if t not in _NOT_PRICES}
        amazon_holds: list[tuple[int, int]] = []
        amazon_in_stock = True
        times, values = item.true_paths[market]
        for minute, eur in zip(times, values, strict=True):
            local = self._to_local(eur, market)
            fba = _charm(local * (1 + fba_premium + rng.uniform(-0.005, 0.005)))
            if has_amazon and rng.random() < 0.06:
                amazon_in_stock = not amazon_in_stock
            amazon = _charm(local * (1 + amazon_premium)) if has_amazon and amazon_in_stock else -1
            fbm = _charm(local * (1 - fbm_discount + rng.uniform(-0.005, 0.005))) if has_fbm else -1
            new = min(p for p in (amazon, fba, fbm) if p > 0)
            buybox = amazon if 0 < amazon <= fba * 1.02 else fba
            amazon_holds.append((minute, 10_000 if buybox == amazon else 0))
            if has_amazon:  # Keepa leaves the history null if Amazon never offered it
                histories[PriceType.AMAZON].add(minute, amazon)
            histories[PriceType.NEW].add(minute, new)
            histories[PriceType.NEW_FBA].add(minute, fba)
            if has_fbm:
                histories[PriceType.NEW_FBM_SHIPPING].add(minute, fbm, fbm_shipping)
            histories[PriceType.BUY_BOX_SHIPPING].add(minute, buybox, 0)
        root_rank, sub_rank = self._ranks(item, market)
        histories[PriceType.SALES] = root_rank
        signals = self._rng(item.index, f"signals:{market}")  # own stream, like the flags
        histories[PriceType.COUNT_NEW] = self._offer_counts(
            signals, times, market, 1 + has_amazon + has_fbm
        )
        monthly_sold = _monthly_sold(
            root_rank.average(len(root_rank.times), self._history_min, self._end_min)
        )
        if monthly_sold is not None and signals.random() >= cfg.monthly_sold_rate:
            monthly_sold = None
        buy_box_amazon = None
        if signals.random() < cfg.buy_box_stats_rate:
            buy_box_amazon = _History(2)
            for minute, holds in amazon_holds:
                buy_box_amazon.add(minute, holds)
        buy_box_seller = "A" + "".join(
            signals.choices(string.ascii_uppercase + string.digits, k=13)
        )
        return _Listing(
            market=market,
            root_id=item.category.root_ids[market],
            sub_id=item.category.root_ids[market] + 7_919,
            fba_fee=fba_fee,
            referral_pct=referral,
            histories=dict(sorted(histories.items())),
            sub_rank=sub_rank,
            sale_drops=_sale_drops(root_rank, signals),
            monthly_sold=monthly_sold,
            buy_box_amazon=buy_box_amazon,
            buy_box_seller=buy_box_seller,
        )

    def _offer_counts(
        self, rng: random.Random, times: list[int], market: str, own_offers: int
    ) -> _History:
        """COUNT_NEW: the offers of the price model plus other sellers, whose number moves
        by one at some of the price changes (a new or a leaving offer moves the price)."""
        market_size = {"DE": 1.0, "GB": 1.1, "FR": 0.7, "IT": 0.6, "ES": 0.5}[market]
        others = int(math.exp(rng.uniform(0.0, math.log(20.0))) * market_size)
        history = _History(2)
        for minute in times:
            if rng.random() < 0.3:
                others = max(0, others + rng.choice((-1, 1)))
            history.add(minute, own_offers + others)
        return history

    def _ranks(self, item: _Item, market: str) -> tuple[_History, _History]:
        """Sales rank histories (root category in csv, sub-category in salesRanks)."""
        rng = self._rng(item.index, f"rank:{market}")
        market_size = {"DE": 1.0, "GB": 1.1, "FR": 0.7, "IT": 0.6, "ES": 0.5}[market]
        base = math.log(rng.uniform(200, 150_000) / market_size)
        root = _History(2)
        sub = _History(2)
        x = 0.0
        clock = float(self._history_min)
        minute = self._history_min
        while minute <= self._end_min:
            rank = max(1, int(math.exp(base + x)))
            root.add(minute, rank)
            sub.add(minute, max(1, rank // 40))
            clock += rng.expovariate(2.0 / _MINUTES_PER_DAY)
            next_minute = int(clock)
            minute = max(minute + 1, next_minute)
            x = _clip(0.8 * x + rng.gauss(0.0, 0.25), 1.0)
        return root, sub

    def _fba_fee(self, item: _Item, market: str) -> int:
        """Pick & pack fee by weight tier, in the market's currency (cents / pence)."""
        tiers = ((250, 270), (500, 305), (1000, 360), (2000, 460), (5000, 590), (12000, 750))
        fee_eur = next((fee for limit, fee in tiers if item.weight_g <= limit), 980)
        surcharge = {"DE": 1.0, "FR": 1.06, "IT": 1.08, "ES": 1.04, "GB": 0.92}[market]
        return round(self._to_local(fee_eur * surcharge, market))


def _buy_box_stats(
    amazon_holds: _History, seller: str, market: str, start: int, now: int
) -> dict[str, Any]:
    """Keepa's ``buyBoxStats``: Amazon's time-weighted share of the buy box in
    ``[start, now]`` under its seller id (when it held it at all), the rest ``seller``'s."""
    count = amazon_holds.upto(now)
    basis_points = max(0, amazon_holds.average(count, start, now)) if count else 0
    stats: dict[str, Any] = {}
    if basis_points > 0:
        stats[Market(market).amazon_seller_id] = {
            "percentageWon": basis_points / 100,
            "isFBA": True,
        }
    if basis_points < 10_000:
        stats[seller] = {"percentageWon": (10_000 - basis_points) / 100, "isFBA": True}
    return stats


def _count_since(minutes: list[int], now: int, days: int) -> int:
    """How many of the sorted ``minutes`` are in ``(now - days, now]``."""
    return bisect.bisect_right(minutes, now) - bisect.bisect_right(
        minutes, now - days * _MINUTES_PER_DAY
    )


def _sale_drops(rank: _History, rng: random.Random) -> list[int]:
    """Minutes of the drops of the rank history that indicate a sale: every drop while the
    rank was at most :data:`_ALL_DROPS_RANK`, a share ``_ALL_DROPS_RANK / rank`` above."""
    drops = []
    for index in range(1, len(rank.times)):
        before, after = rank.value(index - 1), rank.value(index)
        if after < before and rng.random() < _ALL_DROPS_RANK / before:
            drops.append(rank.times[index])
    return drops


def _monthly_sold(mean_rank: int) -> int | None:
    """Amazon's "bought in past month" for a listing of this mean sales rank, rounded down as
    Amazon shows it (50+, 100+, ... 900+, 1K+, 2K+, ...); ``None`` below 50 (no badge).
    Units a month ~ 300,000 / rank^0.85: a rule of thumb for the sample, not a Keepa figure."""
    if mean_rank <= 0:
        return None
    units = 300_000 / mean_rank**0.85
    if units < _MONTHLY_SOLD_MIN:
        return None
    if units < 100:
        return _MONTHLY_SOLD_MIN
    step = 100 if units < 1000 else 1000
    return int(units // step) * step


def generate_sample(
    n_asins: int,
    *,
    seed: int,
    start: datetime,
    steps: int,
    step_minutes: int,
    config: SampleConfig | None = None,
) -> Iterator[KeepaProductsEnvelope]:
    """``keepa.products`` messages for N ASINs x 5 markets x steps.

    Step ``k`` observes every ASIN in every market at ``start + k * step_minutes``;
    envelopes come in time order (then ASIN, then market DE, FR, IT, ES, GB). A naive
    ``start`` is taken as UTC; it is rounded down to the minute (Keepa's resolution).
    """
    if steps < 0 or step_minutes < 1:
        raise ValueError("steps must be >= 0 and step_minutes >= 1")
    begin = _aware(start).replace(second=0, microsecond=0)
    simulator = MarketSimulator(
        n_asins,
        seed=seed,
        start=begin,
        end=begin + timedelta(minutes=steps * step_minutes),
        config=config,
        min_episode_minutes=2 * step_minutes,
    )
    for k in range(steps):
        when = begin + timedelta(minutes=k * step_minutes)
        for asin in simulator.asins:
            for market in simulator.markets:
                yield simulator.envelope_at(asin, market, when)


def write_jsonl(envelopes: Iterable[KeepaProductsEnvelope], path: str | Path) -> int:
    """Write one envelope per line (encoded by its contract); the number of lines written."""
    count = 0
    with Path(path).open("wb") as fh:
        for envelope in envelopes:
            fh.write(ENVELOPE.encode(envelope))
            fh.write(b"\n")
            count += 1
    return count
