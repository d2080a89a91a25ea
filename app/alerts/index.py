"""The ``alerts`` index: one document per notification (webhook x opened opportunity).

The id is the notification's :func:`app.alerts.rules.alert_id` (SHA-256 of the dedup key),
so the index is both the record of what was sent and the persistent dedup store: a
notification whose document says ``status: sent`` is never sent again, across restarts and
replays; ``failed`` (the webhook refused it or attempts ran out) and ``rate_limited`` (the
webhook's backlog was too long) are tried again if the event is delivered again.
``attempt_log`` keeps every HTTP attempt of the latest delivery.

The mapping is explicit and strict like the other indices (see :mod:`app.es.indices`).
"""

from __future__ import annotations

import logging
from typing import Any, Final

from elasticsearch import AsyncElasticsearch, BadRequestError

from app.es.indices import IndexContractError, index_settings

__all__ = ["ALERTS", "ALERTS_MAPPING", "ensure_alerts_index"]

log = logging.getLogger(__name__)

#: Logical name; the real one is ``settings.index(ALERTS)``.
ALERTS: Final = "alerts"
ALERTS_CONTRACT_VERSION: Final = 1

_KEYWORD: Final = {"type": "keyword"}
_LONG: Final = {"type": "long"}
_INTEGER: Final = {"type": "integer"}
_DOUBLE: Final = {"type": "double"}
_DATE: Final = {"type": "date", "format": "strict_date_optional_time||epoch_millis"}
_ERROR: Final = {"type": "keyword", "ignore_above": 1024}
_STORED_ONLY: Final = {"type": "keyword", "index": False, "doc_values": False}

ALERTS_MAPPING: Final[dict[str, Any]] = {
    "_meta": {"contract_version": ALERTS_CONTRACT_VERSION},
    "dynamic": "strict",
    "properties": {
        "alert_id": _KEYWORD,
        "dedup_key": _KEYWORD,
        "webhook": _KEYWORD,
        "webhook_host": _KEYWORD,
        "format": _KEYWORD,
        "status": _KEYWORD,
        "attempts": _INTEGER,
        "http_status": _INTEGER,
        "error": _ERROR,
        "sent_at": _DATE,
        "last_attempt_at": _DATE,
        "recorded_at": _DATE,
        "attempt_log": {
            "type": "object",
            "dynamic": "strict",
            "properties": {
                "attempt": _INTEGER,
                "at": _DATE,
                "outcome": _KEYWORD,
                "http_status": _INTEGER,
                "error": _ERROR,
                "wait_s": _DOUBLE,
            },
        },
        "event_id": _KEYWORD,
        "event_time": _DATE,
        "first_seen": _DATE,
        "asin": _KEYWORD,
        "title": {"type": "text", "analyzer": "standard"},
        "route": _KEYWORD,
        "buy_market": _KEYWORD,
        "sell_market": _KEYWORD,
        "profit_eur_cents": _LONG,
        "roi": _DOUBLE,
        "margin": _DOUBLE,
        "summary": _STORED_ONLY,
    },
}


async def ensure_alerts_index(client: AsyncElasticsearch, name: str) -> None:
    """Create the index if missing, else put the current (additive) mapping on it."""
    if not await client.indices.exists(index=name):
        try:
            await client.indices.create(
                index=name, mappings=ALERTS_MAPPING, settings=index_settings()
            )
        except BadRequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
        else:
            log.info("created index %s", name)
            return
    try:
        await client.indices.put_mapping(index=name, body=ALERTS_MAPPING)
    except BadRequestError as exc:
        raise IndexContractError(f"index {name} cannot take the alerts mapping: {exc}") from exc
