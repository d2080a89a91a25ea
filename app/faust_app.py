"""The Faust application: configuration only. Topics live in ``app.topics``, tables in
``tables/``, agents in ``agents/`` and web views in ``app.views``; all are found by
autodiscovery when the worker starts. One guard against a Faust race is connected here
(:func:`hold_fetching_until_streams_are_seeked`), and autodiscovery refuses a module that
does not import (:class:`ArbitrageApp`), and the assignor survives a changelog topic that the
cluster metadata does not list yet (:class:`ArbitrageAssignor`)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import faust
from faust.assignor import PartitionAssignor
from faust.assignor.client_assignment import ClientAssignment

from app.settings import get_settings

settings = get_settings()

#: How every Faust app of ours talks to Kafka: the worker's, and the bench's Faust baselines
#: (devtools/bench_baselines.py), so a baseline measures Faust with the worker's settings.
KAFKA_SETTINGS: dict[str, Any] = {
    # Every output is acknowledged by all in-sync replicas before offsets move on.
    "producer_acks": -1,
    # Batches of many messages (a Keepa envelope is ~6 KB: the 16 KB default held two),
    # compressed with zstd (gzip at level 9 on the event loop was ~10 % of the worker's CPU;
    # measured on the publisher, zstd beat both aiokafka's lz4 and no compression).
    # The linger stays at 1 ms: an opportunity event is confirmed by the broker before the
    # state that records it is written, and each such wait lasts at least the linger.
    "producer_compression_type": "zstd",
    "producer_max_batch_size": 512 * 1024,
    "producer_linger": 0.001,
    "consumer_auto_offset_reset": "earliest",
    # The sink may wait for Elasticsearch for a while without being kicked out of the group.
    "broker_max_poll_interval": 600.0,
    # A worker that died (kill -9, lost host) is noticed by the group coordinator after 10 s
    # instead of Faust's 60 s: its partitions move to the others (or to its restarted self)
    # that much sooner. Heartbeats come from the consumer's own thread every 3 s.
    "broker_session_timeout": 10.0,
    "broker_heartbeat_interval": 3.0,
}


class ArbitrageApp(faust.App):
    """Faust's app, except that a module of ``autodiscover`` that fails to import stops the
    start. Faust logs the error as a warning and starts without the module's agents and
    tables: a worker that consumes nothing and looks alive (seen when a broken module was
    deployed)."""

    def _on_autodiscovery_error(self, name: str) -> None:
        raise ImportError(f"autodiscovery could not import {name!r}") from sys.exc_info()[1]


class _ZeroWhenMissing(dict[str, int]):
    def __missing__(self, key: str) -> int:
        return 0


class ArbitrageAssignor(PartitionAssignor):
    """Faust's assignor, except that a global table whose changelog topic is not in the
    leader's cluster metadata yet gets no partitions in this assignment instead of failing it.

    On a worker's first start against a new cluster, the changelog topics are created just
    before the first rebalance and the metadata may not list one yet (seen in
    ``make compose-test``: one first start of several). Faust (faust-streaming 0.15.3) skips
    the topic ("Ignoring missing topic") and then looks its partition count up for the global
    table's standbys: a KeyError in the leader's assignment, after which the worker stayed up,
    answered its healthcheck, and was still assigned nothing minutes later (its consumer group
    empty). With the table left out,
    the assignment completes; the topic's arrival in the metadata makes the consumer rejoin,
    and the next assignment gives the table its partitions.
    """

    def _global_table_standby_assignments(
        self,
        assignments: MutableMapping[str, ClientAssignment],
        partitions_by_topic: Mapping[str, int],
    ) -> MutableMapping[str, ClientAssignment]:
        missing = sorted(
            name
            for table in self._table_manager.data.values()
            if table.is_global
            and (name := table._changelog_topic_name()) not in partitions_by_topic
        )
        if missing:
            logging.getLogger(__name__).warning(
                "changelog topic(s) %s of global tables not in the cluster metadata yet: "
                "left out of this assignment (the consumer rejoins when they appear)",
                ", ".join(missing),
            )
        result: MutableMapping[str, ClientAssignment] = super()._global_table_standby_assignments(
            assignments, _ZeroWhenMissing(partitions_by_topic)
        )
        return result


app = ArbitrageApp(
    settings.faust_app_id,
    broker=[f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")],
    store=settings.faust_store,
    datadir=str(settings.faust_data_dir),
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=settings.topic_replication_factor,
    web_port=settings.faust_web_port,
    # Faust binds to all interfaces unless told otherwise (web_host is only its URL's host).
    web_bind=settings.faust_web_host,
    web_host=settings.faust_web_host,
    web_in_thread=False,
    autodiscover=["agents", "tables", "app.views"],
    origin="app",
    PartitionAssignor=ArbitrageAssignor,
    **KAFKA_SETTINGS,
)


def use_configured_loop() -> None:
    """Install the event loop of ``FAUST_LOOP`` (call before the worker starts: Faust creates
    its loop then)."""
    if settings.faust_loop == "uvloop":
        import mode.loop

        mode.loop.use("uvloop")


@app.on_rebalance_complete.connect
async def hold_fetching_until_streams_are_seeked(
    sender: Any, /, *args: Any, signal: Any, **kwargs: Any
) -> None:
    """Stop the consumer's flow when table recovery has finished, before Faust resumes the
    stream partitions.

    Faust (faust-streaming 0.15.3, ``Recovery.on_recovery_completed``) sends this signal, then
    resumes the stream partitions, awaits the seek to the committed offsets and only then
    resumes flow control, which clears every stream queue. The consumer's flow is still active
    from reading the changelogs, so the fetcher can deliver input records into the queues
    during that seek; the clear then drops them unacknowledged while the read position has
    moved past them: the records are never processed and the group's committed offset stays
    behind them for good. Found by the kill -9 test (``tests/integration/test_fault_tolerance``).

    With the flow stopped here the fetcher waits; Faust's own ``consumer.resume_flow()`` at the
    end of ``on_recovery_completed`` starts it again from the seeked positions.
    """
    sender.consumer.stop_flow()
