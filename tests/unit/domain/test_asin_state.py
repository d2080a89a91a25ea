from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.domain.asin_state import apply_quote
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import PricingPolicy
from tests.keepa_factory import make_quote

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLICY = PricingPolicy()
FX = FxRates(Decimal("1.17"), T0)
ASIN = "B0STATE001"


def test_quotes_accumulate_and_the_event_comes_on_the_quote_that_completes_the_route() -> None:
    de = make_quote(ASIN, Market.DE, amazon=2000, last_update=T0)
    step1 = apply_quote(de, {}, {}, POLICY, FX)
    assert step1.accepted
    assert set(step1.quotes) == {Market.DE}
    assert step1.quotes[Market.DE] is de
    assert step1.events == []
    fr = make_quote(ASIN, Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0, last_update=T0)
    step2 = apply_quote(fr, step1.quotes, step1.open, POLICY, FX)
    assert [(e.event, e.route_key, e.profit_eur_cents) for e in step2.events] == [
        ("opened", "DE:FR", 926)
    ]
    assert set(step2.open) == {"DE:FR"}


def test_an_older_quote_does_not_replace_a_newer_one() -> None:
    new = make_quote(ASIN, Market.DE, amazon=2000, last_update=T0 + timedelta(hours=1))
    old = make_quote(ASIN, Market.DE, amazon=1000, last_update=T0)
    step = apply_quote(new, {}, {}, POLICY, FX)
    late = apply_quote(old, step.quotes, step.open, POLICY, FX)
    assert not late.accepted
    assert late.quotes == step.quotes
    assert late.events == []


def test_a_stale_quote_closes_the_route_by_event_time() -> None:
    de = make_quote(ASIN, Market.DE, amazon=2000, last_update=T0)
    fr = make_quote(ASIN, Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0, last_update=T0)
    step = apply_quote(fr, apply_quote(de, {}, {}, POLICY, FX).quotes, {}, POLICY, FX)
    assert step.open
    # 25 h later (event time) FR is refreshed: the DE quote is now stale.
    fr2 = make_quote(
        ASIN,
        Market.FR,
        buy_box=5000,
        fba_fee=300,
        referral_pct=15.0,
        last_update=T0 + timedelta(hours=25),
    )
    later = apply_quote(fr2, step.quotes, step.open, POLICY, FX)
    assert [(e.event, e.reason) for e in later.events] == [("closed", "stale_quote")]
    assert later.open == {}


def test_inputs_are_not_modified() -> None:
    de = make_quote(ASIN, Market.DE, amazon=2000, last_update=T0)
    fr = make_quote(ASIN, Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0, last_update=T0)
    quotes = {Market.DE: de}
    opened = apply_quote(fr, quotes, {}, POLICY, FX)
    assert quotes == {Market.DE: de}
    open_ = dict(opened.open)
    apply_quote(
        make_quote(ASIN, Market.FR, buy_box=2000, last_update=T0), opened.quotes, open_, POLICY, FX
    )
    assert open_ == opened.open
