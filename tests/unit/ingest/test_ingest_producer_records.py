"""Message building of the envelope publisher, and the partitioner it relies on."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner, murmur2

from app.contracts.keepa_products import ENVELOPE, make_envelope
from app.domain.markets import Market
from app.ingest.producer import PublishReport, envelope_key, envelope_record
from tests.keepa_factory import keepa_product
from tests.unit.ingest.kafka_murmur2 import java_murmur2, java_partition

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


# Kafka's own test vectors for Utils.murmur2 (clients UtilsTest.testMurmur2).
JAVA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("data", "expected"), JAVA_VECTORS.items())
def test_reference_murmur2_matches_kafka_vectors(data: bytes, expected: int) -> None:
    assert java_murmur2(data) == expected


@pytest.mark.parametrize(("data", "expected"), JAVA_VECTORS.items())
def test_aiokafka_murmur2_matches_kafka_vectors(data: bytes, expected: int) -> None:
    assert (murmur2(data) & 0xFFFFFFFF) == expected & 0xFFFFFFFF


@pytest.mark.parametrize("partitions", [1, 3, 4, 12])
def test_default_partitioner_is_java_compatible_for_asins(partitions: int) -> None:
    keys = [f"B0{i:08d}".encode() for i in range(500)]
    all_partitions = list(range(partitions))
    for key in keys:
        chosen = DefaultPartitioner()(key, all_partitions, all_partitions)
        assert chosen == java_partition(key, partitions)


def test_record_key_is_the_asin_and_value_the_encoded_envelope() -> None:
    env = make_envelope("DE", keepa_product("B0TESTAS1N", Market.DE, last_update=T0), T0)
    key, value = envelope_record(env)
    assert key == b"B0TESTAS1N"
    assert ENVELOPE.decode(value) == env
    doc = orjson.loads(value)
    assert (doc["schema_version"], doc["domain"], doc["fetched_at"]) == (
        1,
        "DE",
        "2026-11-20T12:00:00Z",
    )


def test_envelope_without_asin_has_no_key() -> None:
    for product in ({}, {"asin": ""}, {"asin": None}, {"asin": 3}):
        env = make_envelope("DE", product, T0)
        assert envelope_key(env) is None
        key, value = envelope_record(env)
        assert key is None
        assert ENVELOPE.decode(value) == env


def test_invalid_asin_is_kept_as_key_for_the_worker_to_dead_letter() -> None:
    assert envelope_key(make_envelope("DE", {"asin": "not-an-asin"}, T0)) == "not-an-asin"


def test_report_merge_adds_counts() -> None:
    report = PublishReport(2, {0: 1, 1: 1}, ["A", "B"])
    report.merge(PublishReport(2, {1: 1, 3: 1}, ["C", "D"]))
    assert report == PublishReport(4, {0: 1, 1: 2, 3: 1}, ["A", "B", "C", "D"])
