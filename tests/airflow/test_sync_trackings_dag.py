"""``keepa_ingest``'s ``sync_trackings`` task (``dag.test()``) with ``KEEPA_WEBHOOK_URL`` set:
it really syncs, against a local HTTP server speaking Keepa's /product and /tracking JSON
(:class:`FakeKeepa` with a :class:`FakeKeepaTracking`), from the watchlist and ``products``
documents in the real Elasticsearch.

Settings reach the task as they reach every task of the DAG: the app's ``Settings`` from the
environment (dags/arbitrage_dags/config.py: connection settings and secrets, the Keepa key
among them, are not Airflow Variables), set with ``monkeypatch`` for this test only, like the
``isolated`` fixture does (tests/env_guard.py checks that nothing leaks). Without the webhook
URL (every other DAG test) the task succeeds and skips the sync.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from elasticsearch import AsyncElasticsearch, Elasticsearch, helpers

from app.domain.fx import FxRates
from app.domain.keepa_prices import PriceType
from app.domain.keepa_time import to_keepa_minutes
from app.domain.markets import Market
from app.domain.watchlist import WatchlistEntry
from app.es.documents import product_actions
from app.es.indices import ensure_indices
from app.ingest.watchlist import WatchlistStore
from app.keepa.tracking import TrackingRequest
from app.settings import Settings
from tests.airflow.airflow_support import run_dag
from tests.airflow.keepa_fake import FakeKeepa
from tests.keepa_factory import make_quote
from tests.unit.keepa.keepa_fakes import API_KEY, FakeKeepaTracking, tracking_object

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)  # the run's logical date: the sync's time
OBSERVED = NOW - timedelta(minutes=15)
SECRET = "Zq3vN8xT2mKp7RwYc4HbLs9dQ1w2e3r4"
WEBHOOK = f"https://arbitrage.example.org/keepa/{SECRET}"
ASIN, GONE = "B0AFTRK001", "B0AFTRK002"


def _prepare(settings: Settings, es: Elasticsearch) -> None:
    """Indices as the worker creates them, the watchlist, and its quotes as the sink writes
    them: DE Amazon 20.00, FR buy box 50.00 (FBA 3.00, 15 % referral)."""

    async def indices() -> None:
        async with AsyncElasticsearch(settings.elasticsearch_url) as client:
            await ensure_indices(client, settings)

    asyncio.run(indices())
    assert WatchlistStore(es, settings).add([WatchlistEntry(ASIN, ("DE", "FR"), priority=5)])
    fx = FxRates(Decimal("1.17"), OBSERVED)
    quotes = [
        make_quote(ASIN, Market.DE, amazon=2000, last_update=OBSERVED),
        make_quote(
            ASIN, Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0, last_update=OBSERVED
        ),
    ]
    actions = [a for q in quotes for a in product_actions(q, fx, settings.index)]
    helpers.bulk(es, actions, refresh="wait_for")


def test_sync_trackings_task_syncs_when_a_webhook_url_is_set(
    isolated: Settings,
    es: Elasticsearch,
    airflow_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    _prepare(isolated, es)
    minute = to_keepa_minutes(NOW - timedelta(days=1))
    # A tracking this tool set a day ago, of an ASIN no longer watched.
    request = TrackingRequest(GONE, Market.DE, meta_data=f"arbitrage-tracker armed={minute}")
    gone = tracking_object(request.to_keepa(), minute=minute)
    tracking = FakeKeepaTracking(trackings={GONE: gone}, minute=to_keepa_minutes(NOW))
    keepa = FakeKeepa(tracking=tracking)
    with keepa.serve() as url:
        monkeypatch.setenv("KEEPA_API_URL", url)
        monkeypatch.setenv("KEEPA_WEBHOOK_URL", WEBHOOK)
        monkeypatch.setenv("KEEPA_TRACKING_SHARE", "0.5")  # the default pushes nothing
        dag_run, states = run_dag("keepa_ingest", logical_date=NOW, retries=0)

    assert str(dag_run.state) == "success", states
    assert states["sync_trackings"] == "success"
    assert keepa.errors == tracking.errors == []
    assert tracking.webhook == WEBHOOK
    assert set(tracking.trackings) == {ASIN}  # added; GONE (ours, unwatched) removed
    (body,) = tracking.add_bodies
    (sent,) = body
    # The break-evens of tests/integration/ingest/test_tracking_sync.py's HAND (same quotes,
    # same date), on the default regular price types: DE drop below 2479 of Amazon and New,
    # FR rise of New above 4410.
    de, fr = Market.DE.keepa_domain_id, Market.FR.keepa_domain_id
    buy = (PriceType.AMAZON, PriceType.NEW)
    sell = (PriceType.NEW,)
    assert {
        (t["domain"], t["csvType"], t["thresholdValue"], t["isDrop"])
        for t in sent["thresholdValues"]
    } == {(de, int(t), 2479, True) for t in buy} | {(fr, int(t), 4410, False) for t in sell}
    assert sent["metaData"] == f"arbitrage-tracker armed={to_keepa_minutes(NOW)}"

    # The task's report, in its log: GONE removed, no token spent but the add's.
    assert "added 1, updated 0, re-armed 0, removed 1, unchanged 0, failed 0" in caplog.text
    assert "tokens spent 1;" in caplog.text
    output = "".join(capfd.readouterr()) + caplog.text
    assert API_KEY not in output
    assert SECRET not in output
    for path in airflow_home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert API_KEY.encode() not in data, path
            assert SECRET.encode() not in data, path
