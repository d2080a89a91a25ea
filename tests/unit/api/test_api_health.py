"""The health checker: real status mapping, time limits, and the Kafka result cache."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.api.health import HealthChecker


class FakeCluster:
    def __init__(self, status: str | Exception, delay: float = 0.0) -> None:
        self.status = status
        self.delay = delay

    async def health(self) -> dict[str, Any]:
        await asyncio.sleep(self.delay)
        if isinstance(self.status, Exception):
            raise self.status
        return {"status": self.status, "cluster_name": "c", "number_of_nodes": 1}


class FakeEs:
    def __init__(self, status: str | Exception = "green", delay: float = 0.0) -> None:
        self.cluster = FakeCluster(status, delay)
        self.options_seen: list[dict[str, Any]] = []

    def options(self, **kwargs: Any) -> FakeEs:
        self.options_seen.append(kwargs)
        return self


class Probe:
    def __init__(self, result: dict[str, Any] | Exception, delay: float = 0.0) -> None:
        self.result = result
        self.delay = delay
        self.calls = 0

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


UP = {"cluster_id": "abc", "brokers": [{"node_id": 1}], "controller_id": 1}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def checker(es: Any, probe: Probe, **kwargs: Any) -> HealthChecker:
    return HealthChecker(es, probe, **kwargs)


async def test_all_up_is_ok() -> None:
    es = FakeEs("yellow")
    result = await checker(es, Probe(UP), timeout_s=1).check()
    assert result.status == "ok"
    assert result.components["elasticsearch"].ok
    assert result.components["elasticsearch"].status == "yellow"
    assert result.components["kafka"].status == "up"
    assert result.components["kafka"].detail == "cluster abc, 1 broker(s)"
    assert es.options_seen == [{"request_timeout": 1}]


@pytest.mark.parametrize(
    ("es", "probe", "failed"),
    [
        (FakeEs("red"), Probe(UP), "elasticsearch"),
        (FakeEs(ConnectionError("refused")), Probe(UP), "elasticsearch"),
        (FakeEs("green", delay=1), Probe(UP), "elasticsearch"),
        (FakeEs(), Probe(OSError("Unable to bootstrap")), "kafka"),
        (FakeEs(), Probe(UP, delay=1), "kafka"),
        (FakeEs(), Probe({"cluster_id": "abc", "brokers": []}), "kafka"),
    ],
)
async def test_a_failing_dependency_is_unavailable_with_detail(
    es: FakeEs, probe: Probe, failed: str
) -> None:
    result = await checker(es, probe, timeout_s=0.2).check()
    assert result.status == "unavailable"
    component = result.components[failed]
    assert not component.ok
    assert component.detail
    other = ({"elasticsearch", "kafka"} - {failed}).pop()
    assert result.components[other].ok


async def test_timeouts_are_reported() -> None:
    result = await checker(FakeEs(), Probe(UP, delay=1), timeout_s=0.1).check()
    assert result.components["kafka"].detail == "TimeoutError: TimeoutError"


async def test_the_kafka_result_is_cached_for_a_few_seconds() -> None:
    probe, clock = Probe(UP), Clock()
    health = checker(FakeEs(), probe, cache_s=5, clock=clock)
    await health.check()
    await asyncio.gather(*(health.check() for _ in range(5)))
    assert probe.calls == 1
    clock.now += 5.1
    await health.check()
    assert probe.calls == 2


async def test_a_failure_is_cached_too_and_then_rechecked() -> None:
    probe, clock = Probe(OSError("down")), Clock()
    health = checker(FakeEs(), probe, cache_s=5, clock=clock)
    assert not (await health.kafka()).ok
    probe.result = UP
    assert not (await health.kafka()).ok
    clock.now += 6
    assert (await health.kafka()).ok
