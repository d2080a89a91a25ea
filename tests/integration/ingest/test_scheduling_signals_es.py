"""`load_signals` on documents the sink's own action builders write to the real
Elasticsearch, and the plan they lead to."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from elasticsearch import Elasticsearch, helpers

from app.contracts.opportunities import OpportunityMessage
from app.contracts.seller_profile import ProfileInForce
from app.domain.detection import Pricing, detect
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE
from app.domain.watchlist import WatchlistEntry
from app.es.documents import opportunity_action, product_actions
from app.es.indices import LOGICAL_INDICES, index_settings, mapping_for
from app.ingest.scheduling import SchedulingPolicy, plan_fetches
from app.ingest.signals import load_signals
from app.settings import Settings
from tests.keepa_factory import make_quote
from tests.session_resources import Owned, delete_indices

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLICY = DetectionPolicy()
FX = FxRates(Decimal("1.17"), T0)
PROFILE = ProfileInForce(DEFAULT_PROFILE, "default")
PRICING = Pricing(FX, PROFILE.profile, PROFILE.version, default_fee_schedule())
HOT, CHEAP, CALM = "B0SIGNAL01", "B0SIGNAL02", "B0SIGNAL03"
ALL = ("DE", "FR", "IT", "ES", "GB")


@pytest.fixture
def sig_settings(es: Elasticsearch, settings: Settings, unique: str) -> Iterator[Settings]:
    s = settings.model_copy(update={"elasticsearch_index_prefix": f"{unique}-"})
    for logical in LOGICAL_INDICES:
        es.indices.create(
            index=s.index(logical), mappings=mapping_for(logical), settings=index_settings()
        )
    yield s
    delete_indices(es, Owned.indices_under(f"{unique}-"))


def test_signals_from_the_three_indices(es: Elasticsearch, sig_settings: Settings) -> None:
    index_of = sig_settings.index
    actions = []
    # HOT: DE 20.00 -> FR 50.00 is an opportunity: default profile on 2026-11-20, FR card
    # 425 (500 g), DSF 3 % (22.5 -> 23, 12.75 -> 13): 4167 - 750 - 425 - 36 - 510 - 1681 = 765
    hot = {
        Market.DE: make_quote(
            HOT, Market.DE, new_fba=2000, buy_box=2100, last_update=T0, weight_g=500
        ),
        Market.FR: make_quote(
            HOT, Market.FR, new_fba=5100, buy_box=5000, last_update=T0, weight_g=500
        ),
    }
    # CHEAP: EUR 6 items whose fees eat any spread; fetched twice with moving prices
    cheap_prices = [(600, 640), (660, 700)]
    for i, (buy, sell) in enumerate(cheap_prices):
        at = T0 - timedelta(hours=6 * (1 - i))
        for market in (Market.DE, Market.IT):
            quote = make_quote(CHEAP, market, new_fba=buy, buy_box=sell, last_update=at)
            actions += product_actions(quote, FX, index_of)
    for quote in hot.values():
        actions += product_actions(quote, FX, index_of)
    detection = detect(hot, {}, POLICY, PRICING, T0)
    assert [e.route_key for e in detection.events] == ["DE:FR"]
    actions += [
        opportunity_action(OpportunityMessage.from_event(e), index_of) for e in detection.events
    ]
    helpers.bulk(es, actions, refresh="wait_for")

    signals = load_signals(
        es, sig_settings, [HOT, CHEAP, CALM], now=T0, policy=POLICY, fx=FX, profile=PROFILE
    )
    assert set(signals) == {HOT, CHEAP}  # nothing known about CALM

    hot_signals = signals[HOT]
    assert hot_signals.open_opportunities == 1
    assert hot_signals.open_markets == frozenset({"DE", "FR"})
    assert hot_signals.last_opportunity_at == T0
    assert hot_signals.best_profit_eur_cents == detection.events[0].profit_eur_cents
    assert hot_signals.required_move is not None
    assert hot_signals.required_move < 0
    assert hot_signals.last_fetched_at == {
        "DE": T0 + timedelta(minutes=5),
        "FR": T0 + timedelta(minutes=5),
    }

    cheap = signals[CHEAP]
    assert cheap.open_opportunities == 0
    assert cheap.last_opportunity_at is None
    assert cheap.best_profit_eur_cents is not None
    assert cheap.best_profit_eur_cents < 0
    assert cheap.required_move is not None
    assert cheap.required_move > 0.8  # far: a EUR 6 item cannot pay the fixed costs
    assert cheap.volatility > 0.02  # 600 -> 660 and 640 -> 700 within the window
    assert set(cheap.last_fetched_at) == {"DE", "IT"}

    entries = [WatchlistEntry(a) for a in (HOT, CHEAP, CALM)]
    plan = plan_fetches(
        entries,
        signals,
        T0 + timedelta(minutes=25),
        token_budget=20,
        policy=SchedulingPolicy(fill_budget=False),
    )
    planned = {(a, m) for m, asins in plan.by_market.items() for a in asins}
    never_fetched = {(CALM, m) for m in ALL} | {(HOT, m) for m in ("IT", "ES", "GB")}
    never_fetched |= {(CHEAP, m) for m in ("FR", "ES", "GB")}
    # HOT's open route is due every 15 minutes; CHEAP's DE and IT are far, fetched 20 min ago
    assert planned == never_fetched | {(HOT, "DE"), (HOT, "FR")}
    assert plan.tokens == 13
