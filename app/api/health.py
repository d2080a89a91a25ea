"""Real dependency checks for ``GET /health``: Elasticsearch cluster health and a Kafka
metadata request (``describe_cluster``), each with a short time limit.

The Kafka result is reused for ``cache_s`` seconds (a metadata round trip per health probe
would be wasteful with probes every second); concurrent probes share one check.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from elasticsearch import AsyncElasticsearch

from app.api.models import ComponentHealth, HealthResponse

__all__ = ["HealthChecker", "KafkaProbe", "describe_kafka_cluster"]

log = logging.getLogger(__name__)

#: ``async () -> describe_cluster() result``; raises when Kafka cannot be reached.
KafkaProbe = Callable[[], Awaitable[dict[str, Any]]]

_ES_OK = frozenset({"green", "yellow"})


async def describe_kafka_cluster(bootstrap_servers: str, timeout_s: float) -> dict[str, Any]:
    """One metadata request to the cluster through a short-lived admin client."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="arbitrage-api-health",
        request_timeout_ms=max(1, int(timeout_s * 1000)),
    )
    try:
        await admin.start()
        cluster: dict[str, Any] = await admin.describe_cluster()
        return cluster
    finally:
        await admin.close()


def _error_text(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


class HealthChecker:
    """Checks Elasticsearch on every call and Kafka at most every ``cache_s`` seconds."""

    def __init__(
        self,
        es: AsyncElasticsearch,
        kafka_probe: KafkaProbe,
        *,
        timeout_s: float = 3.0,
        cache_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._es = es
        self._kafka_probe = kafka_probe
        self._timeout_s = timeout_s
        self._cache_s = cache_s
        self._clock = clock
        self._kafka: tuple[float, ComponentHealth] | None = None
        self._lock = asyncio.Lock()

    async def elasticsearch(self) -> ComponentHealth:
        return await self._probe(
            "Elasticsearch",
            lambda: self._es.options(request_timeout=self._timeout_s).cluster.health(),
            _elasticsearch_verdict,
            down="unreachable",
        )

    async def kafka(self) -> ComponentHealth:
        async with self._lock:
            cached = self._kafka
            if cached is not None and self._clock() - cached[0] < self._cache_s:
                return cached[1]
            result = await self._check_kafka()
            self._kafka = (self._clock(), result)
            return result

    async def _check_kafka(self) -> ComponentHealth:
        return await self._probe("Kafka", self._kafka_probe, _kafka_verdict, down="down")

    async def _probe(
        self,
        name: str,
        request: Callable[[], Awaitable[Any]],
        verdict: Callable[[Any], tuple[bool, str, str]],
        *,
        down: str,
    ) -> ComponentHealth:
        """``request`` within the time limit, judged by ``verdict`` (``ok, status, detail``);
        any failure is ``down``, with the reason."""
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout_s):
                answer = await request()
        except Exception as exc:  # any failure is "down", with the reason
            log.warning("health: %s check failed: %s", name, _error_text(exc))
            ok, status, detail = False, down, _error_text(exc)
        else:
            ok, status, detail = verdict(answer)
        return ComponentHealth(
            ok=ok,
            status=status,
            detail=detail,
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
            checked_at=datetime.now(UTC),
        )

    async def check(self) -> HealthResponse:
        es, kafka = await asyncio.gather(self.elasticsearch(), self.kafka())
        return HealthResponse(
            status="ok" if es.ok and kafka.ok else "unavailable",
            components={"elasticsearch": es, "kafka": kafka},
            checked_at=datetime.now(UTC),
        )


def _elasticsearch_verdict(health: Mapping[str, Any]) -> tuple[bool, str, str]:
    """Green or yellow cluster health is up."""
    status = str(health.get("status", "unknown"))
    return (
        status in _ES_OK,
        status,
        f"cluster {health.get('cluster_name')}, {health.get('number_of_nodes')} node(s), "
        f"{health.get('unassigned_shards', 0)} unassigned shard(s)",
    )


def _kafka_verdict(cluster: Mapping[str, Any]) -> tuple[bool, str, str]:
    """Up when the metadata names at least one broker."""
    brokers = cluster.get("brokers") or []
    ok = len(brokers) > 0
    return (
        ok,
        "up" if ok else "down",
        f"cluster {cluster.get('cluster_id')}, {len(brokers)} broker(s)",
    )
