"""Alerts end to end: Keepa envelopes into a real worker process, notifications out to a local
HTTP receiver, the record in the real Elasticsearch.

Four webhooks on one receiver (paths tell them apart):

* ``json-hook`` (generic JSON, default thresholds 500 cents / ROI 0.2): its first request
  gets a 500, so the first notification is delivered on the second attempt;
* ``slack-hook`` (min profit 1000 cents): A (926) is below its threshold, B (1013) is not;
* ``discord-hook`` (sell market IT only): nothing here sells on IT;
* ``telegram-hook`` (default thresholds, a bot-token URL and a chat id).

A: DE 2000 -> FR 5000 opens at 926 cents (ROI 0.4226), then FR 5600 makes an ``updated``
event at 1336 cents (above every threshold: updates must still not notify). B: DE 2000 -> GB
5000 p opens at 1013 cents. The arithmetic is in tests/integration/test_topology.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from elasticsearch import Elasticsearch

from app.alerts.event import parse_opportunity
from app.alerts.rules import alert_id
from app.domain.markets import Market
from app.settings import Settings
from tests.integration.drain import wait_worker_drained
from tests.integration.worker_process import (
    WorkerProcess,
    consume_until,
    envelope_bytes,
    events_of,
    produce,
    wait_for,
)
from tests.keepa_factory import envelope, keepa_product
from tests.session_resources import resource_name

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
A, B = "B0ALERTS01", "B0ALERTS02"
TELEGRAM_PATH = "/bot123456:SECRETTOKEN/sendMessage"


class Receiver:
    """A webhook receiver on 127.0.0.1 that records every request; ``fail_first[path] = n``
    answers the first ``n`` requests to ``path`` with a 500."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, int, Any]] = []
        self.fail_first: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = orjson.loads(self.rfile.read(length))
                with receiver.lock:
                    status = 500 if receiver.fail_first.get(self.path, 0) > 0 else 200
                    if status == 500:
                        receiver.fail_first[self.path] -= 1
                    receiver.requests.append((self.path, status, body))
                reply = b'{"ok": true}' if status == 200 else b"boom"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def delivered(self, path: str) -> list[Any]:
        with self.lock:
            return [body for p, status, body in self.requests if p == path and status == 200]

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for p, _, _ in self.requests if p == path)

    def snapshot(self) -> list[tuple[str, int]]:
        with self.lock:
            return [(p, status) for p, status, _ in self.requests]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.fail_first["/json"] = 1
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def webhooks(receiver: Receiver) -> list[dict[str, Any]]:
    return [
        {"name": "json-hook", "url": receiver.url("/json"), "format": "json"},
        {
            "name": "slack-hook",
            "url": receiver.url("/slack"),
            "format": "slack",
            "min_profit_eur_cents": 1000,
        },
        {
            "name": "discord-hook",
            "url": receiver.url("/discord"),
            "format": "discord",
            "markets": {"sell": ["IT"]},
        },
        {
            "name": "telegram-hook",
            "url": receiver.url(TELEGRAM_PATH),
            "format": "telegram",
            "chat_id": "4242",
        },
    ]


def env(asin: str, market: Market, at: datetime = T0, **prices: Any) -> tuple[bytes, bytes]:
    prices.setdefault("referral_pct", 15.0)
    product = keepa_product(asin, market, last_update=at, weight_g=500, **prices)
    return envelope_bytes(envelope(product, at + timedelta(minutes=5)))


def start_worker(
    base: Path, name: str, settings: Settings, receiver: Receiver, app_id: str | None = None
) -> WorkerProcess:
    extra = {
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
        # 1. A opens (926 cents): json-hook (500 then retried) and telegram-hook notified.
        await produce(
            kafka_bootstrap,
            s.topic("keepa.products"),
            [env(A, Market.DE, amazon=2000), env(A, Market.FR, buy_box=5000, fba_fee=300)],
        )
        await wait_for(
            lambda: (
                len(receiver.delivered("/json")) == 1
                and len(receiver.delivered(TELEGRAM_PATH)) == 1
            ),
            60,
            f"the first notifications; worker log:\n{worker.tail()}",
        )
        assert receiver.count("/json") == 2  # 500, then the retry
        (json_body,) = receiver.delivered("/json")
        assert json_body["event"]["asin"] == A
        assert json_body["event"]["event"] == "opened"
        assert json_body["event"]["profit_eur_cents"] == 926
        assert json_body["summary"].startswith("New opportunity DE → FR: €9.26 profit, ROI 42.3 %")
        (telegram_body,) = receiver.delivered(TELEGRAM_PATH)
        assert telegram_body["chat_id"] == "4242"
        assert telegram_body["parse_mode"] == "HTML"
        assert "Profit <b>€9.26</b>" in telegram_body["text"]

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

        # 2. A updated (1336 cents, above every threshold) and B opened (1013 cents).
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
        # Skipped: A opened 2 (slack below profit, discord markets), B opened 1 (discord),
        # A updated 4 (every webhook). Sent: A 2 (json, telegram), B 3 (json, slack, telegram).
        await wait_for(
            lambda: (
                counter_at_least(worker, "alerts_skipped", 7)
                and counter_at_least(worker, "alerts_sent", 5)
            ),
            60,
            f"the second batch of alerts; worker log:\n{worker.tail()}",
        )
        assert [b["event"]["asin"] for b in receiver.delivered("/json")] == [A, B]
        (slack_body,) = receiver.delivered("/slack")
        assert "€10.13 profit" in slack_body["text"]
        assert slack_body["blocks"][0]["type"] == "header"
        assert len(receiver.delivered(TELEGRAM_PATH)) == 2
        assert receiver.count("/discord") == 0
        assert worker.counter("alerts_failed") == 0
        assert worker.counter("alerts_error") == 0
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
        # a duplicate for its webhooks: A 2 (json, telegram), B 3 (json, slack, telegram).
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
