"""Amazon EU arbitrage tracker.

``app.app`` is the Faust application (so ``faust -A app worker`` works); it is imported
lazily, so that importing ``app.settings`` or ``app.keepa`` (e.g. in the Airflow
environment, which has no Faust) does not import Faust.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "app":
        from app.faust_app import app

        return app
    raise AttributeError(f"module 'app' has no attribute {name!r}")
