"""Task body of ``keepa_ingest``'s ``sync_trackings``: the sync of ``arbitrage tracking sync``
(:mod:`app.ingest.tracking_sync`, docs/tracking.md), run after ``plan`` on every run, so a
fired threshold is re-armed, and thresholds follow new quotes and a new profile, within one
schedule interval (15 minutes by default).

Without ``KEEPA_WEBHOOK_URL`` the sync is skipped (the task succeeds and logs why): push
tracking is optional, polling goes on. The key and the URL appear in no log line or XCom.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from app.ingest.tracking_sync import read_inputs, sync_trackings, tracking_policy
from app.keepa.client import KeepaProductClient
from app.keepa.tracking import KeepaTrackingClient
from app.settings import Settings
from arbitrage_dags.ingest import es_client, require_api_key

log = logging.getLogger(__name__)

NO_WEBHOOK = "KEEPA_WEBHOOK_URL is not set: push tracking skipped, polling only"


def run_tracking_sync(
    settings: Settings, now: datetime, *, client: KeepaProductClient | None = None
) -> dict[str, Any]:
    """One sync; its report as a dict (``{"skipped": why}`` without a webhook URL)."""
    url = settings.keepa_webhook_url
    if url is None or not url.get_secret_value().strip():
        log.info("%s", NO_WEBHOOK)
        return {"skipped": NO_WEBHOOK}
    policy = tracking_policy(settings)
    http = client or KeepaProductClient(require_api_key(settings), base_url=settings.keepa_api_url)
    try:
        with es_client(settings) as es:
            inputs = read_inputs(es, settings)
        report = sync_trackings(KeepaTrackingClient(http), inputs, policy, webhook_url=url, now=now)
    finally:
        if client is None:
            http.close()
    for line in report.lines():
        log.info("%s", line)
    return report.to_dict()
