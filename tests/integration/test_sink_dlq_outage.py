"""The sink never acknowledges what it did not settle: while the broker refuses its dead
letters, the batch holding them stays uncommitted, and once the DLQ takes them again every
document is either indexed or dead-lettered (a real worker process with RocksDB on the real
broker and Elasticsearch; the failure is the broker's own refusal, nothing is faked)."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from elasticsearch import Elasticsearch

from app.contracts.dead_letters import SINK_DEAD_LETTER, SinkDeadLetter
from app.contracts.observations import Observation
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.es.documents import product_id
from app.settings import Settings
from devtools.stack import StackManager
from tests.integration.drain import wait_committed_after_now, wait_drained
from tests.integration.worker_process import (
    FIXED_TIME_DATA,
    WorkerProcess,
    consume_until,
    events_of,
    wait_for,
)
from tests.keepa_factory import make_quote
from tests.session_resources import Owned, delete_owned, resource_name

pytestmark = pytest.mark.asyncio(loop_scope="session")

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
FX = FxRates(eur_per_gbp=Decimal("1.17"), as_of=T0)
#: Smaller than any record batch: the broker refuses every produce (MESSAGE_TOO_LARGE).
REFUSING = "16"
ACCEPTING = "1048588"


@pytest.fixture
async def worker(
    tmp_path: Path, settings: Settings, stack: StackManager, es: Elasticsearch
) -> AsyncIterator[WorkerProcess]:
    process = WorkerProcess(
        resource_name("dl"),
        tmp_path / "data",
        tmp_path / "w.log",
        settings,
        extra_env=FIXED_TIME_DATA,
    )
    yield process
    process.stop()
    await delete_owned(settings.kafka_bootstrap_servers, es, Owned.of(process.settings))


def observation(asin: str, minutes: int = 0, **changes: Any) -> dict[str, Any]:
    quote = make_quote(
        asin=asin, market=Market.DE, amazon=2000, last_update=T0 + timedelta(minutes=minutes)
    )
    message: dict[str, Any] = msgspec.to_builtins(Observation.from_quote(quote, FX))
    return {**message, **changes}


def letters_of(records: list[Any]) -> list[SinkDeadLetter]:
    return [SINK_DEAD_LETTER.decode(r.value) for r in records]


async def publish(bootstrap: str, topic: str, values: list[tuple[str, Any]]) -> list[Any]:
    """Publish ``(key, JSON value)`` pairs; their record metadata (partition, offset)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        return [
            await producer.send_and_wait(topic, orjson.dumps(value), key=key.encode())
            for key, value in values
        ]
    finally:
        await producer.stop()


async def set_max_message_bytes(admin: AIOKafkaAdminClient, topic: str, value: str) -> None:
    await admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": value})]
    )


async def committed(admin: AIOKafkaAdminClient, group: str) -> dict[TopicPartition, int]:
    offsets = await admin.list_consumer_group_offsets(group)
    return {tp: meta.offset for tp, meta in offsets.items()}


def indexed(es: Elasticsearch, index: str, ids: list[str]) -> int:
    if not es.indices.exists(index=index):
        return 0
    found = es.mget(index=index, ids=ids)["docs"]
    return sum(1 for doc in found if doc.get("found"))


async def test_a_refused_dead_letter_keeps_its_batch_until_it_is_delivered(
    worker: WorkerProcess, kafka_bootstrap: str, es: Elasticsearch
) -> None:
    s = worker.settings
    dlq, source = s.topic("arbitrage.sink.dlq"), s.topic("arbitrage.observations")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        # The sink's DLQ exists, but the broker refuses every record sent to it.
        await admin.create_topics(
            [
                NewTopic(
                    dlq,
                    num_partitions=s.topic_partitions,
                    replication_factor=1,
                    topic_configs={"max.message.bytes": REFUSING},
                )
            ]
        )
        worker.start()

        good = [f"B0DLQGOOD{i}" for i in range(6)]
        sent = await publish(
            kafka_bootstrap,
            source,
            [
                *[(asin, observation(asin)) for asin in good[:3]],
                ("B0DLQBAD01", {"not": "an observation"}),  # not the contract: unreadable
                # the contract takes any positive rank; Elasticsearch's long does not: ES 400
                ("B0DLQBAD02", observation("B0DLQBAD02", sales_rank=2**63)),
                *[(asin, observation(asin)) for asin in good[3:]],
            ],
        )
        bad = sent[3:5]
        product_ids = [product_id(asin, Market.DE) for asin in good]
        products = s.index("products")
        await wait_for(
            lambda: indexed(es, products, product_ids) == len(good), 60, "the good documents"
        )
        # The dead letters were refused, and a commit ran after that: had the batch been
        # acknowledged anyway, its offsets would be committed now.
        await wait_for(lambda: worker.counter("sink_dlq_failures") > 0, 60, "a refused letter")
        await wait_committed_after_now(worker)

        # Nothing reached the DLQ, and the offsets of the batch with the dead letters are
        # not committed: each bad message's partition is committed at most up to it.
        assert events_of(await consume_until(kafka_bootstrap, dlq, lambda r: False, 2)) == []
        group = await committed(admin, s.faust_app_id)
        for meta in bad:
            position = group.get(TopicPartition(source, meta.partition), 0)
            assert position <= meta.offset, f"{meta} was committed while unsettled"
        assert worker.alive()

        # The DLQ takes records again: the retried dead letters arrive.
        await set_max_message_bytes(admin, dlq, ACCEPTING)
        records = await consume_until(kafka_bootstrap, dlq, lambda r: len(r) >= 3, 90)
        letters = letters_of(records)
        assert len(letters) == 3
        unreadable = [x for x in letters if x.message is not None]
        assert [orjson.loads(x.message) for x in unreadable] == [{"not": "an observation"}]
        assert unreadable[0].reason == "invalid_shape"
        assert unreadable[0].source_topic == source
        rejected = sorted(x.action["_id"] for x in letters if x.action is not None)
        assert rejected[0] == product_id("B0DLQBAD02", Market.DE)
        assert rejected[1].startswith(product_id("B0DLQBAD02", Market.DE) + ":")  # history
        assert all(
            x.reason == "rejected" and x.error.startswith("400") for x in letters if x.action
        )
        assert indexed(es, products, product_ids) == len(good)

        # ... and then the batch is acknowledged: every partition's offset is committed.
        await wait_drained(kafka_bootstrap, s.faust_app_id, [source], timeout_s=30)
        assert worker.counter("sink_dlq_failures") > 0
        assert worker.alive()
    finally:
        await admin.close()


async def test_a_worker_stopped_with_refused_dead_letters_puts_the_batch_back(
    worker: WorkerProcess, kafka_bootstrap: str, es: Elasticsearch
) -> None:
    s = worker.settings
    dlq, source = s.topic("arbitrage.sink.dlq"), s.topic("arbitrage.observations")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(
                    dlq,
                    num_partitions=s.topic_partitions,
                    replication_factor=1,
                    topic_configs={"max.message.bytes": REFUSING},
                )
            ]
        )
        worker.start()
        good = [f"B0DLQSTOP{i}" for i in range(4)]
        sent = await publish(
            kafka_bootstrap,
            source,
            [
                *[(asin, observation(asin)) for asin in good[:2]],
                ("B0DLQBAD03", {"not": "an observation either"}),
                *[(asin, observation(asin)) for asin in good[2:]],
            ],
        )
        product_ids = [product_id(asin, Market.DE) for asin in good]
        products = s.index("products")
        await wait_for(lambda: indexed(es, products, product_ids) == len(good), 60, "documents")
        await wait_for(lambda: worker.counter("sink_dlq_failures") > 0, 60, "a refused letter")

        # SIGTERM while the dead letter is refused: the worker stops in time.
        assert worker.proc is not None
        started = time.monotonic()
        os.killpg(worker.proc.pid, signal.SIGTERM)
        worker.proc.wait(timeout=45)
        assert time.monotonic() - started < 45
        assert events_of(await consume_until(kafka_bootstrap, dlq, lambda r: False, 2)) == []

        # The DLQ takes records again and the worker restarts: the letter is not lost.
        await set_max_message_bytes(admin, dlq, ACCEPTING)
        worker.start()
        records = await consume_until(kafka_bootstrap, dlq, lambda r: len(r) >= 1, 90)
        assert [orjson.loads(x.message or "") for x in letters_of(records)] == [
            {"not": "an observation either"}
        ]

        # How: the unsettled batch was put back on its topic (confirmed by the broker) and
        # only then acknowledged, so Faust's shutdown did not wait for it.
        assert "putting 5 unsettled products message(s) back" in worker.tail(2000)
        copies = await consume_until(kafka_bootstrap, source, lambda r: len(r) >= 2 * len(sent), 10)
        keys = [asin.encode() for asin in [*good, "B0DLQBAD03"]]
        assert Counter(r.key for r in copies) == dict.fromkeys(keys, 2)
        assert indexed(es, products, product_ids) == len(good)
    finally:
        await admin.close()
