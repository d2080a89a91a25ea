"""The alerts agent: notifies the configured webhooks of newly opened opportunities.

It reads ``arbitrage.opportunities`` (next to the Elasticsearch sink, which reads the same
topic) and hands every event to :class:`app.alerts.service.AlertService`: rules -> dedup
(the ``alerts`` index) -> rate limit -> delivery with retries (through Apprise, whose
blocking plugins run in its worker threads, or a plain JSON POST) -> record. Events are read
by their contract (an unreadable one is counted as ``alerts_invalid`` and skipped: the sink
dead-letters the same message). Nothing here stops the worker: a bad event, an unreachable
webhook or an invalid ``ALERT_*`` configuration (an Apprise URL Apprise cannot load, say) is
logged and counted (``alerts_*`` counters in ``/arbitrage/stats/``). Without webhooks the
agent only drains the topic and touches neither Elasticsearch nor the network.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from elasticsearch import AsyncElasticsearch
from faust import StreamT
from pydantic import ValidationError
from pydantic_settings import SettingsError

from app.alerts.config import AlertSettings
from app.alerts.delivery import WebhookSender, make_http_client
from app.alerts.index import ALERTS
from app.alerts.service import AlertService
from app.alerts.store import EsAlertStore
from app.contracts.base import ContractError
from app.contracts.opportunities import OPPORTUNITY
from app.faust_app import app, settings
from app.metrics import metrics
from app.topics import opportunities

log = logging.getLogger(__name__)


def load_alert_settings() -> AlertSettings | None:
    """The ``ALERT_*`` settings, or ``None`` (alerts off, logged) when they are invalid."""
    try:
        return AlertSettings()
    except (ValidationError, SettingsError) as exc:  # errors never echo the input (secrets)
        log.error("alerts disabled: invalid ALERT_* configuration: %s", exc)
        metrics.error(f"invalid alert configuration: {exc}")
        metrics.incr("alerts_config_invalid")
        return None


ALERT_SETTINGS = load_alert_settings()

_service: AlertService | None = None
_http: httpx.AsyncClient | None = None
_es: AsyncElasticsearch | None = None
_lock = asyncio.Lock()


async def get_service() -> AlertService | None:
    """The worker's one alert service (``None`` without webhooks); its index is ensured."""
    global _service, _http, _es
    if ALERT_SETTINGS is None or not ALERT_SETTINGS.webhooks:
        return None
    async with _lock:
        if _service is None:
            _es = AsyncElasticsearch(settings.elasticsearch_url, request_timeout=30)
            store = EsAlertStore(_es, settings.index(ALERTS))
            await store.ensure_index()
            _http = make_http_client(ALERT_SETTINGS)
            sender = WebhookSender.from_settings(_http, ALERT_SETTINGS)
            _service = AlertService(ALERT_SETTINGS.webhooks, sender, store)
            log.info(
                "alerts on for %d webhook(s): %s",
                len(ALERT_SETTINGS.webhooks),
                ", ".join(webhook.label for webhook in ALERT_SETTINGS.webhooks),
            )
        return _service


@app.on_before_shutdown.connect  # type: ignore[arg-type]
async def _close_alert_clients(app: Any, **kwargs: Any) -> None:
    if _http is not None:
        await _http.aclose()
    if _es is not None:
        await _es.close()


@app.agent(opportunities)
async def send_alerts(stream: StreamT[Any]) -> None:
    service = await get_service()
    async for value in stream:
        if service is None:
            continue
        try:
            message = OPPORTUNITY.decode(value)
        except ContractError as exc:  # the sink dead-letters the same message
            log.warning("ignoring an opportunity event that breaks the contract: %s", exc)
            metrics.incr("alerts_invalid")
            continue
        try:
            handled = await service.handle(message)
        except Exception as exc:  # the service does not raise; belt and braces for the worker
            log.exception("alerting failed")
            metrics.error(f"alerts: {exc!r}")
            metrics.incr("alerts_error")
            continue
        for item in handled:
            metrics.incr(f"alerts_{item.outcome.value}")
