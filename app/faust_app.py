"""The Faust application: configuration only. Topics live in ``app.topics``, tables in
``tables/``, agents in ``agents/`` and web views in ``app.views``; all are found by
autodiscovery when the worker starts."""

from __future__ import annotations

import faust

from app.settings import get_settings

settings = get_settings()

app = faust.App(
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
    # Every output is acknowledged by all in-sync replicas before offsets move on.
    producer_acks=-1,
    producer_compression_type="gzip",
    consumer_auto_offset_reset="earliest",
    # The sink may wait for Elasticsearch for a while without being kicked out of the group.
    broker_max_poll_interval=600.0,
)
