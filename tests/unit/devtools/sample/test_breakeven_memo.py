"""The break-even memo of the push simulation (devtools.sample.breakeven_memo): a hit is
exactly what app.domain.breakeven.breakevens returns for the quotes given; anything the
break-evens depend on misses."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.domain.breakeven import breakevens
from app.domain.detection import Pricing
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE
from app.domain.quote import MarketQuote
from devtools.sample.breakeven_memo import BreakevenMemo
from tests.keepa_factory import make_quote

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
POLICY = DetectionPolicy()
PRICING = Pricing(
    FxRates(Decimal("1.17"), T0), DEFAULT_PROFILE, "v-default", default_fee_schedule()
)
ASIN = "B0MEMOTEST"


def quotes(at: datetime = T0, de_price: int = 2000) -> dict[Market, MarketQuote]:
    return {
        Market.DE: make_quote(ASIN, Market.DE, amazon=de_price, last_update=at),
        Market.FR: make_quote(
            ASIN, Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0, last_update=at
        ),
        Market.GB: make_quote(
            ASIN, Market.GB, buy_box=4000, fba_fee=280, referral_pct=15.0, last_update=at
        ),
    }


def test_a_refetch_with_the_same_prices_is_a_hit_equal_to_the_computation() -> None:
    memo = BreakevenMemo()
    first = memo(quotes(), POLICY, PRICING, T0 + timedelta(minutes=5))
    assert first == breakevens(quotes(), POLICY, PRICING, T0 + timedelta(minutes=5))
    later = T0 + timedelta(hours=3)
    refetched = quotes(later)
    hit = memo(refetched, POLICY, PRICING, later + timedelta(minutes=5))
    assert (memo.hits, memo.misses) == (1, 1)
    assert hit == breakevens(refetched, POLICY, PRICING, later + timedelta(minutes=5))
    assert hit[Market.DE].fresh_until == later + POLICY.stale_after  # not the first one's
    assert hit[Market.DE].buy_max is not None


def test_provenance_does_not_miss() -> None:
    memo = BreakevenMemo()
    at = T0 + timedelta(minutes=5)
    memo(quotes(), POLICY, PRICING, at)
    pushed = dict(quotes())
    pushed[Market.FR] = replace(pushed[Market.FR], source="notification", notification_id="a" * 32)
    assert memo(pushed, POLICY, PRICING, at) == breakevens(pushed, POLICY, PRICING, at)
    assert memo.hits == 1


def test_a_price_change_a_stale_counterpart_and_a_new_day_miss() -> None:
    memo = BreakevenMemo()
    at = T0 + timedelta(minutes=5)
    memo(quotes(), POLICY, PRICING, at)
    cheaper = quotes(de_price=1500)
    assert memo(cheaper, POLICY, PRICING, at) == breakevens(cheaper, POLICY, PRICING, at)
    # GB observed more than a day before: stale, the routes through it are gone
    mixed = {
        **quotes(T0 + timedelta(hours=20)),
        Market.GB: quotes(T0 - timedelta(hours=5))[Market.GB],
    }
    when = T0 + timedelta(hours=20, minutes=5)
    assert memo(mixed, POLICY, PRICING, when) == breakevens(mixed, POLICY, PRICING, when)
    next_day = T0 + timedelta(days=1)
    assert memo(quotes(next_day), POLICY, PRICING, next_day) == breakevens(
        quotes(next_day), POLICY, PRICING, next_day
    )
    assert (memo.hits, memo.misses) == (0, 4)


def test_quotes_observed_after_the_time_asked_are_computed_not_memoised() -> None:
    memo = BreakevenMemo()
    future = quotes(T0 + timedelta(hours=1))
    assert memo(future, POLICY, PRICING, T0) == breakevens(future, POLICY, PRICING, T0)
    memo(future, POLICY, PRICING, T0)
    assert (memo.hits, memo.misses) == (0, 2)
