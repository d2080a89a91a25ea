"""The tracking sync (``arbitrage tracking sync``: :func:`read_inputs` then
:func:`sync_trackings`, as app/ingest/tracking_cli.py calls them) on a watchlist and
``products`` documents in the real Elasticsearch, written by the project's own writers
(:class:`WatchlistStore`, the sink's :func:`product_actions`), against a local HTTP server
speaking Keepa's /tracking JSON (:class:`FakeKeepaTracking`, tests/unit/keepa/keepa_fakes.py).

The profile and rate topics of these tests do not exist: the profile in force is the default
one and EUR/GBP the configured 1.17, as the worker would have them before anything was
published. The sync runs at a fixed time (``NOW``), like the DAG's task at its run's logical
date: the break-evens depend on the date (storage fees by season, the DSF's dates).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from elasticsearch import Elasticsearch, helpers
from pydantic import SecretStr

from app.domain.fx import FxRates
from app.domain.keepa_prices import PriceType
from app.domain.keepa_time import from_keepa_minutes, to_keepa_minutes
from app.domain.markets import Market
from app.domain.watchlist import WatchlistEntry
from app.es.documents import product_actions
from app.es.indices import LOGICAL_INDICES, index_settings, mapping_for
from app.ingest.tracking_sync import SyncReport, read_inputs, sync_trackings, tracking_policy
from app.ingest.watchlist import WatchlistStore
from app.keepa.client import KeepaProductClient
from app.keepa.tracking import KeepaTrackingClient, TrackingRequest
from app.keepa.tracking.plan import armed_at
from app.settings import Settings
from tests.keepa_factory import make_quote
from tests.session_resources import Owned, delete_indices
from tests.unit.keepa.keepa_fakes import API_KEY, FakeKeepaTracking, tracking_object

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
OBSERVED = NOW - timedelta(minutes=15)
FX = FxRates(Decimal("1.17"), OBSERVED)
SECRET = "Zq3vN8xT2mKp7RwYc4HbLs9dQ1w2e3r4"
WEBHOOK = SecretStr(f"https://arbitrage.example.org/keepa/{SECRET}")

HAND, GB_ONLY_BUY, DOOMED, NO_QUOTES = "B0TRKSYN01", "B0TRKSYN02", "B0TRKSYN03", "B0TRKSYN04"
REFUSED = "B0TRKSYN05"
STALE, FOREIGN = "B0TRKSYN06", "B0TRKSYN07"

_BUY = (PriceType.AMAZON, PriceType.NEW_FBA, PriceType.NEW_FBM_SHIPPING, PriceType.NEW)
_SELL = (PriceType.BUY_BOX_SHIPPING, PriceType.NEW_FBA)


@pytest.fixture
def track_settings(es: Elasticsearch, settings: Settings, unique: str) -> Iterator[Settings]:
    """Indices of this test (created as the worker creates them), topics that do not exist,
    EUR/GBP 1.17 until a rate is published."""
    s = settings.model_copy(
        update={
            "elasticsearch_index_prefix": f"{unique}-",
            "topic_prefix": f"{unique}-",
            "fx_gbp_eur": Decimal("1.17"),
            "keepa_tracking_share": 0.5,  # push on (the default pushes nothing)
        }
    )
    for logical in LOGICAL_INDICES:
        es.indices.create(
            index=s.index(logical), mappings=mapping_for(logical), settings=index_settings()
        )
    yield s
    delete_indices(es, Owned.indices_under(f"{unique}-"))


def write_quotes(es: Elasticsearch, settings: Settings, asin: str, *, gb: bool = False) -> None:
    """The ``products`` documents of ``asin`` as the sink writes them: an Amazon offer at
    20.00 in DE (or 15.00 GBP in GB) and an FR buy box at 50.00 (FBA 3.00, 15 % referral)."""
    buy = (
        make_quote(asin, Market.GB, amazon=1500, last_update=OBSERVED)
        if gb
        else make_quote(asin, Market.DE, amazon=2000, last_update=OBSERVED)
    )
    sell = make_quote(
        asin, Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0, last_update=OBSERVED
    )
    actions = [a for q in (buy, sell) for a in product_actions(q, FX, settings.index)]
    helpers.bulk(es, actions, refresh="wait_for")


def our_old_tracking(asin: str, *, meta: str | None) -> dict[str, Any]:
    """Keepa's object of a tracking set a day ago (``meta``: ours, ``None``: someone else's)."""
    minute = to_keepa_minutes(NOW - timedelta(days=1))
    request = TrackingRequest(asin, Market.DE, meta_data=meta)
    return tracking_object(request.to_keepa(), minute=minute)


def thresholds(body: list[dict[str, Any]], asin: str) -> set[tuple[int, int, int, bool]]:
    """(domain, csvType, value, isDrop) of ``asin``'s creation object in an add body."""
    sent = next(t for t in body if t["asin"] == asin)
    return {
        (t["domain"], t["csvType"], t["thresholdValue"], t["isDrop"])
        for t in sent["thresholdValues"]
    }


class Syncer:
    """The sync as the CLI runs it, against the fake's server, at a given time; the Keepa
    client's waits are real and recorded."""

    def __init__(self, es: Elasticsearch, settings: Settings, base_url: str) -> None:
        self.es = es
        self.settings = settings
        self.waits: list[float] = []
        self.http = KeepaProductClient(API_KEY, base_url=base_url, sleep=self._sleep)

    def _sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)

    def __call__(self, now: datetime) -> SyncReport:
        inputs = read_inputs(self.es, self.settings)
        return sync_trackings(
            KeepaTrackingClient(self.http),
            inputs,
            tracking_policy(self.settings),
            webhook_url=WEBHOOK,
            now=now,
        )


def test_sync_mirrors_the_watchlist_idempotently(
    es: Elasticsearch, track_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # The thresholds below are checked on every type our prices come from.
    s = track_settings.model_copy(update={"keepa_tracking_price_types": "marketplace"})
    store = WatchlistStore(es, s)
    store.add(
        [
            WatchlistEntry(HAND, ("DE", "FR"), priority=5),
            WatchlistEntry(GB_ONLY_BUY, ("GB", "FR"), priority=3),
            WatchlistEntry(DOOMED, ("DE", "FR"), priority=1),
            WatchlistEntry(NO_QUOTES, ("DE", "FR"), priority=9),
        ]
    )
    write_quotes(es, s, HAND)
    write_quotes(es, s, GB_ONLY_BUY, gb=True)
    write_quotes(es, s, DOOMED)
    keepa = FakeKeepaTracking(
        trackings={
            STALE: our_old_tracking(STALE, meta="arbitrage-tracker armed=7000000"),
            FOREIGN: our_old_tracking(FOREIGN, meta=None),
        },
        throttle_adds=1,  # the first add is refused: out of tokens, refill in 300 ms
        refill_in_ms=300,
        minute=to_keepa_minutes(NOW),
    )
    with keepa.serve() as url:
        sync = Syncer(es, s, url)
        try:
            first = sync(NOW)

            assert keepa.errors == []
            assert set(first.added) == {HAND, GB_ONLY_BUY, DOOMED}
            assert first.removed == [STALE]  # ours, no longer watched
            assert first.foreign == [FOREIGN]  # someone else's: left alone
            assert first.failed == []
            assert first.polling == {NO_QUOTES: "quotes in < 2 markets"}
            assert set(keepa.trackings) == {HAND, GB_ONLY_BUY, DOOMED, FOREIGN}
            assert keepa.webhook == WEBHOOK.get_secret_value()
            # The 429 was waited out (Keepa's refillIn 300 ms + the client's 1 s margin), then
            # the same add went through: 3 trackings, 1 token each.
            assert keepa.kinds().count("add") == 2
            assert len(keepa.add_bodies) == 1
            assert sync.waits
            assert sync.waits[0] >= 0.3
            assert first.tokens_spent == 3
            # Before: 2 trackings -> 20 - 2; after the remove: 4 trackings -> 20 - 4.
            assert first.before is not None
            assert first.before.refill_rate == 18
            assert first.after is not None
            assert first.after.refill_rate == 16
            assert first.after.token_flow_reduction == 4.0

            body = keepa.add_bodies[0]
            # HAND, by hand (docs/pricing.md; tests/unit/domain/test_breakeven.py): default
            # profile on 2026-03-02, EUR/GBP 1.17. Lines that do not depend on the price: FBA
            # 300, DSF 2 % of the referral + 2 % of FBA (6), storage one March month 4,
            # inbound 450 + 5 x 12 = 510.
            # * DE buy at X against the FR buy box 50.00: 5000 / 1.2 = 4166.67 -> 4167;
            #   referral 15 % = 750; DSF 15 + 6 = 21; profit = 4167 - 750 - 300 - 21 - 4 - 510
            #   - round(X / 1.19) = 2582 - round(X / 1.19) >= 500 <=> round(X / 1.19) <= 2082
            #   (ROI 15 % is looser): X = 2478 -> 2082.35 -> 2082 opens, 2479 -> 2083 does not.
            #   Break-even 2478: notify on a drop below 2478 + 1 = 2479 of every buy type.
            # * FR sell at P against DE Amazon 20.00 (2000 / 1.19 = 1681 net): investment 1681
            #   + 510 + 4 = 2195, 15 % ROI = 329: the 5.00 minimum binds; profit(P) =
            #   round(P / 1.2) - round(0.15 P) - 300 - (round(0.02 x referral) + 6) - 4 - 510
            #   - 1681: P = 4411: 3676 - 662 - 300 - 19 - 4 - 510 - 1681 = 500 opens; 4410:
            #   3675 - 662 - ... = 499 does not. Notify on a rise above 4411 - 1 = 4410.
            # Main market DE (the first euro market): no conversion.
            de, fr, gb = (m.keepa_domain_id for m in (Market.DE, Market.FR, Market.GB))
            assert thresholds(body, HAND) == {(de, int(t), 2479, True) for t in _BUY} | {
                (fr, int(t), 4410, False) for t in _SELL
            }
            hand = next(t for t in body if t["asin"] == HAND)
            assert hand["mainDomainId"] == de
            assert hand["desiredPricesInMainCurrency"] is True
            assert hand["notificationType"][5] is True  # the API channel: webhook and queue
            assert armed_at(hand["metaData"]) == NOW
            # GB_ONLY_BUY: main market FR; its GB buy break-even 16.22 GBP (the planner's
            # doc): drop below 1623 p -> 1623 x 1.17 x 1.02 = 1936.89 -> 1937 euro cents.
            gb_sent = next(t for t in body if t["asin"] == GB_ONLY_BUY)
            assert gb_sent["mainDomainId"] == fr
            assert {(gb, int(t), 1937, True) for t in _BUY} <= thresholds(body, GB_ONLY_BUY)
            lines = "\n".join(first.lines())
            assert "added 3, updated 0, re-armed 0, removed 1, unchanged 0, failed 0" in lines
            assert "webhook: set to a URL on arbitrage.example.org" in lines

            # Nothing changed: a second sync adds and removes nothing and spends no token.
            keepa.calls.clear()
            second = sync(NOW + timedelta(minutes=15))
            assert set(keepa.kinds()) == {"list", "get", "webhook"}
            assert set(second.unchanged) == {HAND, GB_ONLY_BUY, DOOMED}
            assert second.added == second.updated == second.rearmed == second.removed == []
            assert second.tokens_spent == 0

            # DOOMED leaves the watchlist: its tracking goes, nothing else moves.
            assert store.remove([DOOMED]) == 1
            keepa.calls.clear()
            third = sync(NOW + timedelta(minutes=30))
            assert third.removed == [DOOMED]
            assert "add" not in keepa.kinds()
            assert set(keepa.trackings) == {HAND, GB_ONLY_BUY, FOREIGN}

            # HAND's threshold fires (cause DESIRED_PRICE): the next sync re-arms it alone.
            keepa.fire(HAND, to_keepa_minutes(NOW + timedelta(minutes=40)))
            keepa.minute = to_keepa_minutes(NOW + timedelta(minutes=45))
            fourth = sync(NOW + timedelta(minutes=45))
            assert fourth.rearmed == [HAND]
            assert [t["asin"] for t in keepa.add_bodies[-1]] == [HAND]
            rearmed = keepa.trackings[HAND]["metaData"]
            assert armed_at(rearmed) == NOW + timedelta(minutes=45)
            assert from_keepa_minutes(keepa.trackings[HAND]["createDate"]) == (
                NOW + timedelta(minutes=45)
            )
            keepa.calls.clear()
            assert sync(NOW + timedelta(hours=1)).unchanged == [HAND, GB_ONLY_BUY]
            assert "add" not in keepa.kinds()
        finally:
            sync.http.close()
    assert SECRET not in caplog.text
    assert API_KEY not in caplog.text


def test_regular_price_types_send_amazon_and_new_only(
    es: Elasticsearch, track_settings: Settings
) -> None:
    s = track_settings.model_copy(update={"keepa_tracking_price_types": "regular"})
    WatchlistStore(es, s).add([WatchlistEntry(HAND, ("DE", "FR"), priority=5)])
    write_quotes(es, s, HAND)
    keepa = FakeKeepaTracking(minute=to_keepa_minutes(NOW))
    with keepa.serve() as url:
        sync = Syncer(es, s, url)
        try:
            first = sync(NOW)
            assert first.added == [HAND]
            # The break-evens of the marketplace test (DE buy 24.78, FR sell 44.11) on Keepa's
            # regular types: DE drops of AMAZON and NEW, an FR rise of NEW.
            de, fr = Market.DE.keepa_domain_id, Market.FR.keepa_domain_id
            assert thresholds(keepa.add_bodies[0], HAND) == {
                (de, int(PriceType.AMAZON), 2479, True),
                (de, int(PriceType.NEW), 2479, True),
                (fr, int(PriceType.NEW), 4410, False),
            }
            # 0.9 tokens per update, 2 markets, hourly: 0.03 tokens/min of the plan.
            assert first.flow_planned == pytest.approx(0.9 * 2 / 60)
            assert sync(NOW + timedelta(minutes=15)).unchanged == [HAND]
        finally:
            sync.http.close()
    assert keepa.errors == []


def test_an_asin_keepa_refuses_is_reported_and_tried_again(
    es: Elasticsearch, track_settings: Settings
) -> None:
    s = track_settings
    WatchlistStore(es, s).add(
        [WatchlistEntry(HAND, ("DE", "FR"), priority=5), WatchlistEntry(REFUSED, ("DE", "FR"))]
    )
    write_quotes(es, s, HAND)
    write_quotes(es, s, REFUSED)
    keepa = FakeKeepaTracking(refuse=frozenset({REFUSED}), minute=to_keepa_minutes(NOW))
    with keepa.serve() as url:
        sync = Syncer(es, s, url)
        try:
            first = sync(NOW)
            assert first.added == [HAND]
            assert [(f.asin, f.reason) for f in first.failed] == [
                (REFUSED, f"invalidParameter - Could not add all trackings. - {REFUSED}")
            ]
            assert f"failed {REFUSED}: invalidParameter" in "\n".join(first.lines())
            assert set(keepa.trackings) == {HAND}
            assert first.to_dict()["failed"] == {REFUSED: first.failed[0].reason}

            # Not tracked, still chosen: the next sync asks for it again, and only for it.
            second = sync(NOW + timedelta(minutes=15))
            assert [t["asin"] for t in keepa.add_bodies[-1]] == [REFUSED]
            assert second.unchanged == [HAND]
            assert [f.asin for f in second.failed] == [REFUSED]
        finally:
            sync.http.close()
    assert keepa.errors == []
