"""Pure functions turning domain objects into bulk actions (no I/O).

Actions are dicts in the format of ``elasticsearch.helpers`` (``_op_type``, ``_index``,
``_id``, ``version``, ``version_type``, ``_source``), ready for :class:`app.es.bulk.BulkWriter`.

Idempotency and ordering:

* ``products`` (latest state, id ``ASIN:MARKET``): ``index`` with ``version`` = the
  observation time in epoch milliseconds and ``version_type="external_gte"``. A replay of
  the same observation rewrites the document (equal version); an older observation arriving
  after a newer one is refused by Elasticsearch with a 409 (counted as *stale*).
* ``price-history`` (id ``ASIN:MARKET:<observed_at epoch seconds>``): ``create``; a replay
  is refused with a 409 (counted as *stale*), the first write of an observation wins.
* ``opportunities`` (id ``ASIN:BUY:SELL``): ``index`` with ``version`` = the event time in
  epoch milliseconds and ``external_gte``, so a late older event never reverts a newer state.
  The document is overwritten when the route reopens, so it holds the route's last opening.
* ``opportunity-episodes`` (id ``ASIN:BUY:SELL:<first_seen epoch millis>``): one document per
  ``closed`` event, i.e. per past opening of a route ("episode", docs/signals.md, "Lifetime
  history"); ``index`` with ``version`` = the event time in epoch milliseconds and
  ``external_gte``: a redelivered or replayed ``closed`` event rewrites the same document,
  never adds a second one. :func:`opportunity_actions` builds both actions of a message.

Provenance: the ``products`` and ``price-history`` documents of a quote merged from a Keepa
notification have ``source`` (``notification``) and ``notification_id``; those of a quote
parsed from a Keepa product have neither (as before notifications existed). An opportunity
document has ``quote_sources`` when its event has it.

Signals: an opportunity document has the sell market's ``sell_signals``,
``expected_monthly_units`` and ``expected_monthly_profit_eur_cents`` of its last event
(``null`` when the event had none, e.g. a version-2 event); decimals as JSON numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

import msgspec

from app.contracts.opportunities import OpportunityMessage
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.quote import MarketQuote
from app.domain.utc import format_utc, parse_utc, require_utc
from app.es.indices import OPPORTUNITIES, OPPORTUNITY_EPISODES, PRICE_HISTORY, PRODUCTS

__all__ = [
    "EXTERNAL_GTE",
    "PRODUCT_QUOTE_FIELDS",
    "IndexOf",
    "episode_action",
    "episode_id",
    "epoch_millis",
    "history_id",
    "logical_index",
    "open_for_seconds",
    "opportunity_action",
    "opportunity_actions",
    "opportunity_id",
    "price_history_action",
    "product_action",
    "product_actions",
    "product_id",
    "quote_from_product",
]

#: Maps a logical index name to the real one, e.g. ``settings.index``.
IndexOf = Callable[[str], str]

EXTERNAL_GTE: Final = "external_gte"

_EVENT_STATES: Final[Mapping[str, str]] = {
    "opened": "open",
    "updated": "open",
    "closed": "closed",
}

#: Fields of the opportunity message copied as they are into the opportunity document.
_COPIED_EVENT_KEYS: Final[tuple[str, ...]] = (
    "event_id",
    "reason",
    "title",
    "buy_url",
    "sell_url",
    "buy_currency",
    "sell_currency",
    "buy_price_minor",
    "sell_price_minor",
    "buy_price_eur_cents",
    "sell_price_eur_cents",
    "breakdown",
    "profit_eur_cents",
    "category",
    "estimates",
    "failed_thresholds",
    "profile_version",
    "sales_rank",
    "root_category",
    "image_url",
    "amazon_sells_in_target",
    "sell_signals",
    "expected_monthly_profit_eur_cents",
)


def logical_index(name: str) -> str:
    """The identity :data:`IndexOf`: real name = logical name (no prefix)."""
    return name


def epoch_millis(value: datetime) -> int:
    """Milliseconds since the Unix epoch (floor) of an aware datetime; the external version."""
    delta = require_utc(value) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def product_id(asin: str, market: Market | str) -> str:
    """``ASIN:MARKET``, e.g. ``B0TESTAS1N:DE``."""
    return f"{asin}:{Market.parse(str(market)).value}"


def history_id(asin: str, market: Market | str, observed_at: datetime) -> str:
    """``ASIN:MARKET:<observed_at in epoch seconds>``; replays of an observation share it."""
    return f"{product_id(asin, market)}:{epoch_millis(observed_at) // 1000}"


def opportunity_id(asin: str, buy_market: Market | str, sell_market: Market | str) -> str:
    """``ASIN:BUY:SELL``, e.g. ``B0TESTAS1N:DE:FR``."""
    buy, sell = Market.parse(str(buy_market)).value, Market.parse(str(sell_market)).value
    return f"{asin}:{buy}:{sell}"


def episode_id(
    asin: str, buy_market: Market | str, sell_market: Market | str, opened_at: datetime
) -> str:
    """``ASIN:BUY:SELL:<opened_at epoch millis>``: one opening of one route of an ASIN."""
    return f"{opportunity_id(asin, buy_market, sell_market)}:{epoch_millis(opened_at)}"


def open_for_seconds(event: OpportunityMessage) -> int:
    """Whole seconds (floor) from the route's opening (``first_seen``) to ``event_time``."""
    return max(0, (epoch_millis(event.event_time) - epoch_millis(event.first_seen)) // 1000)


def _observation(quote: MarketQuote, fx: FxRates | None) -> dict[str, Any]:
    """The fields of one observation: the ``price-history`` document, and the part of the
    ``products`` document both share. Gross buy/sell prices in EUR cents only with ``fx``
    (``None`` without a price)."""
    source: dict[str, Any] = {
        "asin": quote.asin,
        "market": quote.market.value,
        "currency": quote.currency.value,
        "observed_at": format_utc(quote.observed_at),
        "fetched_at": format_utc(quote.fetched_at),
        "buy_price_minor": quote.buy_price,
        "sell_price_minor": quote.sell_price,
        "prices": dict(quote.prices),
        "sales_rank": quote.sales_rank,
    }
    if quote.source != "product":
        source["source"] = quote.source
        source["notification_id"] = quote.notification_id
    if fx is not None:
        currency = quote.currency.value
        source["buy_price_eur_cents"] = (
            None if quote.buy_price is None else fx.to_eur_cents(quote.buy_price, currency)
        )
        source["sell_price_eur_cents"] = (
            None if quote.sell_price is None else fx.to_eur_cents(quote.sell_price, currency)
        )
        source["fx_eur_per_gbp"] = float(fx.eur_per_gbp)
    return source


def product_action(
    quote: MarketQuote,
    fx: FxRates | None,
    index_of: IndexOf = logical_index,
    *,
    indexed_at: datetime | None = None,
) -> dict[str, Any]:
    """The ``products`` action: latest state of ``quote.asin`` on ``quote.market``.

    ``fx`` fills ``buy_price_eur_cents``/``sell_price_eur_cents``; without it they are left
    out. ``indexed_at`` defaults to the current time.
    """
    when = datetime.now(UTC) if indexed_at is None else indexed_at
    source: dict[str, Any] = {
        **_observation(quote, fx),
        "title": quote.title,
        "referral_fee_rate": (
            None if quote.referral_fee_rate is None else float(quote.referral_fee_rate)
        ),
        **{name: getattr(quote, attribute) for attribute, name in _QUOTE_INTS.items()},
        "image_url": quote.image_url,
        "product_url": quote.product_url,
        "amazon_in_stock": quote.amazon_in_stock,
        "indexed_at": format_utc(when),
    }
    return {
        "_op_type": "index",
        "_index": index_of(PRODUCTS),
        "_id": product_id(quote.asin, quote.market),
        "version": epoch_millis(quote.observed_at),
        "version_type": EXTERNAL_GTE,
        "_source": source,
    }


#: Optional ints of a quote that the ``products`` document holds as they are: quote attribute
#: -> document field (written by :func:`product_action`, read by :func:`quote_from_product`).
_QUOTE_INTS: Final[Mapping[str, str]] = {
    "fba_fee": "fba_fee_minor",
    "package_weight_g": "package_weight_g",
    "package_length_mm": "package_length_mm",
    "package_width_mm": "package_width_mm",
    "package_height_mm": "package_height_mm",
    "root_category": "root_category",
}

#: The ``products`` fields :func:`quote_from_product` reads (a search's ``_source`` filter).
PRODUCT_QUOTE_FIELDS: Final[tuple[str, ...]] = (
    "asin",
    "market",
    "title",
    "observed_at",
    "fetched_at",
    "buy_price_minor",
    "sell_price_minor",
    "referral_fee_rate",
    "sales_rank",
    "amazon_in_stock",
    "prices",
    "source",
    "notification_id",
    *_QUOTE_INTS.values(),
)


def quote_from_product(source: Mapping[str, Any]) -> MarketQuote | None:
    """The quote a ``products`` document describes (the inverse of :func:`product_action`
    for the fields of :data:`PRODUCT_QUOTE_FIELDS`); None when it lacks identity or times."""
    try:
        asin = source["asin"]
        market = Market.parse(source["market"])
        observed_at = parse_utc(source["observed_at"])
        fetched_at = parse_utc(source.get("fetched_at") or source["observed_at"])
    except (KeyError, TypeError, ValueError):
        return None
    rate = source.get("referral_fee_rate")
    ints: dict[str, Any] = {a: _int(source.get(name)) for a, name in _QUOTE_INTS.items()}
    prices = source.get("prices")
    # Keepa's price types (the AMAZON one tells pricing that Amazon itself sells)
    current = {
        str(k): v
        for k, v in (prices.items() if isinstance(prices, Mapping) else ())
        if _int(v) is not None
    }
    return MarketQuote(
        asin=asin,
        market=market,
        title=source.get("title"),
        observed_at=observed_at,
        fetched_at=fetched_at,
        buy_price=_int(source.get("buy_price_minor")),
        sell_price=_int(source.get("sell_price_minor")),
        referral_fee_rate=None if rate is None else Decimal(str(rate)),
        sales_rank=_int(source.get("sales_rank")),
        **ints,
        amazon_in_stock=bool(source.get("amazon_in_stock", False)),
        prices=current,
        **_provenance(source),
    )


def _provenance(source: Mapping[str, Any]) -> dict[str, Any]:
    """``source`` and ``notification_id`` of a notification quote's document, else none."""
    notification_id = source.get("notification_id")
    if source.get("source") == "notification" and isinstance(notification_id, str):
        return {"source": "notification", "notification_id": notification_id}
    return {}


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def price_history_action(
    quote: MarketQuote, fx: FxRates | None, index_of: IndexOf = logical_index
) -> dict[str, Any]:
    """The ``price-history`` action: one immutable document per observation (``create``)."""
    return {
        "_op_type": "create",
        "_index": index_of(PRICE_HISTORY),
        "_id": history_id(quote.asin, quote.market, quote.observed_at),
        "_source": _observation(quote, fx),
    }


def product_actions(
    quote: MarketQuote,
    fx: FxRates | None,
    index_of: IndexOf = logical_index,
    *,
    indexed_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """``[products action, price-history action]`` for one quote."""
    return [
        product_action(quote, fx, index_of, indexed_at=indexed_at),
        price_history_action(quote, fx, index_of),
    ]


def opportunity_action(
    event: OpportunityMessage, index_of: IndexOf = logical_index
) -> dict[str, Any]:
    """The ``opportunities`` action for an ``arbitrage.opportunities`` message.

    ``state`` is ``open`` after ``opened``/``updated`` and ``closed`` after ``closed``;
    ``last_seen`` = ``event_time``, ``opened_at`` = ``first_seen``, ``closed_at`` =
    ``event_time`` and ``open_for_seconds`` = the whole seconds between them when closed,
    else ``None``. Times are written in UTC (``Z``).
    """
    fields = msgspec.structs.asdict(event)
    source: dict[str, Any] = msgspec.to_builtins({key: fields[key] for key in _COPIED_EVENT_KEYS})
    closed = _EVENT_STATES[event.event] == "closed"
    # Decimal rates and the display ROI/margin as JSON numbers (double fields).
    breakdown = source["breakdown"]
    breakdown["sell_vat_rate"] = float(event.breakdown.sell_vat_rate)
    breakdown["buy_vat_rate"] = float(event.breakdown.buy_vat_rate)
    source.update(
        {
            "roi": float(event.roi),
            "margin": float(event.margin),
            "fx_eur_per_gbp": float(event.fx_eur_per_gbp),
            "expected_monthly_units": _float(event.expected_monthly_units),
            "state": _EVENT_STATES[event.event],
            "last_event": event.event,
            "asin": event.asin,
            "route": event.route,
            "buy_market": event.buy_market.value,
            "sell_market": event.sell_market.value,
            "buy_observed_at": format_utc(event.buy_observed_at),
            "sell_observed_at": format_utc(event.sell_observed_at),
            "event_time": format_utc(event.event_time),
            "first_seen": format_utc(event.first_seen),
            "last_seen": format_utc(event.event_time),
            "opened_at": format_utc(event.first_seen),
            "closed_at": format_utc(event.event_time) if closed else None,
            "open_for_seconds": open_for_seconds(event) if closed else None,
        }
    )
    if event.sell_signals is not None:
        competition = source["sell_signals"]["competition"]
        competition["amazon_buy_box_share"] = _float(
            event.sell_signals.competition.amazon_buy_box_share
        )
    if not closed:
        source["reason"] = None
    if not isinstance(event.quote_sources, msgspec.UnsetType):
        source["quote_sources"] = msgspec.to_builtins(event.quote_sources)
    return {
        "_op_type": "index",
        "_index": index_of(OPPORTUNITIES),
        "_id": opportunity_id(event.asin, event.buy_market, event.sell_market),
        "version": epoch_millis(event.event_time),
        "version_type": EXTERNAL_GTE,
        "_source": source,
    }


def episode_action(event: OpportunityMessage, index_of: IndexOf = logical_index) -> dict[str, Any]:
    """The ``opportunity-episodes`` action of a ``closed`` event: the opening it ends
    (``opened_at`` = ``first_seen``, ``closed_at`` = ``event_time``), how long it lasted,
    why it closed and the profit the closing evaluation showed. ``ValueError`` for an
    ``opened``/``updated`` event (an open route has no episode document yet)."""
    if event.event != "closed":
        raise ValueError(f"only a closed event ends an episode, got {event.event!r}")
    return {
        "_op_type": "index",
        "_index": index_of(OPPORTUNITY_EPISODES),
        "_id": episode_id(event.asin, event.buy_market, event.sell_market, event.first_seen),
        "version": epoch_millis(event.event_time),
        "version_type": EXTERNAL_GTE,
        "_source": {
            "opportunity_id": opportunity_id(event.asin, event.buy_market, event.sell_market),
            "asin": event.asin,
            "route": event.route,
            "buy_market": event.buy_market.value,
            "sell_market": event.sell_market.value,
            "category": event.category,
            "root_category": event.root_category,
            "opened_at": format_utc(event.first_seen),
            "closed_at": format_utc(event.event_time),
            "lifetime_seconds": open_for_seconds(event),
            "reason": event.reason,
            "profit_eur_cents": event.profit_eur_cents,
            "event_id": event.event_id,
        },
    }


def opportunity_actions(
    event: OpportunityMessage, index_of: IndexOf = logical_index
) -> list[dict[str, Any]]:
    """Every action of one ``arbitrage.opportunities`` message: the ``opportunities`` action,
    and for a ``closed`` event the ``opportunity-episodes`` action (same bulk)."""
    actions = [opportunity_action(event, index_of)]
    if event.event == "closed":
        actions.append(episode_action(event, index_of))
    return actions
