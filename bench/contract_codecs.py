"""Decode + encode cost per message of the topic contracts (a timeit micro-benchmark).

    uv run python bench/contract_codecs.py [--number 20000] [--repeat 5]

For each topic the same message goes through four codecs, all from / to the domain objects
the worker handles (a :class:`MarketQuote`, an :class:`OpportunityEvent`...), so the figures
are what one message costs a producer plus a consumer:

* ``msgspec``: the contracts of :mod:`app.contracts` (what the system uses);
* ``pydantic``: the same types as pydantic v2 models (``model_validate_json`` /
  ``model_dump_json``), for the choice of library;
* ``hand_dicts``: hand-written ``to_dict`` / ``from_dict`` + orjson, what the contracts
  replaced (the tables went through Faust's orjson codec). For the quotes (input envelope,
  observations, the quotes table) they are reproduced as they were. The opportunity (version 2,
  every line of the breakdown) and the open routes (each holding a
  :class:`RouteBreakdown`) never had hand-written dicts: the ones below are written the same
  way for the version-2 shapes, and checked against the contracts' output before measuring;
* ``orjson_untyped``: ``orjson.loads`` + ``orjson.dumps`` of the JSON, no types, no checks
  (a floor, not an option).

The input message is the synthetic sample generator's (a Keepa product of ~4 KB, as in
``arbitrage bench``); the tables row is the detector's per-event table work for an ASIN quoted
on all five markets. Prints one JSON line: microseconds per message (best of ``repeat``).
"""

from __future__ import annotations

import argparse
import sys
import timeit
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

import orjson
import pydantic

from app.contracts.base import encode
from app.contracts.keepa_products import ENVELOPE, quote_from_message
from app.contracts.observations import OBSERVATION, Observation
from app.contracts.opportunities import OPPORTUNITY, OpportunityMessage
from app.contracts.seller_profile import profile_version
from app.contracts.tables import OPEN_ROUTES_STATE, QUOTES_STATE, OpenRoutesState, QuotesState
from app.domain.detection import OpenOpportunity, OpportunityEvent, Pricing, detect
from app.domain.envelope import quote_from_keepa_product
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fees import FeeLine, RouteBreakdown, price_route
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.money import Currency
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE
from app.domain.quote import MarketQuote
from app.domain.utc import format_utc, parse_utc
from devtools.sample.generator import generate_sample

FX = FxRates(Decimal("1.17"), datetime(2025, 3, 1, tzinfo=UTC))
PRICING = Pricing(
    fx=FX,
    profile=DEFAULT_PROFILE,
    profile_version=profile_version(DEFAULT_PROFILE),
    schedule=default_fee_schedule(),
)

# --- the hand-written dicts the contracts replaced ------------------------------------------


def _quote_to_dict(q: MarketQuote) -> dict[str, Any]:
    return {
        "asin": q.asin,
        "market": q.market.value,
        "currency": q.currency.value,
        "title": q.title,
        "observed_at": format_utc(q.observed_at),
        "fetched_at": format_utc(q.fetched_at),
        "buy_price": q.buy_price,
        "sell_price": q.sell_price,
        "referral_fee_rate": None if q.referral_fee_rate is None else str(q.referral_fee_rate),
        "fba_fee": q.fba_fee,
        "package_weight_g": q.package_weight_g,
        "package_length_mm": q.package_length_mm,
        "package_width_mm": q.package_width_mm,
        "package_height_mm": q.package_height_mm,
        "sales_rank": q.sales_rank,
        "root_category": q.root_category,
        "image_url": q.image_url,
        "amazon_in_stock": q.amazon_in_stock,
        "prices": dict(q.prices),
    }


def _quote_from_dict(data: Mapping[str, Any]) -> MarketQuote:
    rate = data.get("referral_fee_rate")
    return MarketQuote(
        asin=data["asin"],
        market=Market.parse(data["market"]),
        title=data.get("title"),
        observed_at=parse_utc(data["observed_at"]),
        fetched_at=parse_utc(data["fetched_at"]),
        buy_price=data.get("buy_price"),
        sell_price=data.get("sell_price"),
        referral_fee_rate=None if rate is None else Decimal(rate),
        fba_fee=data.get("fba_fee"),
        package_weight_g=data.get("package_weight_g"),
        package_length_mm=data.get("package_length_mm"),
        package_width_mm=data.get("package_width_mm"),
        package_height_mm=data.get("package_height_mm"),
        sales_rank=data.get("sales_rank"),
        root_category=data.get("root_category"),
        image_url=data.get("image_url"),
        amazon_in_stock=bool(data.get("amazon_in_stock", False)),
        prices={str(k): int(v) for k, v in (data.get("prices") or {}).items()},
    )


def _line_to_dict(line: FeeLine) -> dict[str, Any]:
    return {
        "kind": line.kind,
        "amount_minor": line.amount_minor,
        "currency": line.currency.value,
        "eur_cents": line.eur_cents,
        "is_cost": line.is_cost,
        "note": line.note,
    }


def _line_from_dict(data: Mapping[str, Any]) -> FeeLine:
    return FeeLine(
        kind=data["kind"],
        amount_minor=int(data["amount_minor"]),
        currency=Currency(data["currency"]),
        eur_cents=int(data["eur_cents"]),
        is_cost=bool(data["is_cost"]),
        note=data["note"],
    )


def _event_to_dict(e: OpportunityEvent, sell: MarketQuote) -> dict[str, Any]:
    """The v2 opportunity message, every field (as :meth:`OpportunityMessage.from_event`)."""
    b = e.breakdown
    return {
        "schema_version": 2,
        "event_id": e.event_id,
        "event": e.event,
        "reason": e.reason,
        "asin": e.asin,
        "title": b.title,
        "route": e.route_key,
        "buy_market": e.buy_market.value,
        "sell_market": e.sell_market.value,
        "buy_url": e.buy_market.product_url(e.asin),
        "sell_url": e.sell_market.product_url(e.asin),
        "buy_currency": e.buy_market.currency.value,
        "sell_currency": e.sell_market.currency.value,
        "buy_price_minor": b.buy_price_minor,
        "sell_price_minor": b.sell_price_minor,
        "buy_price_eur_cents": b.buy_price_eur_cents,
        "sell_price_eur_cents": b.sell_price_eur_cents,
        "breakdown": {
            "fees_on": b.on.isoformat(),
            "net_sell_eur_cents": b.net_sell_eur_cents,
            "net_buy_eur_cents": b.net_buy_eur_cents,
            "sell_vat_rate": str(b.sell_vat_rate),
            "buy_vat_rate": str(b.buy_vat_rate),
            "total_costs_eur_cents": b.total_costs_eur_cents,
            "investment_eur_cents": b.investment_eur_cents,
            "lines": [_line_to_dict(line) for line in b.lines],
        },
        "profit_eur_cents": b.profit_eur_cents,
        "roi": str(b.roi_display),
        "margin": str(b.margin_display),
        "category": b.category,
        "estimates": list(b.estimates),
        "failed_thresholds": list(b.failed_thresholds),
        "profile_version": e.profile_version,
        "fx_eur_per_gbp": str(b.eur_per_gbp),
        "buy_observed_at": format_utc(b.buy_observed_at),
        "sell_observed_at": format_utc(b.sell_observed_at),
        "event_time": format_utc(e.event_time),
        "first_seen": format_utc(e.first_seen),
        "sales_rank": sell.sales_rank,
        "root_category": sell.root_category,
        "image_url": sell.image_url,
        "amazon_sells_in_target": sell.amazon_in_stock,
    }


def _breakdown_to_dict(b: RouteBreakdown) -> dict[str, Any]:
    return {
        "asin": b.asin,
        "title": b.title,
        "buy_market": b.buy_market.value,
        "sell_market": b.sell_market.value,
        "on": b.on.isoformat(),
        "category": b.category,
        "buy_price_minor": b.buy_price_minor,
        "sell_price_minor": b.sell_price_minor,
        "buy_price_eur_cents": b.buy_price_eur_cents,
        "sell_price_eur_cents": b.sell_price_eur_cents,
        "buy_vat_rate": str(b.buy_vat_rate),
        "sell_vat_rate": str(b.sell_vat_rate),
        "net_buy_minor": b.net_buy_minor,
        "net_sell_minor": b.net_sell_minor,
        "net_buy_eur_cents": b.net_buy_eur_cents,
        "net_sell_eur_cents": b.net_sell_eur_cents,
        "lines": [_line_to_dict(line) for line in b.lines],
        "profit_eur_cents": b.profit_eur_cents,
        "investment_eur_cents": b.investment_eur_cents,
        "estimates": list(b.estimates),
        "failed_thresholds": list(b.failed_thresholds),
        "eur_per_gbp": str(b.eur_per_gbp),
        "buy_observed_at": format_utc(b.buy_observed_at),
        "sell_observed_at": format_utc(b.sell_observed_at),
    }


def _breakdown_from_dict(e: Mapping[str, Any]) -> RouteBreakdown:
    return RouteBreakdown(
        asin=e["asin"],
        title=e.get("title"),
        buy_market=Market.parse(e["buy_market"]),
        sell_market=Market.parse(e["sell_market"]),
        on=date.fromisoformat(e["on"]),
        category=e["category"],
        buy_price_minor=int(e["buy_price_minor"]),
        sell_price_minor=int(e["sell_price_minor"]),
        buy_price_eur_cents=int(e["buy_price_eur_cents"]),
        sell_price_eur_cents=int(e["sell_price_eur_cents"]),
        buy_vat_rate=Decimal(e["buy_vat_rate"]),
        sell_vat_rate=Decimal(e["sell_vat_rate"]),
        net_buy_minor=int(e["net_buy_minor"]),
        net_sell_minor=int(e["net_sell_minor"]),
        net_buy_eur_cents=int(e["net_buy_eur_cents"]),
        net_sell_eur_cents=int(e["net_sell_eur_cents"]),
        lines=tuple(_line_from_dict(line) for line in e["lines"]),
        profit_eur_cents=int(e["profit_eur_cents"]),
        investment_eur_cents=int(e["investment_eur_cents"]),
        estimates=tuple(e["estimates"]),
        failed_thresholds=tuple(e["failed_thresholds"]),
        eur_per_gbp=Decimal(e["eur_per_gbp"]),
        buy_observed_at=parse_utc(e["buy_observed_at"]),
        sell_observed_at=parse_utc(e["sell_observed_at"]),
    )


def _open_to_dict(o: OpenOpportunity) -> dict[str, Any]:
    return {
        "route": o.route,
        "profit_eur_cents": o.profit_eur_cents,
        "roi": str(o.roi),
        "first_seen": format_utc(o.first_seen),
        "last_seen": format_utc(o.last_seen),
        "evaluation": _breakdown_to_dict(o.evaluation),
        "profile_version": o.profile_version,
    }


def _open_from_dict(data: Mapping[str, Any]) -> OpenOpportunity:
    return OpenOpportunity(
        route=data["route"],
        profit_eur_cents=int(data["profit_eur_cents"]),
        roi=Decimal(data["roi"]),
        first_seen=parse_utc(data["first_seen"]),
        last_seen=parse_utc(data["last_seen"]),
        evaluation=_breakdown_from_dict(data["evaluation"]),
        profile_version=data["profile_version"],
    )


def _hand_envelope(key: bytes, value: bytes) -> MarketQuote:
    """The old ``parse_envelope``'s decoding: orjson, then the (unchanged) product reading;
    its hand-written envelope checks are left out, which flatters it slightly."""
    doc = orjson.loads(value)
    return quote_from_keepa_product(
        doc["product"], Market.parse(doc["domain"]), parse_utc(doc["fetched_at"]),
        key_asin=key.decode(),
    )  # fmt: skip


# --- the same types as pydantic v2 models ---------------------------------------------------

_Frozen = pydantic.ConfigDict(frozen=True)


class _PEnvelope(pydantic.BaseModel):
    model_config = _Frozen
    schema_version: Literal[1] = 1
    domain: Market
    fetched_at: pydantic.AwareDatetime
    product: dict[str, Any]


class _PFx(pydantic.BaseModel):
    model_config = _Frozen
    eur_per_gbp: Decimal
    as_of: pydantic.AwareDatetime


class _PObservation(pydantic.BaseModel):
    model_config = _Frozen
    schema_version: Literal[1] = 1
    asin: Annotated[str, pydantic.StringConstraints(pattern=r"^[A-Z0-9]{10}$")]
    market: Market
    currency: Currency
    title: str | None = None
    observed_at: pydantic.AwareDatetime
    fetched_at: pydantic.AwareDatetime
    buy_price: int | None
    sell_price: int | None
    referral_fee_rate: Decimal | None = None
    fba_fee: int | None = None
    package_weight_g: pydantic.PositiveInt | None = None
    package_length_mm: pydantic.PositiveInt | None = None
    package_width_mm: pydantic.PositiveInt | None = None
    package_height_mm: pydantic.PositiveInt | None = None
    sales_rank: pydantic.PositiveInt | None = None
    root_category: pydantic.PositiveInt | None = None
    image_url: str | None = None
    amazon_in_stock: bool = False
    prices: dict[str, int] = {}
    fx: _PFx | None = None


class _PLine(pydantic.BaseModel):
    model_config = _Frozen
    kind: str
    amount_minor: int
    currency: Currency
    eur_cents: int
    is_cost: bool
    note: str = ""


class _PBreakdown(pydantic.BaseModel):
    model_config = _Frozen
    fees_on: date
    net_sell_eur_cents: int
    net_buy_eur_cents: int
    sell_vat_rate: Decimal
    buy_vat_rate: Decimal
    total_costs_eur_cents: int
    investment_eur_cents: int
    lines: list[_PLine]


class _POpportunity(pydantic.BaseModel):
    model_config = _Frozen
    schema_version: Literal[2] = 2
    event_id: str
    event: Literal["opened", "updated", "closed"]
    reason: Literal["below_threshold", "stale_quote", "no_price"] | None = None
    asin: Annotated[str, pydantic.StringConstraints(pattern=r"^[A-Z0-9]{10}$")]
    title: str | None = None
    route: str
    buy_market: Market
    sell_market: Market
    buy_url: str
    sell_url: str
    buy_currency: Currency
    sell_currency: Currency
    buy_price_minor: int
    sell_price_minor: int
    buy_price_eur_cents: int
    sell_price_eur_cents: int
    breakdown: _PBreakdown
    profit_eur_cents: int
    roi: Decimal
    margin: Decimal
    category: str
    estimates: list[str] = []
    failed_thresholds: list[Literal["min_profit", "min_roi", "max_sales_rank"]] = []
    profile_version: str
    fx_eur_per_gbp: Decimal
    buy_observed_at: pydantic.AwareDatetime
    sell_observed_at: pydantic.AwareDatetime
    event_time: pydantic.AwareDatetime
    first_seen: pydantic.AwareDatetime
    sales_rank: int | None = None
    root_category: int | None = None
    image_url: str | None = None
    amazon_sells_in_target: bool | None = None


_OBSERVATION_FIELDS = [*MarketQuote.__dataclass_fields__, "currency"]


def _pydantic_observation(quote: MarketQuote) -> tuple[MarketQuote, FxRates | None]:
    fields: dict[str, Any] = {name: getattr(quote, name) for name in _OBSERVATION_FIELDS}
    fields["fx"] = _PFx(eur_per_gbp=FX.eur_per_gbp, as_of=FX.as_of)
    data = _PObservation.model_validate(fields).model_dump_json().encode()
    back = _PObservation.model_validate_json(data)
    quote_fields = {name: getattr(back, name) for name in MarketQuote.__dataclass_fields__}
    rates = None if back.fx is None else FxRates(back.fx.eur_per_gbp, back.fx.as_of)
    return MarketQuote(**quote_fields), rates


def _pydantic_envelope(key: bytes, value: bytes) -> MarketQuote:
    doc = _PEnvelope.model_validate_json(value)
    return quote_from_keepa_product(doc.product, doc.domain, doc.fetched_at, key_asin=key.decode())


def _pydantic_opportunity(event: OpportunityEvent, sell: MarketQuote) -> object:
    data = _POpportunity.model_validate(_event_to_dict(event, sell)).model_dump_json()
    return _POpportunity.model_validate_json(data)


State = tuple[dict[Market, MarketQuote], dict[str, OpenOpportunity]]


def _msgspec_state(quotes_raw: bytes, open_raw: bytes) -> State:
    """The detector's table work per event: read both states, write both back."""
    quotes = QUOTES_STATE.decode(quotes_raw).quotes
    routes = OPEN_ROUTES_STATE.decode(open_raw).routes
    QUOTES_STATE.encode(QuotesState(quotes=quotes))
    OPEN_ROUTES_STATE.encode(OpenRoutesState(routes=routes))
    return quotes, routes


def _hand_state(quotes_raw: bytes, open_raw: bytes) -> State:
    quotes = {Market(m): _quote_from_dict(q) for m, q in orjson.loads(quotes_raw).items()}
    routes = {r: _open_from_dict(o) for r, o in orjson.loads(open_raw).items()}
    orjson.dumps({m.value: _quote_to_dict(q) for m, q in quotes.items()})
    orjson.dumps({r: _open_to_dict(o) for r, o in routes.items()})
    return quotes, routes


def _msgspec_observation(quote: MarketQuote) -> tuple[MarketQuote, FxRates | None]:
    message = OBSERVATION.decode(encode(Observation.from_quote(quote, FX)))
    return message.to_quote(), message.fx_rates()


def _hand_observation(quote: MarketQuote) -> tuple[MarketQuote, FxRates]:
    fx = {"eur_per_gbp": str(FX.eur_per_gbp), "as_of": format_utc(FX.as_of)}
    data = orjson.loads(orjson.dumps({**_quote_to_dict(quote), "fx": fx}))
    rates = FxRates(Decimal(str(data["fx"]["eur_per_gbp"])), parse_utc(data["fx"]["as_of"]))
    return _quote_from_dict(data), rates


def _msgspec_opportunity(event: OpportunityEvent, sell: MarketQuote) -> object:
    return OPPORTUNITY.decode(encode(OpportunityMessage.from_event(event, sell)))


# --- the run --------------------------------------------------------------------------------


def _inputs() -> tuple[bytes, bytes, MarketQuote, MarketQuote, OpportunityEvent]:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    sample = list(generate_sample(1, seed=7, start=start, steps=1, step_minutes=15))
    envelope = next(e for e in sample if e.domain is Market.FR)
    value = ENVELOPE.encode(envelope)
    key = str(envelope.product["asin"]).encode()
    sell = quote_from_message(key, value)
    buy = MarketQuote(
        asin=sell.asin,
        market=Market.DE,
        title=sell.title,
        observed_at=sell.observed_at,
        fetched_at=sell.fetched_at,
        buy_price=1000,
        sell_price=None,
        package_weight_g=500,
    )
    evaluation = price_route(buy, sell, FX, PRICING.profile, PRICING.schedule)
    assert evaluation is not None
    at = sell.observed_at + timedelta(minutes=1)
    event = OpportunityEvent.from_evaluation(
        "opened", evaluation, profile_version=PRICING.profile_version, event_time=at, first_seen=at
    )
    return key, value, sell, sell, event


def _state(quote: MarketQuote) -> State:
    """Every market quoted (the FR quote of the sample, the others around it) and the routes
    that open: what the tables hold for a busy ASIN."""
    quotes = {
        market: MarketQuote(
            asin=quote.asin,
            market=market,
            title=quote.title,
            observed_at=quote.observed_at,
            fetched_at=quote.fetched_at,
            buy_price=price,
            sell_price=price + 2500,
            referral_fee_rate=Decimal("0.15"),
            package_weight_g=500,
            prices={"NEW": price},
        )
        for market, price in zip(Market, (1000, 1400, 1800, 2200, 1100), strict=True)
    }
    quotes[Market.FR] = quote
    return quotes, detect(quotes, {}, DetectionPolicy(), PRICING, quote.observed_at).open


def _measure(fn: Callable[[], object], number: int, repeat: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    key, value, quote, sell, event = _inputs()
    obs = encode(Observation.from_quote(quote, FX))
    opp = encode(OpportunityMessage.from_event(event, sell))
    legacy_obs = orjson.dumps(_quote_to_dict(quote))
    quotes, routes = _state(quote)
    quotes_raw = QUOTES_STATE.encode(QuotesState(quotes=quotes))
    open_raw = OPEN_ROUTES_STATE.encode(OpenRoutesState(routes=routes))
    hand_quotes = orjson.dumps({m.value: _quote_to_dict(q) for m, q in quotes.items()})
    hand_open = orjson.dumps({r: _open_to_dict(o) for r, o in routes.items()})
    assert _hand_state(hand_quotes, hand_open) == _msgspec_state(quotes_raw, open_raw)
    assert orjson.loads(opp) == _event_to_dict(event, sell), "hand dict != v2 message"
    codecs: dict[str, dict[str, Callable[[], object]]] = {
        # the detector's decode of one input message (to a quote)
        "keepa.products": {
            "msgspec": lambda: quote_from_message(key, value),
            "pydantic": lambda: _pydantic_envelope(key, value),
            "hand_dicts": lambda: _hand_envelope(key, value),
            "orjson_untyped": lambda: orjson.loads(value),
        },
        # quote -> bytes (detector) -> quote (sink)
        "arbitrage.observations": {
            "msgspec": lambda: _msgspec_observation(quote),
            "pydantic": lambda: _pydantic_observation(quote),
            "hand_dicts": lambda: _hand_observation(quote),
            "orjson_untyped": lambda: orjson.dumps(orjson.loads(legacy_obs)),
        },
        # event -> bytes (detector) -> typed message (sink, alerts)
        "arbitrage.opportunities": {
            "msgspec": lambda: _msgspec_opportunity(event, sell),
            "pydantic": lambda: _pydantic_opportunity(event, sell),
            "hand_dicts": lambda: orjson.loads(orjson.dumps(_event_to_dict(event, sell))),
            "orjson_untyped": lambda: orjson.dumps(orjson.loads(opp)),
        },
        # the detector's table state per event: read and write back both tables' values
        f"tables ({len(quotes)} quotes + {len(routes)} open routes)": {
            "msgspec": lambda: _msgspec_state(quotes_raw, open_raw),
            "hand_dicts": lambda: _hand_state(hand_quotes, hand_open),
            "orjson_untyped": lambda: (
                orjson.dumps(orjson.loads(quotes_raw)), orjson.dumps(orjson.loads(open_raw))
            ),
        },
    }  # fmt: skip
    result: dict[str, Any] = {
        "bench": "contract_codecs",
        "unit": "us_per_message",
        "python": sys.version.split()[0],
        "msgspec": __import__("msgspec").__version__,
        "pydantic": pydantic.VERSION,
        "bytes": {"keepa.products": len(value), "arbitrage.observations": len(obs),
                  "arbitrage.opportunities": len(opp)},
    }  # fmt: skip
    for topic, variants in codecs.items():
        result[topic] = {
            name: round(_measure(fn, args.number, args.repeat), 2) for name, fn in variants.items()
        }
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
