"""Alerts end to end: Keepa envelopes into a real worker process, notifications out to a local
HTTP receiver (plain JSON POSTs by httpx, Apprise targets by Apprise's own plugins), the record
in the real Elasticsearch.

Four webhooks on one receiver (paths tell them apart):

* ``json-hook`` (plain JSON webhook, default thresholds 500 cents / ROI 0.2): its first
  request gets a 500, so the first notification is delivered on the second attempt;
* ``apprise-hook`` (Apprise ``json://``, min profit 950 cents): A (888) is below its
  threshold, B (984) is not; its first request gets a 503, retried by our loop;
* ``form-hook`` (Apprise ``form://``, sell market IT only): nothing here sells on IT;
* ``mattermost-hook`` (Apprise ``mmost://``, Mattermost's Slack-style incoming webhook on its
  own host; default thresholds; a secret token in the URL that must never reach the logs).

A: DE 2000 -> FR 5000 opens at 888 cents (ROI 888 / 2197 = 0.4042), then FR 5600 makes an
``updated`` event at 1296 cents (above every threshold: updates must still not notify).
B: DE 2000 -> GB 5000 p opens at 984 cents (ROI 984 / 2697 = 0.3648). Both as in
tests/integration/test_topology.py (storage 6 cents each in November). Default seller profile
on 2026-11-20; the arithmetic is in tests/integration/test_topology.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from app.alerts.event import parse_opportunity
from app.alerts.rules import alert_id
from app.domain.markets import Market
from app.settings import Settings
from tests.integration.drain import wait_worker_drained
from tests.integration.worker_process import (
    FIXED_TIME_DATA,
    WorkerProcess,
    consume_until,
    envelope_bytes,
    events_of,
    produce,
    wait_for,
)
from tests.keepa_factory import envelope, keepa_product
from tests.session_resources import resource_name
from tests.webhook_receiver import Receiver, Reply, running_receiver

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
A, B = "B0ALERTS01", "B0ALERTS02"
MM_TOKEN = "SECRETTOKEN4mattermost"
MM_PATH = f"/hooks/{MM_TOKEN}"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        r.script["/json"] = [Reply(500, b"boom")]
        r.script["/apprise"] = [Reply(503, b"busy")]
        yield r


def webhooks(receiver: Receiver) -> list[dict[str, Any]]:
    return [
        {"name": "json-hook", "url": receiver.url("/json"), "format": "json"},
        {
            "name": "apprise-hook",
            "url": f"json://127.0.0.1:{receiver.port}/apprise",
            "min_profit_eur_cents": 950,
        },
        {
            "name": "form-hook",
            "url": f"form://127.0.0.1:{receiver.port}/form",
            "markets": {"sell": ["IT"]},
        },
        {"name": "mattermost-hook", "url": f"mmost://127.0.0.1:{receiver.port}/{MM_TOKEN}"},
    ]


def env(asin: str, market: Market, at: datetime = T0, **prices: Any) -> tuple[bytes, bytes]:
    prices.setdefault("referral_pct", 15.0)
    product = keepa_product(asin, market, last_update=at, weight_g=500, **prices)
    return envelope_bytes(envelope(product, at + timedelta(minutes=5)))


def start_worker(
    base: Path, name: str, settings: Settings, receiver: Receiver, app_id: str | None = None
) -> WorkerProcess:
    extra = {
        **FIXED_TIME_DATA,
        "ALERT_WEBHOOKS": json.dumps(webhooks(receiver)),
        "ALERT_MAX_ATTEMPTS": "3",
        "ALERT_BACKOFF_BASE_S": "0.2",
        "ALERT_RATE_LIMIT_PER_MINUTE": "120",
    }
    if app_id is not None:
        extra["FAUST_APP_ID"] = app_id
    tag = app_id or name
    process = WorkerProcess(
        name, base / f"data-{tag}", base / f"worker-{tag}.log", settings, extra_env=extra
    )
    process.start()
    return process


def counter_at_least(worker: WorkerProcess, name: str, n: int) -> bool:
    return worker.counter(name) >= n


async def test_notifications_once_per_new_opportunity_with_retries_and_replays(
    tmp_path: Path,
    settings: Settings,
    stack: Any,
    kafka_bootstrap: str,
    es: Elasticsearch,
    receiver: Receiver,
) -> None:
    name = resource_name("alrt")
    worker = start_worker(tmp_path, name, settings, receiver)
    s = worker.settings
    try:
        # 1. A opens (888 cents): json-hook (500 then retried) and mattermost-hook notified.
        await produce(
            kafka_bootstrap,
            s.topic("keepa.products"),
            [env(A, Market.DE, amazon=2000), env(A, Market.FR, buy_box=5000, fba_fee=300)],
        )
        await wait_for(
            lambda: len(receiver.delivered("/json")) == 1 and len(receiver.delivered(MM_PATH)) == 1,
            60,
            f"the first notifications; worker log:\n{worker.tail()}",
        )
        assert len(receiver.to("/json")) == 2  # 500, then the retry
        json_body = receiver.delivered("/json")[0].json()
        assert json_body["event"]["asin"] == A
        assert json_body["event"]["event"] == "opened"
        assert json_body["event"]["profit_eur_cents"] == 888
        assert json_body["summary"].startswith("New opportunity DE → FR: €8.88 profit, ROI 40.4 %")
        mattermost = receiver.delivered(MM_PATH)[0].json()
        assert mattermost["username"] == "EU Arbitrage Tracker"
        assert mattermost["text"].startswith("New opportunity DE → FR: €8.88 profit, ROI 40.4 %")
        assert f"(ASIN {A})" in mattermost["text"]

        # The record: attempts=2, sent, for json-hook; the id is the dedup key's hash.
        a_opened = parse_opportunity(json_body["event"])
        es.indices.refresh(index=s.index("alerts"))
        record = es.get(index=s.index("alerts"), id=alert_id("json-hook", a_opened))["_source"]
        assert record["status"] == "sent"
        assert record["attempts"] == 2
        assert record["http_status"] == 200
        assert [a["http_status"] for a in record["attempt_log"]] == [500, 200]
        assert record["dedup_key"] == f"json-hook|{A}|DE:FR|2026-11-20T12:00:00Z"
        assert record["sent_at"] is not None

        # 2. A updated (1296 cents, above every threshold) and B opened (984 cents).
        later = T0 + timedelta(hours=1)
        await produce(
            kafka_bootstrap,
            s.topic("keepa.products"),
            [
                env(A, Market.FR, later, buy_box=5600, fba_fee=300),
                env(B, Market.DE, amazon=2000),
                env(B, Market.GB, buy_box=5000, fba_fee=250),
            ],
        )
        records = await consume_until(
            kafka_bootstrap, s.topic("arbitrage.opportunities"), lambda r: len(r) >= 3
        )
        events = events_of(records)
        assert sorted((e["asin"], e["event"]) for e in events) == [
            (A, "opened"),
            (A, "updated"),
            (B, "opened"),
        ]
        # Skipped: A opened 2 (apprise below profit, form markets), B opened 1 (form),
        # A updated 4 (every webhook). Sent: A 2 (json, mattermost), B 3 (json, apprise,
        # mattermost).
        await wait_for(
            lambda: (
                counter_at_least(worker, "alerts_skipped", 7)
                and counter_at_least(worker, "alerts_sent", 5)
            ),
            60,
            f"the second batch of alerts; worker log:\n{worker.tail()}",
        )
        assert [r.json()["event"]["asin"] for r in receiver.delivered("/json")] == [A, B]
        assert [r.status for r in receiver.to("/apprise")] == [503, 200]  # our retry
        apprise_body = receiver.delivered("/apprise")[0].json()
        assert apprise_body["title"].startswith("New opportunity DE → GB: €9.84 profit, ROI 36.5 %")
        assert f"(ASIN {B})" in apprise_body["message"]
        assert len(receiver.delivered(MM_PATH)) == 2
        assert receiver.to("/form") == []
        assert worker.counter("alerts_failed") == 0
        assert worker.counter("alerts_error") == 0
        es.indices.refresh(index=s.index("alerts"))
        b_opened = parse_opportunity(receiver.delivered("/json")[1].json()["event"])
        record = es.get(index=s.index("alerts"), id=alert_id("apprise-hook", b_opened))["_source"]
        assert (record["status"], record["attempts"], record["format"]) == ("sent", 2, "apprise")
        assert [a["http_status"] for a in record["attempt_log"]] == [503, None]
        assert "error=503" in record["attempt_log"][0]["error"]
        before = receiver.snapshot()

        # 3a. The opened events redelivered on the topic: nothing is sent again.
        opened = [
            (r.key, r.value) for r, e in zip(records, events, strict=True) if e["event"] == "opened"
        ]
        await produce(kafka_bootstrap, s.topic("arbitrage.opportunities"), opened)
        await wait_for(
            lambda: counter_at_least(worker, "alerts_duplicate", 5),
            60,
            f"the duplicates; worker log:\n{worker.tail()}",
        )
        await wait_worker_drained(worker)
        assert receiver.snapshot() == before
    finally:
        worker.stop()

    # 3b. A new consumer group replays both topics from the start (the detector re-emits the
    # same events, and every event on the topic is read again): the alerts index remembers.
    replayer = start_worker(tmp_path, name, settings, receiver, app_id=f"arbitrage-{name}-replay")
    try:
        # 6 opened events on the topic now (2 original, 2 redelivered, 2 re-detected), each
        # a duplicate for its webhooks: A 2 (json, mattermost), B 3 (json, apprise, mattermost).
        await wait_for(
            lambda: counter_at_least(replayer, "alerts_duplicate", 15),
            90,
            f"the replayed duplicates; worker log:\n{replayer.tail()}",
        )
        await wait_worker_drained(replayer)
        assert replayer.counter("alerts_duplicate") == 15
        assert replayer.counter("alerts_sent") == 0
        assert receiver.snapshot() == before
        es.indices.refresh(index=s.index("alerts"))
        assert es.count(index=s.index("alerts"))["count"] == 5
    finally:
        replayer.stop()
    for process in (worker, replayer):
        assert "SECRETTOKEN" not in process.tail(100_000)
