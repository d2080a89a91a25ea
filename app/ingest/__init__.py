"""Ingestion core: publish Keepa envelopes to Kafka, the watchlist, adaptive scheduling, replay.

Importable without Faust (Airflow runs in its own virtualenv): nothing here imports ``faust``,
``app.faust_app``, ``app.topics``, ``agents`` or ``tables``.
"""
