"""`arbitrage backtest FILE.jsonl`: a recorded envelope file through the real topology, on
isolated topics, and the report of the opportunities it produced (docs/backtest.md).

One run, on the local stack (Kafka + Elasticsearch, as ``arbitrage bench``):

1. a worker process (``arbitrage worker``, RocksDB, as in production) on its own topic and
   index prefix, Faust app id (consumer group) and data dir
   (:class:`devtools.worker_process.WorkerProcess`), with the sweep's timer pushed out of the
   run (:data:`NO_SWEEP_S`: a wall-clock sweep would close the file's routes at today's date);
2. the seller profile (``--profile``, ``--min-profit``, ``--min-roi``) published on its
   ``seller.profile`` as ``arbitrage profile import`` does, and waited for in the worker;
3. the file replayed as it is (no time shift) at full speed
   (:func:`app.ingest.replay.replay_file`);
4. waited until the worker has committed its detector's inputs to their ends
   (:func:`devtools.kafka_offsets.wait_drained`) and no opportunity event has arrived for
   ``quiet_s``; then every event of its ``arbitrage.opportunities`` read
   (:func:`app.ingest.topic_reader.read_to_end`) with the ``OPPORTUNITY`` codec;
5. the worker stopped and, unless ``keep``, its topics, indices and data dir deleted.

The figures are :func:`app.backtest.report.build_report`'s, observed until the file's last
event time.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from aiokafka.errors import KafkaError

from app.contracts.base import ContractError
from app.contracts.opportunities import OPPORTUNITY, OpportunityMessage
from app.domain.money import parse_eur_cents
from app.domain.profile import DEFAULT_PROFILE, ProfileError, SellerProfile, with_overrides
from app.ingest.profile_cli import ProfileInputError, load_profile_file
from app.settings import Settings
from devtools.isolation import Isolated, delete_indices, delete_topics
from devtools.kafka_offsets import wait_drained
from devtools.worker_process import WorkerProcess

__all__ = [
    "NO_SWEEP_S",
    "BacktestError",
    "BacktestInputError",
    "BacktestRun",
    "backtest_profile",
    "check_stack",
    "run_backtest",
]

#: The worker's ``SWEEP_INTERVAL_SECONDS`` in a backtest: ten years, so its timer never fires
#: during a run. The sweep judges staleness by the wall clock: on a recorded file it would
#: close every open route as ``stale_quote`` at today's date. The event-time staleness rule
#: (a quote older than ``STALE_AFTER_HOURS`` than its ASIN's newest) still applies.
NO_SWEEP_S: Final = 10 * 365 * 86_400
#: The detector's inputs and the profile it prices with: what must be consumed to the end.
DETECTOR_INPUTS: Final = ("keepa.products", "arbitrage.reevaluations", "seller.profile")
OPPORTUNITIES: Final = "arbitrage.opportunities"


class BacktestError(RuntimeError):
    """The run failed (the stack is not up, the worker died, a wait timed out)."""


class BacktestInputError(ValueError):
    """Bad input, found before anything is started."""


def backtest_profile(
    profile_file: Path | None, min_profit_eur: str | None, min_roi: str | None
) -> SellerProfile:
    """The profile to run with: ``profile_file`` (as ``arbitrage profile import`` reads it;
    the default profile without one), its thresholds overridden by ``min_profit_eur`` (euros
    as a decimal string, whole cents) and ``min_roi`` (a ratio, e.g. ``0.2``)."""
    try:
        profile = DEFAULT_PROFILE if profile_file is None else load_profile_file(profile_file)
    except ProfileInputError as exc:
        raise BacktestInputError(str(exc)) from None
    except ProfileError as exc:
        raise BacktestInputError(f"{profile_file}: {exc}") from None
    overrides: dict[str, str] = {}
    if min_profit_eur is not None:
        try:
            cents = parse_eur_cents(min_profit_eur)
        except ValueError as exc:
            raise BacktestInputError(f"--min-profit: {exc}") from None
        overrides["thresholds.min_profit_eur_cents"] = str(cents)
    if min_roi is not None:
        overrides["thresholds.min_roi"] = min_roi
    try:
        return with_overrides(profile, overrides) if overrides else profile
    except ProfileError as exc:
        option = "--min-roi" if "min_roi" in str(exc) else "--min-profit"
        raise BacktestInputError(f"{option}: {exc}") from None


def check_stack(settings: Settings) -> None:
    """Raise :class:`BacktestError` unless every component of the local stack is ready."""
    from devtools.stack import StackManager

    not_ready = [
        f"{s.name} ({s.address}: {s.detail or 'not running'})"
        for s in StackManager(settings).status()
        if not s.ready
    ]
    if not_ready:
        raise BacktestError(
            "the backtest runs the real topology on the local stack, which is not ready: "
            + "; ".join(not_ready)
            + ". Start it with `arbitrage stack up`."
        )


@dataclass(frozen=True)
class BacktestRun:
    """What a run produced and how long it took."""

    events: list[OpportunityMessage]
    #: The file's last event time: open spreads are censored there.
    until: datetime
    published: int
    skipped_lines: int
    profile_version: str
    #: Seconds: the whole run; from the first envelope sent to the worker drained.
    wall_s: float
    processing_s: float
    workdir: Path
    #: The run's own settings (its topic and index prefixes, app id).
    settings: Settings
    kept: bool

    @property
    def events_per_s(self) -> float:
        """Envelopes through the worker per second (``published / processing_s``)."""
        return self.published / self.processing_s if self.processing_s > 0 else 0.0


def run_backtest(
    settings: Settings,
    path: Path,
    profile: SellerProfile,
    *,
    keep: bool = False,
    timeout_s: float = 1800.0,
    quiet_s: float = 3.0,
    name: str | None = None,
    echo: Callable[[str], None] = lambda _message: None,
) -> BacktestRun:
    """Run ``path`` through an isolated worker with ``profile`` (see the module doc);
    ``name``: the prefix of its topics and indices (default ``backtest<random hex>``)."""
    from app.ingest.replay import file_times

    started = time.perf_counter()
    times = file_times(path)
    if times.last_event is None:
        raise BacktestInputError(f"{path}: no envelope with a usable event time")
    name = name or f"backtest{uuid.uuid4().hex[:8]}"
    workdir = settings.stack_dir / "backtest" / name
    worker = WorkerProcess(
        name,
        workdir / "data",
        workdir / "worker.log",
        settings,
        partitions=settings.topic_partitions,
        extra_env={"SWEEP_INTERVAL_SECONDS": str(NO_SWEEP_S)},
    )
    s = worker.settings
    echo(f"backtest {name}: worker on topics {s.topic_prefix}*, log {worker.log_path}")
    try:
        worker.start(timeout_s=180)
        version = _publish_profile(worker, profile, timeout_s=60)
        echo(f"profile {version} in force; replaying {path} ...")
        replay_started = time.perf_counter()
        published, skipped = asyncio.run(_replay(s, path))
        echo(f"published {published} envelopes ({skipped} bad lines skipped); draining ...")
        _wait_processed(worker, timeout_s=timeout_s, quiet_s=quiet_s)
        processing_s = time.perf_counter() - replay_started - quiet_s
        events = _read_opportunities(s)
    except BacktestError:
        raise
    except (RuntimeError, KafkaError, TimeoutError, ContractError) as exc:
        # The worker did not start, Kafka failed us, an event broke its contract: said as
        # such (not a traceback), with the worker's log.
        raise BacktestError(f"{exc}\n(worker log: {worker.log_path})") from exc
    finally:
        worker.stop()
        if not keep:
            _clean_up(s, workdir)
    return BacktestRun(
        events=events,
        until=times.last_event,
        published=published,
        skipped_lines=skipped,
        profile_version=version,
        wall_s=time.perf_counter() - started,
        processing_s=processing_s,
        workdir=workdir,
        settings=s,
        kept=keep,
    )


def _publish_profile(worker: WorkerProcess, profile: SellerProfile, timeout_s: float) -> str:
    """Publish ``profile`` (as ``arbitrage profile import``) and wait until the worker's
    profile in force is it; its version."""
    from app.ingest.profile_topic import publish_profile

    published = publish_profile(
        worker.settings, profile, updated_by="backtest", now=datetime.now(UTC)
    )
    version = published.in_force.version
    deadline = time.monotonic() + timeout_s
    while ((worker.stats() or {}).get("seller_profile") or {}).get("version") != version:
        _check_alive(worker)
        if time.monotonic() > deadline:
            raise BacktestError(f"the worker did not take profile {version} in {timeout_s}s")
        time.sleep(0.2)
    return version


async def _replay(s: Settings, path: Path) -> tuple[int, int]:
    from app.ingest.producer import EnvelopePublisher
    from app.ingest.replay import replay_file

    async with EnvelopePublisher(s.kafka_bootstrap_servers, s.topic("keepa.products")) as pub:
        summary = await replay_file(path, pub)
    return summary.published, len(summary.skipped)


def _wait_processed(worker: WorkerProcess, *, timeout_s: float, quiet_s: float) -> None:
    """Wait until the worker's consumer group has committed the detector's inputs to their
    ends, then until the opportunities topic has not grown for ``quiet_s``."""
    s = worker.settings
    bootstrap = s.kafka_bootstrap_servers
    inputs = [s.topic(t) for t in DETECTOR_INPUTS]
    deadline = time.monotonic() + timeout_s
    while True:
        _check_alive(worker)
        left = deadline - time.monotonic()
        try:
            asyncio.run(wait_drained(bootstrap, s.faust_app_id, inputs, min(left, 10.0)))
            break
        except AssertionError as exc:
            if time.monotonic() >= deadline:
                raise BacktestError(
                    f"the worker did not consume the file in {timeout_s:g}s: {exc}"
                ) from None
    ends = asyncio.run(_end_offsets(bootstrap, s.topic(OPPORTUNITIES)))
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < quiet_s:
        time.sleep(min(0.5, quiet_s))
        _check_alive(worker)
        now = asyncio.run(_end_offsets(bootstrap, s.topic(OPPORTUNITIES)))
        if now != ends:
            ends, quiet_since = now, time.monotonic()
        if time.monotonic() > deadline:
            raise BacktestError(f"opportunity events kept coming for {timeout_s:g}s")


async def _end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    from aiokafka import AIOKafkaConsumer

    from app.ingest.topic_reader import topic_partitions

    partitions = await topic_partitions(bootstrap, topic, timeout_s=30)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in ends.items()}


def _read_opportunities(s: Settings) -> list[OpportunityMessage]:
    from app.ingest.topic_reader import read_to_end

    records = asyncio.run(
        read_to_end(s.kafka_bootstrap_servers, s.topic(OPPORTUNITIES), timeout_s=300)
    )
    return [OPPORTUNITY.decode(value) for _, value in records]


def _check_alive(worker: WorkerProcess) -> None:
    if not worker.alive():
        raise BacktestError(f"the worker exited; log {worker.log_path}:\n{worker.tail()}")


def _clean_up(s: Settings, workdir: Path) -> None:
    """Delete the run's topics (its prefix and its Faust app id's), indices and data dir."""
    from elasticsearch import Elasticsearch

    owned = Isolated.of(s)
    with Elasticsearch(s.elasticsearch_url, request_timeout=30) as es:
        delete_indices(es, owned)
    asyncio.run(delete_topics(s.kafka_bootstrap_servers, owned))
    shutil.rmtree(workdir, ignore_errors=True)
