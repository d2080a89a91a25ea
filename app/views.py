"""Faust web views: table inspection (routed to the worker owning the key) and worker stats."""

from __future__ import annotations

from typing import Any

import msgspec
from faust.web import Request, Response, View

from app.domain.asin import is_valid_asin
from app.faust_app import app
from app.metrics import metrics
from tables.open_opportunities import read_open_routes
from tables.quotes import quotes_table, read_quotes
from tables.seller_profile import profile_state


@app.page("/arbitrage/asin/{asin}/")
class AsinView(View):
    """``GET /arbitrage/asin/<ASIN>/``: the latest quote per market and the open routes."""

    @app.table_route(table=quotes_table, match_info="asin")  # type: ignore[arg-type]
    async def get(self, request: Request, asin: str) -> Response:
        if not is_valid_asin(asin):
            return self.json({"error": f"not an ASIN: {asin!r}"}, status=400)
        key = asin.encode()
        return self.json(
            {
                "asin": asin,
                "quotes": msgspec.to_builtins(read_quotes(key)),
                "open_opportunities": msgspec.to_builtins(read_open_routes(key)),
            }
        )


@app.page("/arbitrage/stats/")
class StatsView(View):
    """``GET /arbitrage/stats/``: this worker's counters, assigned partitions and the table
    store in use (``store`` as configured, ``table_stores`` as each table actually opened it,
    e.g. ``rocksdb://``) and the seller profile in force (``seller_profile``: its version,
    when and by whom it was published; ``null`` for the default)."""

    async def get(self, request: Request) -> Response:
        assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in app.assignor.assigned_actives())
        profile = profile_state()
        body: dict[str, Any] = {
            **metrics.snapshot(),
            "assigned_partitions": assigned,
            "store": f"{app.conf.store.scheme}://",
            "table_stores": {
                name: f"{table.data.url.scheme}://" for name, table in app.tables.items()
            },
            "seller_profile": {
                "version": profile.version,
                "updated_at": None
                if profile.updated_at is None
                else profile.updated_at.isoformat(),
                "updated_by": profile.updated_by,
            },
        }
        return self.json(body)
