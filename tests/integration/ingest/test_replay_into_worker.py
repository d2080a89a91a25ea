"""`arbitrage sample` + `arbitrage replay` (as a user runs them) into a running worker yield
the opportunity documents the domain predicts for the same file."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from app.contracts.base import ContractError
from app.contracts.keepa_products import ENVELOPE, quote_from_message
from app.domain.asin_state import apply_quote
from app.domain.detection import OpenOpportunity, Pricing
from app.domain.fee_schedule import default_fee_schedule
from app.domain.markets import Market
from app.domain.profile import DEFAULT_PROFILE
from app.domain.quote import MarketQuote
from app.policy_config import configured_fx, detection_policy
from app.settings import Settings
from devtools.worker_process import ARBITRAGE
from tests.integration.drain import wait_worker_drained
from tests.integration.worker_process import FIXED_TIME_DATA, WorkerProcess, started_worker

# 30 ASINs x 5 markets x 8 steps of 3 h: 1,200 envelopes; with seed 42 some spreads open.
SAMPLE_ARGS = ["--asins", "30", "--steps", "8", "--step-minutes", "180", "--seed", "42"]
START = "2026-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def worker(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, es: Elasticsearch
) -> Iterator[WorkerProcess]:
    base = tmp_path_factory.mktemp("replay")
    with started_worker("replay", base, settings, es, extra_env=FIXED_TIME_DATA) as process:
        yield process


def expected_routes(path: Path, settings: Settings) -> set[str]:
    """Every route the domain opens for the file's envelopes, as opportunity document ids
    (no profile published on the worker's topic: the default profile is in force)."""
    policy = detection_policy(settings)
    pricing = Pricing(configured_fx(settings), DEFAULT_PROFILE, "default", default_fee_schedule())
    state: dict[str, tuple[dict[Market, MarketQuote], dict[str, OpenOpportunity]]] = {}
    opened: set[str] = set()
    for line in path.read_bytes().splitlines():
        try:
            envelope = ENVELOPE.decode(line)
        except ContractError:
            continue
        quote = quote_from_message(envelope.product["asin"].encode(), line)
        quotes, open_ = state.get(quote.asin, ({}, {}))
        step = apply_quote(quote, quotes, open_, policy, pricing)
        state[quote.asin] = (step.quotes, step.open)
        opened |= {f"{e.asin}:{e.route_key}" for e in step.events if e.event == "opened"}
    return opened


def opportunity_ids(es: Elasticsearch, settings: Settings) -> set[str]:
    index = settings.index("opportunities")
    if not es.indices.exists(index=index):
        return set()
    es.indices.refresh(index=index)
    hits = es.search(index=index, size=1000, source=False)["hits"]["hits"]
    return {h["_id"] for h in hits}


def test_sample_then_replay_yields_opportunities(
    worker: WorkerProcess, es: Elasticsearch, tmp_path: Path
) -> None:
    path = tmp_path / "sample.jsonl"
    env = worker.env()
    made = subprocess.run(
        [ARBITRAGE, "sample", str(path), *SAMPLE_ARGS, "--start", START],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert "wrote 1200 SYNTHETIC envelopes" in made.stdout
    with path.open("ab") as fh:
        fh.write(b"{this is not json\n")

    expected = expected_routes(path, worker.settings)
    assert expected, "the seeded sample must contain opportunities"

    replayed = subprocess.run(
        [ARBITRAGE, "replay", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert replayed.returncode == 0, replayed.stderr
    assert f"{path}:1201: skipped: malformed_json: " in replayed.stderr
    assert "published 1200 envelopes in 1 pass(es)" in replayed.stdout
    assert "skipped 1 invalid line(s)" in replayed.stdout

    asyncio.run(wait_worker_drained(worker, timeout_s=180))
    assert opportunity_ids(es, worker.settings) == expected, worker.tail()
