"""Scheduling signals per ASIN, read from Elasticsearch.

* ``opportunities``: open routes (count, markets, best profit) and when a route of the ASIN
  was last an opportunity (max of ``last_seen``/``closed_at``), by aggregations on
  keyword/long/date fields;
* ``price-history``: relative standard deviation of the buy and sell prices (EUR cents) per
  market over ``volatility_window`` (``extended_stats``), the ASIN's volatility is the largest;
* ``products``: per market, ``fetched_at`` of the latest quote, and the quotes themselves for
  the best route's profit and required move (:func:`app.ingest.estimates.outlook`), priced
  like the worker prices them: GBP converted with the rate in force on ``fx.rates``, the
  seller profile in force on ``seller.profile`` and the shipped fee schedule.

An ASIN none of the indices knows gets no entry (the scheduler treats it as never fetched).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from elasticsearch import Elasticsearch

from app.contracts.seller_profile import ProfileInForce
from app.domain.detection import Pricing
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.quote import MarketQuote
from app.domain.utc import parse_utc
from app.es.documents import PRODUCT_QUOTE_FIELDS, quote_from_product
from app.es.indices import OPPORTUNITIES, PRICE_HISTORY, PRODUCTS
from app.ingest.estimates import outlook
from app.ingest.fx_topic import read_rate_in_force
from app.ingest.profile_topic import read_profile_in_force
from app.ingest.scheduling import AsinSignals
from app.policy_config import detection_policy
from app.settings import Settings

__all__ = ["load_quotes", "load_signals"]

#: ASINs per query (x 5 market documents stays under the default 10,000 result window).
_CHUNK: Final = 500


def load_signals(
    es: Elasticsearch,
    settings: Settings,
    asins: Iterable[str],
    *,
    now: datetime | None = None,
    volatility_window: timedelta = timedelta(days=7),
    policy: DetectionPolicy | None = None,
    fx: FxRates | None = None,
    profile: ProfileInForce | None = None,
) -> dict[str, AsinSignals]:
    """Signals of the given ASINs (missing indices are treated as empty).

    Without ``fx``, GBP prices are converted with the rate in force on the ``fx.rates`` topic
    (:func:`app.ingest.fx_topic.read_rate_in_force`), the rate the worker uses; without
    ``profile``, routes are priced with the profile in force on ``seller.profile``
    (:func:`app.ingest.profile_topic.read_profile_in_force`), the worker's too.
    """
    when = now or datetime.now(UTC)
    detection = policy or detection_policy(settings)
    in_force = profile or read_profile_in_force(settings)
    pricing = Pricing(
        fx or read_rate_in_force(settings),
        in_force.profile,
        in_force.version,
        default_fee_schedule(),
    )
    wanted = sorted(set(asins))
    result: dict[str, AsinSignals] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        opportunities = _opportunities(es, settings.index(OPPORTUNITIES), chunk)
        volatility = _volatility(es, settings.index(PRICE_HISTORY), chunk, when - volatility_window)
        products = _products(es, settings.index(PRODUCTS), chunk)
        for asin in chunk:
            quotes = products.get(asin, {})
            opp = opportunities.get(asin)
            if not quotes and opp is None and asin not in volatility:
                continue
            view = outlook(quotes, detection, pricing)
            best = view.best_profit_eur_cents
            if opp is not None and opp["open_best"] is not None:
                best = opp["open_best"] if best is None else max(best, opp["open_best"])
            result[asin] = AsinSignals(
                asin=asin,
                best_profit_eur_cents=best,
                open_opportunities=opp["open"] if opp else 0,
                last_opportunity_at=opp["last"] if opp else None,
                volatility=volatility.get(asin, 0.0),
                last_fetched_at={m.value: q.fetched_at for m, q in quotes.items()},
                required_move=view.required_move,
                open_markets=opp["markets"] if opp else frozenset(),
            )
    return result


def load_quotes(
    es: Elasticsearch, settings: Settings, asins: Iterable[str]
) -> dict[str, dict[Market, MarketQuote]]:
    """The latest stored quote per market (``products``) of each ASIN that has one."""
    wanted = sorted(set(asins))
    out: dict[str, dict[Market, MarketQuote]] = {}
    for start in range(0, len(wanted), _CHUNK):
        out.update(_products(es, settings.index(PRODUCTS), wanted[start : start + _CHUNK]))
    return out


def _search(es: Elasticsearch, index: str, **body: Any) -> Mapping[str, Any] | None:
    if not es.indices.exists(index=index):
        return None
    response: Mapping[str, Any] = es.search(index=index, **body).body
    return response


def _opportunities(es: Elasticsearch, index: str, asins: list[str]) -> dict[str, dict[str, Any]]:
    response = _search(
        es,
        index,
        size=0,
        query={"terms": {"asin": asins}},
        aggs={
            "by_asin": {
                "terms": {"field": "asin", "size": len(asins)},
                "aggs": {
                    "last_seen": {"max": {"field": "last_seen"}},
                    "closed_at": {"max": {"field": "closed_at"}},
                    "open": {
                        "filter": {"term": {"state": "open"}},
                        "aggs": {
                            "best": {"max": {"field": "profit_eur_cents"}},
                            "buy": {"terms": {"field": "buy_market", "size": 5}},
                            "sell": {"terms": {"field": "sell_market", "size": 5}},
                        },
                    },
                },
            }
        },
    )
    if response is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for bucket in response["aggregations"]["by_asin"]["buckets"]:
        times = [
            _agg_time(bucket["last_seen"]),
            _agg_time(bucket["closed_at"]),
        ]
        known = [t for t in times if t is not None]
        open_agg = bucket["open"]
        markets = frozenset(b["key"] for side in ("buy", "sell") for b in open_agg[side]["buckets"])
        best = open_agg["best"]["value"]
        out[bucket["key"]] = {
            "open": int(open_agg["doc_count"]),
            "open_best": None if best is None else int(best),
            "markets": markets,
            "last": max(known) if known else None,
        }
    return out


def _volatility(
    es: Elasticsearch, index: str, asins: list[str], since: datetime
) -> dict[str, float]:
    price_stats = {
        "buy": {"extended_stats": {"field": "buy_price_eur_cents"}},
        "sell": {"extended_stats": {"field": "sell_price_eur_cents"}},
    }
    response = _search(
        es,
        index,
        size=0,
        query={
            "bool": {
                "filter": [
                    {"terms": {"asin": asins}},
                    {"range": {"observed_at": {"gte": since.isoformat()}}},
                ]
            }
        },
        aggs={
            "by_asin": {
                "terms": {"field": "asin", "size": len(asins)},
                "aggs": {
                    "by_market": {"terms": {"field": "market", "size": 5}, "aggs": price_stats}
                },
            }
        },
    )
    if response is None:
        return {}
    out: dict[str, float] = {}
    for bucket in response["aggregations"]["by_asin"]["buckets"]:
        values = [
            _relative_std(market[side])
            for market in bucket["by_market"]["buckets"]
            for side in ("buy", "sell")
        ]
        out[bucket["key"]] = max(values, default=0.0)
    return out


def _products(
    es: Elasticsearch, index: str, asins: list[str]
) -> dict[str, dict[Market, MarketQuote]]:
    response = _search(
        es,
        index,
        size=len(asins) * len(Market),
        query={"terms": {"asin": asins}},
        source_includes=list(PRODUCT_QUOTE_FIELDS),
    )
    if response is None:
        return {}
    out: dict[str, dict[Market, MarketQuote]] = {}
    for hit in response["hits"]["hits"]:
        quote = quote_from_product(hit["_source"])
        if quote is not None:
            out.setdefault(quote.asin, {})[quote.market] = quote
    return out


def _agg_time(agg: Mapping[str, Any]) -> datetime | None:
    text = agg.get("value_as_string")
    if text:
        return parse_utc(text)
    value = agg.get("value")
    if value is None:
        return None
    return datetime.fromtimestamp(float(value) / 1000, tz=UTC)


def _relative_std(stats: Mapping[str, Any]) -> float:
    count, avg, std = stats.get("count", 0), stats.get("avg"), stats.get("std_deviation")
    if count < 2 or not avg or std is None:
        return 0.0
    return float(std) / float(avg)
