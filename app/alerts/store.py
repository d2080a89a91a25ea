"""The alerts index as the dedup store and the record of what was sent.

:meth:`EsAlertStore.already_sent` is a realtime ``get`` (no refresh needed);
:meth:`EsAlertStore.save` indexes the document under the notification's id. Both wait out
Elasticsearch outages (connection errors, timeouts, 408/429/5xx) with capped exponential
backoff rather than give up: sending without the dedup check could notify twice, and a sent
notification that is not recorded would be sent again after a restart. Other errors (a
mapping rejection) raise :class:`AlertStoreError`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

from elastic_transport import TransportError
from elasticsearch import ApiError, AsyncElasticsearch, NotFoundError

from app.alerts.index import ensure_alerts_index

__all__ = ["AlertStore", "AlertStoreError", "EsAlertStore"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class AlertStoreError(RuntimeError):
    """Elasticsearch refused an alerts request for a reason that retrying will not fix."""


class AlertStore(Protocol):
    async def already_sent(self, alert_id: str) -> bool: ...

    async def save(self, alert_id: str, document: Mapping[str, Any]) -> None: ...


def _transient(exc: Exception) -> bool:
    if isinstance(exc, TransportError):
        return True
    return isinstance(exc, ApiError) and exc.meta.status in _TRANSIENT_STATUSES


class EsAlertStore:
    def __init__(
        self,
        client: AsyncElasticsearch,
        index: str,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff_max_s: float = 30.0,
    ) -> None:
        self.client = client
        self.index = index
        self._sleep = sleep
        self._backoff_max_s = backoff_max_s

    async def ensure_index(self) -> None:
        await self._retrying("create index", lambda: ensure_alerts_index(self.client, self.index))

    async def _retrying(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        delay = 0.5
        while True:
            try:
                return await call()
            except NotFoundError:
                raise
            except (TransportError, ApiError) as exc:
                if not _transient(exc):
                    raise AlertStoreError(f"{what} in {self.index}: {exc}") from exc
                log.warning(
                    "Elasticsearch unavailable (%s: %s); retrying in %.1f s", what, exc, delay
                )
                await self._sleep(delay)
                delay = min(self._backoff_max_s, delay * 2)

    async def already_sent(self, alert_id: str) -> bool:
        """Whether the notification's document exists with ``status: sent``."""
        try:
            response = await self._retrying(
                "get",
                lambda: self.client.get(index=self.index, id=alert_id, source_includes=["status"]),
            )
        except NotFoundError as exc:
            if exc.error == "index_not_found_exception":
                log.warning("index %s is missing: re-creating it", self.index)
                await self.ensure_index()
            return False
        source = response.get("_source") or {}
        return bool(source.get("status") == "sent")

    async def save(self, alert_id: str, document: Mapping[str, Any]) -> None:
        """Index (create or replace) the notification's document."""
        await self._retrying(
            "index",
            lambda: self.client.index(index=self.index, id=alert_id, document=dict(document)),
        )
