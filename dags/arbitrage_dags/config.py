"""Run-time configuration of the DAGs: an Airflow Variable, else an environment variable.

Each knob has an environment variable (``KEEPA_TOKEN_BUDGET``) and an Airflow Variable of
the same name in lower case (``keepa_token_budget``); the Variable wins, so an operator can
change a knob in the UI without a redeploy. Knobs are read when a task runs, not when the
DAG file is parsed (no metadata-database access at parse time); ``keepa_ingest`` reads them
once per run, in its ``configure`` task, and hands them to the others as XCom. The schedules are the
exception: they are part of the DAG's definition, so they come from the environment only
(``KEEPA_INGEST_SCHEDULE``, ...), read at parse time.

Connection settings (Kafka, Elasticsearch, the Keepa key and URL, topic and index prefixes)
are the app's :class:`app.settings.Settings`, from the environment like everywhere else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from app.domain.markets import MARKET_CODES
from app.keepa.schema import MAX_ASINS_PER_REQUEST

Lookup = Callable[[str], str | None]

DEFAULT_INGEST_SCHEDULE: Final = "*/15 * * * *"
DEFAULT_DISCOVERY_SCHEDULE: Final = "@daily"
DEFAULT_FX_SCHEDULE: Final = "30 16 * * 1-5"
"""ECB rates appear around 16:00 CET on working days; 16:30 UTC is after that all year."""

#: Tokens per run: Keepa's basic plan refills 20 tokens a minute, i.e. 300 per 15-minute run.
DEFAULT_TOKEN_BUDGET: Final = 300
DEFAULT_DISCOVERY_LIMIT: Final = 100
MAX_DISCOVERY_LIMIT: Final = 3_000
"""A sub-category best-seller list has at most 3,000 ASINs."""


class ConfigError(ValueError):
    """A knob has a value that cannot be used; the message names the knob."""


def env_lookup(name: str) -> str | None:
    """The environment variable ``name`` (upper case)."""
    value = os.environ.get(name)
    return value if value not in (None, "") else None


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


def _int(lookup: Lookup, name: str, default: int, *, low: int, high: int | None = None) -> int:
    raw = lookup(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise ConfigError(f"{name} must be {bound}, got {value}")
    return value


def _bool(lookup: Lookup, name: str, default: bool) -> bool:
    raw = lookup(name)
    if raw is None:
        return default
    text = raw.strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True, slots=True)
class IngestConfig:
    """Knobs of ``keepa_ingest``."""

    token_budget: int = DEFAULT_TOKEN_BUDGET
    """Most tokens one run may plan for (``KEEPA_TOKEN_BUDGET``)."""
    buybox: bool = False
    """Request buy box data (``KEEPA_BUYBOX``; costs 2 extra tokens per product)."""
    batch_size: int = MAX_ASINS_PER_REQUEST
    """ASINs per mapped fetch task (``KEEPA_BATCH_SIZE``, at most 100)."""

    @classmethod
    def load(cls, lookup: Lookup = env_lookup) -> IngestConfig:
        return cls(
            token_budget=_int(lookup, "KEEPA_TOKEN_BUDGET", DEFAULT_TOKEN_BUDGET, low=0),
            buybox=_bool(lookup, "KEEPA_BUYBOX", False),
            batch_size=_int(
                lookup, "KEEPA_BATCH_SIZE", MAX_ASINS_PER_REQUEST, low=1, high=MAX_ASINS_PER_REQUEST
            ),
        )

    def to_dict(self) -> dict[str, int | bool]:
        """The knobs as XCom (read once per run, handed to every task of the run)."""
        return {
            "token_budget": self.token_budget,
            "buybox": self.buybox,
            "batch_size": self.batch_size,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> IngestConfig:
        """The inverse of :meth:`to_dict`, validated like :meth:`load`."""
        values = {name: data.get(name) for name in ("token_budget", "buybox", "batch_size")}
        if any(v is None for v in values.values()):
            raise ConfigError(f"incomplete ingest configuration: {dict(data)!r}")
        return cls.load(
            {
                "KEEPA_TOKEN_BUDGET": str(values["token_budget"]),
                "KEEPA_BUYBOX": str(values["buybox"]),
                "KEEPA_BATCH_SIZE": str(values["batch_size"]),
            }.get
        )


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
    default_limit = _int(
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
