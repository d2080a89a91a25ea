"""The five Amazon EU marketplaces we track and the routes between them.

Standard VAT rates (goods without a reduced rate):

* DE 19 %, FR 20 %, IT 22 %, ES 21 %: European Commission, "VAT rates applied in the Member
  States of the European Union" (Taxation and Customs Union, situation at 1 January 2025),
  https://taxation-customs.ec.europa.eu/taxation/vat/vat-directive/vat-rates_en
* GB 20 %: HMRC, "VAT rates" / "Rates of VAT on different goods and services",
  https://www.gov.uk/guidance/rates-of-vat-on-different-goods-and-services

Reduced rates (books, food, ...) are not modelled: every product is taxed at the standard
rate, which overstates the VAT (so understates the profit) of reduced-rate goods.

Keepa domain ids are those of Keepa's API (``domainId``): 2 = .co.uk, 3 = .de, 4 = .fr,
8 = .it, 9 = .es. The market codes are the ``keepa`` package's domain names (``keepa.DCODES``);
a unit test pins both to that package, which is not imported here (numpy + pandas).

Amazon's own seller id per marketplace (the key of Amazon's entry in Keepa's
``stats.buyBoxStats``, see docs/signals.md): DE ``A3JWKAKR8XB7XF``, FR ``A1X6FK5RDHNB96``,
IT ``A11IL2PNWYJU7H``, ES ``A1AT7YVPFBWXBL``, GB ``A3P5ROKL5A1OLE``. Neither Keepa's sources
nor an Amazon page we found lists them: they are the ids Amazon's own storefront links carry
(``smid=``/``me=`` on amazon.de, .fr, .it, .es, .co.uk), the same in many unrelated public
repositories. They are not the SP-API marketplace ids (DE ``A1PA6795UKMFR9``...), which
some of those repositories confuse with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from itertools import permutations
from typing import NamedTuple

from app.domain.money import Currency

__all__ = ["ALL_ROUTES", "MARKET_CODES", "Market", "OnRoute", "Route", "UnknownMarketError"]


class UnknownMarketError(ValueError):
    """A marketplace code or Keepa domain id that is not one of the tracked markets."""


@dataclass(frozen=True, slots=True)
class _MarketInfo:
    currency: Currency
    keepa_domain_id: int
    vat_rate: Decimal
    amazon_host: str
    amazon_seller_id: str


class Market(StrEnum):
    """An Amazon marketplace, valued by its two-letter country code."""

    DE = "DE"
    FR = "FR"
    IT = "IT"
    ES = "ES"
    GB = "GB"

    @property
    def _info(self) -> _MarketInfo:
        return _MARKETS[self]

    @property
    def currency(self) -> Currency:
        """Currency of prices on this marketplace (``EUR`` or ``GBP``)."""
        return self._info.currency

    @property
    def keepa_domain_id(self) -> int:
        """Keepa's ``domainId`` of this marketplace."""
        return self._info.keepa_domain_id

    @property
    def vat_rate(self) -> Decimal:
        """Standard VAT rate as a fraction, e.g. ``Decimal("0.19")`` (sources: module doc)."""
        return self._info.vat_rate

    @property
    def amazon_host(self) -> str:
        """Host name of the storefront without ``www.``, e.g. ``amazon.co.uk``."""
        return self._info.amazon_host

    @property
    def amazon_seller_id(self) -> str:
        """Amazon's own seller id on this marketplace, e.g. ``A3JWKAKR8XB7XF`` on amazon.de
        (source: module doc)."""
        return self._info.amazon_seller_id

    def product_url(self, asin: str) -> str:
        """Canonical product page, e.g. ``https://www.amazon.de/dp/B000000000``."""
        return f"https://www.{self.amazon_host}/dp/{asin}"

    @classmethod
    def from_keepa_domain_id(cls, domain_id: int) -> Market:
        """Market of a Keepa ``domainId``; raises :class:`UnknownMarketError`."""
        if isinstance(domain_id, int) and not isinstance(domain_id, bool):
            for market in cls:
                if market.keepa_domain_id == domain_id:
                    return market
        raise UnknownMarketError(f"unknown or untracked Keepa domain id {domain_id!r}")

    @classmethod
    def parse(cls, value: str) -> Market:
        """Case-insensitive country code (``"de"``, ``"GB"``; ``"UK"`` is accepted for GB).

        Raises :class:`UnknownMarketError`.
        """
        if isinstance(value, str):
            code = value.strip().upper()
            code = "GB" if code == "UK" else code
            if code in cls.__members__:
                return cls[code]
        raise UnknownMarketError(f"unknown or untracked market {value!r}")


_MARKETS: dict[Market, _MarketInfo] = {
    Market.DE: _MarketInfo(Currency.EUR, 3, Decimal("0.19"), "amazon.de", "A3JWKAKR8XB7XF"),
    Market.FR: _MarketInfo(Currency.EUR, 4, Decimal("0.20"), "amazon.fr", "A1X6FK5RDHNB96"),
    Market.IT: _MarketInfo(Currency.EUR, 8, Decimal("0.22"), "amazon.it", "A11IL2PNWYJU7H"),
    Market.ES: _MarketInfo(Currency.EUR, 9, Decimal("0.21"), "amazon.es", "A1AT7YVPFBWXBL"),
    Market.GB: _MarketInfo(Currency.GBP, 2, Decimal("0.20"), "amazon.co.uk", "A3P5ROKL5A1OLE"),
}


#: Every market code in a fixed order: DE, FR, IT, ES, GB.
MARKET_CODES: tuple[str, ...] = tuple(market.value for market in Market)


class Route(NamedTuple):
    """Buy on ``buy``, sell on ``sell``. Its :attr:`key` (``"DE:FR"``) names it in state."""

    buy: Market
    sell: Market

    @property
    def key(self) -> str:
        # Markets are str members: concatenation skips the enum's ``value`` descriptor
        # (this runs for every route of every event).
        return self.buy + ":" + self.sell

    @property
    def involves_gb(self) -> bool:
        return Market.GB in (self.buy, self.sell)

    @classmethod
    def from_key(cls, key: str) -> Route:
        """``"DE:FR"`` -> ``Route(Market.DE, Market.FR)``; raises ``ValueError``."""
        buy, sep, sell = key.partition(":")
        if not sep:
            raise ValueError(f"route key must look like 'DE:FR', got {key!r}")
        route = cls(Market.parse(buy), Market.parse(sell))
        if route.buy is route.sell:
            raise ValueError(f"a route needs two different markets, got {key!r}")
        return route


class OnRoute:
    """Mixin of every record about one route (a priced route, an opportunity event, an alert):
    its :class:`Route` and route key from its ``buy_market`` and ``sell_market``."""

    __slots__ = ()
    buy_market: Market
    sell_market: Market

    @property
    def route(self) -> Route:
        return Route(self.buy_market, self.sell_market)

    @property
    def route_key(self) -> str:
        return self.route.key


#: Every ordered (buy, sell) pair of different markets: 5 x 4 = 20 routes, in a fixed order.
ALL_ROUTES: tuple[Route, ...] = tuple(Route(b, s) for b, s in permutations(Market, 2))
