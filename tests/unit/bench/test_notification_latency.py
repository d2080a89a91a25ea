"""The prices of bench/notification_latency.py, run through the real parsers and the detector:
the seeded quotes open no route, the notification it POSTs (Keepa's JSON, read by the
receiver's parser) is merged into the FR quote and opens DE -> FR."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from app.contracts.keepa_products import quote_from_message
from app.contracts.seller_profile import DEFAULT_IN_FORCE
from app.domain.asin import ASIN_PATTERN
from app.domain.detection import Pricing, detect
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.keepa_prices import PriceType
from app.domain.markets import Market
from app.domain.notification_merge import merge_notification
from app.domain.policy import DetectionPolicy
from app.domain.quote import MarketQuote
from app.ingest.producer import envelope_record
from app.keepa.tracking.notifications import parse_notification

sys.path.insert(0, str(Path(__file__).parents[3] / "bench"))
import notification_latency as bench

SEEDED = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
POSTED = SEEDED + timedelta(minutes=2, seconds=30)
PRICING = Pricing(
    FxRates(eur_per_gbp=Decimal("1.17"), as_of=SEEDED),
    DEFAULT_IN_FORCE.profile,
    DEFAULT_IN_FORCE.version,
    default_fee_schedule(),
)


def _seeded(asin: str) -> dict[Market, MarketQuote]:
    envelopes = bench.seed_envelopes([asin], SEEDED)
    quotes = [quote_from_message(*envelope_record(e)) for e in envelopes]
    return {q.market: q for q in quotes}


def test_the_seed_opens_no_route_and_the_notification_opens_de_to_fr() -> None:
    asin = bench.asin_of(7)
    quotes = _seeded(asin)
    assert detect(quotes, {}, DetectionPolicy(), PRICING, SEEDED).open == {}

    notification = parse_notification(
        bench.notification_body(asin, POSTED), source="webhook", received_at=POSTED
    )
    assert (notification.asin, notification.market) == (asin, Market.FR)
    assert notification.price(PriceType.BUY_BOX_SHIPPING) == bench.SELL_FR_AFTER
    assert notification.created_at == POSTED.replace(second=0)
    merge = merge_notification(quotes[Market.FR], notification)
    assert merge.outcome == "merged"
    assert merge.quote is not None
    after = {**quotes, Market.FR: merge.quote}
    detection = detect(after, {}, DetectionPolicy(), PRICING, POSTED)
    assert list(detection.open) == [bench.ROUTE]


def test_a_notification_older_than_the_seeded_quote_would_not_be_merged() -> None:
    # Why the bench seeds two minutes before its POSTs (createDate is in whole minutes).
    asin = bench.asin_of(8)
    quote = _seeded(asin)[Market.FR]
    early = parse_notification(
        bench.notification_body(asin, SEEDED - timedelta(minutes=1)),
        source="webhook",
        received_at=SEEDED,
    )
    assert merge_notification(quote, early).outcome == "out_of_order"


def test_figures_count_the_missing_and_take_nearest_rank_percentiles() -> None:
    tracks = [bench.Track(bench.asin_of(i), sent=0.0) for i in range(4)]
    for i, track in enumerate(tracks[:3]):
        track.post_200, track.on_topic, track.in_es = 0.001, 0.1 * (i + 1), 0.2 * (i + 1)
        track.api = 0.3 * (i + 1)
    stages = bench.figures(tracks)
    assert stages["api"] == {
        "p50_ms": 600.0,
        "p90_ms": 900.0,
        "p99_ms": 900.0,
        "max_ms": 900.0,
        "missing": 1,
    }
    assert stages["post_200"]["missing"] == 1
    steps = bench.step_figures(tracks)
    assert steps["in_es->api"]["p50_ms"] == 200.0  # api - in_es = 0.1, 0.2, 0.3 s
    assert steps["sent->post_200"]["max_ms"] == 1.0
    table = bench.format_table({"stages": stages, "steps": steps})
    assert "readable via the API" in table
    assert "step: indexed -> API" in table


@pytest.mark.parametrize("i", [0, 499, 9_999_999])
def test_asins_are_valid_asins(i: int) -> None:
    assert re.fullmatch(ASIN_PATTERN, bench.asin_of(i))
