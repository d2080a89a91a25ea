from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.domain.asin_state import apply_quote
from app.domain.detection import Pricing
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE
from tests.keepa_factory import make_quote

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLICY = DetectionPolicy()
FX = FxRates(Decimal("1.17"), T0)
PRICING = Pricing(FX, DEFAULT_PROFILE, "v-default", default_fee_schedule())
ASIN = "B0STATE001"


def test_quotes_accumulate_and_the_event_comes_on_the_quote_that_completes_the_route() -> None:
    de = make_quote(ASIN, Market.DE, amazon=2000, last_update=T0)
    step1 = apply_quote(de, {}, {}, POLICY, PRICING)
    assert step1.accepted
    assert set(step1.quotes) == {Market.DE}
    assert step1.quotes[Market.DE] is de
    assert step1.events == []
    fr = make_quote(ASIN, Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0, last_update=T0)
    step2 = apply_quote(fr, step1.quotes, step1.open, POLICY, PRICING)
    # The classic DE 20.00 -> FR 50.00, FBA 3.00, 15 %, 500 g, on 2026-11-20, default profile:
    # net sell 5000 / 1.20 = 4166.67 -> 4167; net buy 2000 / 1.19 = 1680.67 -> 1681 (Amazon's
    # offer: VAT recovered); referral 750; FBA 300; Digital Services Fee of a DE-established
    # seller on FR from 2026-03-20: 3 % of 750 = 22.5 -> 23, 3 % of 300 = 9 -> 32; VAT on fees
    # reverse-charged (shown); storage one month in the FR warehouse in November (October-
    # December), 200 x 150 x 50 mm = 0.0015 m3 x 3968 c/m3 = 5.952 -> 6; inbound 450 + 5 x 12
    # = 510.
    # 4167 - 750 - 300 - 32 - 6 - 510 - 1681 = 888 (926 with the former model, which had no
    # DSF and no storage).
    assert [(e.event, e.route_key, e.profit_eur_cents) for e in step2.events] == [
        ("opened", "DE:FR", 888)
    ]
    assert set(step2.open) == {"DE:FR"}


def test_an_older_quote_does_not_replace_a_newer_one() -> None:
    new = make_quote(ASIN, Market.DE, amazon=2000, last_update=T0 + timedelta(hours=1))
    old = make_quote(ASIN, Market.DE, amazon=1000, last_update=T0)
    step = apply_quote(new, {}, {}, POLICY, PRICING)
    late = apply_quote(old, step.quotes, step.open, POLICY, PRICING)
    assert not late.accepted
    assert late.quotes == step.quotes
    assert late.events == []


def test_a_stale_quote_closes_the_route_by_event_time() -> None:
    de = make_quote(ASIN, Market.DE, amazon=2000, last_update=T0)
    fr = make_quote(ASIN, Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0, last_update=T0)
    step = apply_quote(fr, apply_quote(de, {}, {}, POLICY, PRICING).quotes, {}, POLICY, PRICING)
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
    later = apply_quote(fr2, step.quotes, step.open, POLICY, PRICING)
    assert [(e.event, e.reason) for e in later.events] == [("closed", "stale_quote")]
    assert later.open == {}


def test_inputs_are_not_modified() -> None:
    de = make_quote(ASIN, Market.DE, amazon=2000, last_update=T0)
    fr = make_quote(ASIN, Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0, last_update=T0)
    quotes = {Market.DE: de}
    opened = apply_quote(fr, quotes, {}, POLICY, PRICING)
    assert quotes == {Market.DE: de}
    open_ = dict(opened.open)
    apply_quote(
        make_quote(ASIN, Market.FR, buy_box=2000, last_update=T0),
        opened.quotes,
        open_,
        POLICY,
        PRICING,
    )
    assert open_ == opened.open
