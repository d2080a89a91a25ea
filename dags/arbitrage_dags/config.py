"""Run-time configuration of the DAGs: an Airflow Variable, else an environment variable.

Each knob has an environment variable (``KEEPA_TOKEN_BUDGET``) and an Airflow Variable of
the same name in lower case (``keepa_token_budget``); the Variable wins, so an operator can
change a knob in the UI without a redeploy. Knobs are read when a task runs, not when the
DAG file is parsed (no metadata-database access at parse time); ``keepa_ingest`` reads them
once per run, in its ``configure`` task, and hands them to the others as XCom. The schedules are the
exception: they are part of the DAG's definition, so they come from the environment only
(``KEEPA_INGEST_SCHEDULE``, ...), read at parse time.

The ingestion knobs themselves (:class:`IngestConfig`) are :mod:`app.ingest.config`'s, shared
with ``arbitrage ingest --once``; they are re-exported here for the DAGs.

Connection settings (Kafka, Elasticsearch, the Keepa key and URL, topic and index prefixes)
are the app's :class:`app.settings.Settings`, from the environment like everywhere else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from app.domain.markets import MARKET_CODES
from app.ingest.config import (
    DEFAULT_TOKEN_BUDGET,
    ConfigError,
    IngestConfig,
    Lookup,
    env_lookup,
    int_knob,
)

__all__ = [
    "DEFAULT_DISCOVERY_LIMIT",
    "DEFAULT_DISCOVERY_SCHEDULE",
    "DEFAULT_FX_SCHEDULE",
    "DEFAULT_INGEST_SCHEDULE",
    "DEFAULT_TOKEN_BUDGET",
    "MAX_DISCOVERY_LIMIT",
    "ConfigError",
    "DiscoveryTarget",
    "IngestConfig",
    "Lookup",
    "airflow_lookup",
    "discovery_targets",
    "env_lookup",
    "schedule_from_env",
]

DEFAULT_INGEST_SCHEDULE: Final = "*/15 * * * *"
DEFAULT_DISCOVERY_SCHEDULE: Final = "@daily"
DEFAULT_FX_SCHEDULE: Final = "30 16 * * 1-5"
"""ECB rates appear around 16:00 CET on working days; 16:30 UTC is after that all year."""

DEFAULT_DISCOVERY_LIMIT: Final = 100
MAX_DISCOVERY_LIMIT: Final = 3_000
"""A sub-category best-seller list has at most 3,000 ASINs."""


def airflow_lookup(name: str) -> str | None:
    """The Airflow Variable ``name.lower()``, else the environment variable ``name``.

    Only inside a running task (it talks to the Airflow API server).
    """
    from airflow.sdk import Variable

    value = Variable.get(name.lower(), default=None)
    if value is not None and str(value) != "":
        return str(value)
    return env_lookup(name)


def schedule_from_env(name: str, default: str) -> str:
    """A DAG's schedule (cron expression or preset such as ``@daily``) from the environment."""
    return env_lookup(name) or default


@dataclass(frozen=True, slots=True)
class DiscoveryTarget:
    """One best-seller list to harvest: a category node of one market."""

    market: str
    category: int
    limit: int = DEFAULT_DISCOVERY_LIMIT

    def to_dict(self) -> dict[str, str | int]:
        return {"market": self.market, "category": self.category, "limit": self.limit}

    @classmethod
    def from_dict(
        cls, data: object, *, default_limit: int = DEFAULT_DISCOVERY_LIMIT
    ) -> DiscoveryTarget:
        if not isinstance(data, dict):
            raise ConfigError(f"a discovery target must be an object, got {data!r}")
        market = str(data.get("market", "")).strip().upper()
        if market not in MARKET_CODES:
            raise ConfigError(f"discovery target market must be one of {MARKET_CODES}: {data!r}")
        try:
            category = int(data["category"])
            limit = int(data.get("limit", default_limit))
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"discovery target needs an integer category: {data!r}") from None
        if category <= 0 or not 1 <= limit <= MAX_DISCOVERY_LIMIT:
            raise ConfigError(
                f"discovery target needs category > 0 and limit 1-{MAX_DISCOVERY_LIMIT}: {data!r}"
            )
        return cls(market=market, category=category, limit=limit)


def discovery_targets(lookup: Lookup = env_lookup) -> list[DiscoveryTarget]:
    """``KEEPA_DISCOVERY_TARGETS``: a JSON list of ``{"market", "category", "limit"?}``.

    Example: ``[{"market": "DE", "category": 3167641}, {"market": "GB", "category": 11052681,
    "limit": 50}]``. Duplicated (market, category) pairs are kept once. Empty: no targets.
    """
    default_limit = int_knob(
        lookup,
        "KEEPA_DISCOVERY_LIMIT",
        DEFAULT_DISCOVERY_LIMIT,
        low=1,
        high=MAX_DISCOVERY_LIMIT,
    )
    raw = lookup("KEEPA_DISCOVERY_TARGETS")
    if raw is None:
        return []
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"KEEPA_DISCOVERY_TARGETS is not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise ConfigError("KEEPA_DISCOVERY_TARGETS must be a JSON list of objects")
    targets: dict[tuple[str, int], DiscoveryTarget] = {}
    for item in data:
        target = DiscoveryTarget.from_dict(item, default_limit=default_limit)
        targets.setdefault((target.market, target.category), target)
    return list(targets.values())
