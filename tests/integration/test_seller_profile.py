"""The seller profile as data in the stream, on the real broker with a real worker process
(RocksDB): ``PUT /profile`` (the API in-process) and ``arbitrage profile`` (the CLI as a
process) publish it, the worker's ``profile_in_force()`` shows it in ``/arbitrage/stats/``; a
bad profile is refused by the API and the CLI, and published raw to the topic it is
dead-lettered with its reason while the profile before it stays in force.

The tests of this module run in order on one worker (each builds on the profile the previous
one left in force). Delivery is at least once, so counters are checked as lower bounds."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.api.main import create_app
from app.contracts.dead_letters import DeadLetter
from app.contracts.seller_profile import (
    DEFAULT_IN_FORCE,
    PROFILE_KEY_DEFAULT,
    SELLER_PROFILE,
    ProfileInForce,
    profile_version,
)
from app.domain.markets import Market
from app.domain.profile import DEFAULT_PROFILE, profile_from_mapping, with_overrides
from app.settings import Settings
from devtools.isolation import ARBITRAGE
from tests.integration.drain import wait_worker_drained
from tests.integration.worker_process import (
    WorkerProcess,
    consume_until,
    produce,
    started_worker,
    wait_for,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

TOKEN = "integration-token-for-the-profile-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
STRICTER: dict[str, Any] = {
    "thresholds": {"min_roi": "0.25", "min_profit_eur_cents": 700},
    "fulfilment": {"FR": {"mode": "efn"}, "GB": {"mode": "mfn", "mfn_shipping_minor": 399}},
}
EXPECTED = profile_from_mapping(STRICTER)


@pytest.fixture(scope="module")
def worker(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, es: Elasticsearch
) -> Iterator[WorkerProcess]:
    with started_worker("prof", tmp_path_factory.mktemp("profile"), settings, es) as process:
        yield process


@pytest.fixture(scope="module")
def client(worker: WorkerProcess) -> Iterator[TestClient]:
    """The API with the worker's settings (same topic prefix) and a write token."""
    api_settings = worker.settings.model_copy(update={"api_token": SecretStr(TOKEN)})
    with TestClient(create_app(api_settings)) as test_client:
        yield test_client


def worker_profile(worker: WorkerProcess) -> dict[str, Any]:
    profile: dict[str, Any] = (worker.stats() or {}).get("seller_profile", {})
    return profile


def cli(worker: WorkerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ARBITRAGE, "profile", *args],
        env=worker.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_put_profile_reaches_the_worker(worker: WorkerProcess, client: TestClient) -> None:
    # Before any profile was published: the default, in the API and in the worker.
    before = client.get("/profile")
    assert before.status_code == 200, before.text
    assert before.json()["published"] is False
    assert before.json()["version"] == DEFAULT_IN_FORCE.version
    assert worker_profile(worker) == {
        "version": DEFAULT_IN_FORCE.version,
        "updated_at": None,
        "updated_by": None,
    }

    response = client.put("/profile", json={"profile": STRICTER, "updated_by": "it"}, headers=AUTH)
    assert response.status_code == 200, response.text
    put = response.json()
    assert put["version"] == profile_version(EXPECTED) != DEFAULT_IN_FORCE.version
    assert put["published"] is True
    assert put["updated_by"] == "it"
    assert profile_from_mapping(put["profile"]) == EXPECTED
    assert put["profile"]["fulfilment"]["GB"] == {"mode": "mfn", "mfn_shipping_minor": 399}

    # Read-your-writes: the API reads the topic to its end, the acknowledged message included.
    got = client.get("/profile").json()
    assert got == put

    # The worker's profile_in_force() is the published one, without a restart.
    await wait_for(
        lambda: worker_profile(worker).get("version") == put["version"],
        30,
        f"the worker to hold the new profile: {worker.tail()}",
    )
    seen = worker_profile(worker)
    assert seen["updated_by"] == "it"
    assert datetime.fromisoformat(seen["updated_at"]) == datetime.fromisoformat(put["updated_at"])
    assert worker.counter("profile_updates") >= 1


async def test_a_bad_profile_is_refused_and_dead_lettered_and_the_old_one_stays(
    worker: WorkerProcess, client: TestClient, kafka_bootstrap: str
) -> None:
    s = worker.settings
    in_force = client.get("/profile").json()
    assert in_force["version"] == profile_version(EXPECTED)

    # The API refuses it with the field's path; nothing is published.
    refused = client.put(
        "/profile", json={"profile": {"thresholds": {"min_roi": "-0.5"}}}, headers=AUTH
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"] == ["body", "profile", "thresholds", "min_roi"]
    records = await consume_until(
        kafka_bootstrap, s.topic("seller.profile"), lambda r: len(r) >= 2, 5
    )
    assert len(records) == 1  # only the profile of the previous test

    # Published raw, past the API: dead-lettered with the reason, the old profile stays.
    invalid = orjson.dumps(
        {"profile": {"thresholds": {"min_roi": "-0.5"}}, "updated_at": "2026-03-02T09:30:00Z"}
    )
    newer = orjson.dumps({"schema_version": 2, "profile": {}, "updated_at": "2026-03-02T09:30:00Z"})
    other_seller = SELLER_PROFILE.encode(
        ProfileInForce.published(
            DEFAULT_PROFILE, updated_at=datetime.now(UTC), updated_by="x"
        ).message()
    )
    await produce(
        kafka_bootstrap,
        s.topic("seller.profile"),
        [(PROFILE_KEY_DEFAULT, invalid), (PROFILE_KEY_DEFAULT, newer), (b"alice", other_seller)],
    )
    dlq = await consume_until(kafka_bootstrap, s.topic("seller.profile.dlq"), lambda r: len(r) >= 3)
    letters = {record.value: DeadLetter.from_headers(record.headers) for record in dlq}
    assert set(letters) == {invalid, newer, other_seller}
    assert letters[invalid].reason == "invalid_profile"
    assert "profile field 'thresholds.min_roi'" in letters[invalid].error
    assert letters[newer].reason == "unsupported_version"
    assert letters[other_seller].reason == "unsupported_seller"
    assert {letter.source_topic for letter in letters.values()} == {s.topic("seller.profile")}
    assert {record.key for record in dlq if record.value == other_seller} == {b"alice"}

    await wait_worker_drained(worker, timeout_s=60)
    assert worker.alive()
    stats = worker.stats() or {}
    assert stats["seller_profile"]["version"] == in_force["version"]
    # (at least once: a rebalance could hand a message out again, hence no exact counts)
    assert {r for r in stats["dlq_reasons"] if r.startswith("profile_rejected:")} == {
        "profile_rejected:invalid_profile",
        "profile_rejected:unsupported_version",
        "profile_rejected:unsupported_seller",
    }
    assert stats["counters"]["profile_rejected"] >= 3
    # The API folds the topic as the worker does: the bad messages after it change nothing.
    assert client.get("/profile").json() == in_force


async def test_the_cli_shows_sets_and_imports_through_the_same_topic(
    worker: WorkerProcess, client: TestClient, tmp_path: Path
) -> None:
    shown = cli(worker, "show")
    assert shown.returncode == 0, shown.stderr
    assert profile_from_mapping(json.loads(shown.stdout)) == EXPECTED
    assert profile_version(EXPECTED) in shown.stderr

    bad = cli(worker, "set", "thresholds.min_roi=abc")
    assert bad.returncode == 2
    assert "profile field 'thresholds.min_roi'" in bad.stderr

    changed = cli(worker, "set", "prep_eur_cents=35", "fulfilment.IT.mode=efn", "--by", "cli-it")
    assert changed.returncode == 0, changed.stderr
    expected = with_overrides(EXPECTED, {"prep_eur_cents": "35", "fulfilment.IT.mode": "efn"})
    assert expected.fulfilment[Market.IT].mode == "efn"
    await wait_for(
        lambda: worker_profile(worker).get("version") == profile_version(expected),
        30,
        "the worker to hold the profile set by the CLI",
    )
    assert worker_profile(worker)["updated_by"] == "cli-it"
    assert client.get("/profile").json()["version"] == profile_version(expected)

    # `show` output imports back: the same profile, so the same version.
    path = tmp_path / "profile.json"
    path.write_text(cli(worker, "show").stdout)
    path.write_text(path.read_text().replace('"prep_eur_cents": 35', '"prep_eur_cents": 0'))
    imported = cli(worker, "import", str(path), "--by", "cli-import")
    assert imported.returncode == 0, imported.stderr
    back = with_overrides(expected, {"prep_eur_cents": "0"})
    await wait_for(
        lambda: worker_profile(worker).get("version") == profile_version(back),
        30,
        "the worker to hold the imported profile",
    )
    assert worker.counter("profile_updates") >= 3
