"""Knobs of an ingestion run (``keepa_ingest`` and ``arbitrage ingest --once``): from a lookup
of names, the environment by default.

Each knob has an environment variable (``KEEPA_TOKEN_BUDGET``); the DAGs' lookup
(:func:`arbitrage_dags.config.airflow_lookup`) reads an Airflow Variable of the same name in
lower case first, so an operator can change a knob in the UI without a redeploy.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from app.keepa.schema import MAX_ASINS_PER_REQUEST

__all__ = [
    "DEFAULT_TOKEN_BUDGET",
    "ConfigError",
    "IngestConfig",
    "Lookup",
    "bool_knob",
    "env_lookup",
    "int_knob",
]

Lookup = Callable[[str], str | None]

#: Tokens per run: Keepa's basic plan refills 20 tokens a minute, i.e. 300 per 15-minute run.
DEFAULT_TOKEN_BUDGET: Final = 300


class ConfigError(ValueError):
    """A knob has a value that cannot be used; the message names the knob."""


def env_lookup(name: str) -> str | None:
    """The environment variable ``name`` (upper case)."""
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def int_knob(lookup: Lookup, name: str, default: int, *, low: int, high: int | None = None) -> int:
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


def bool_knob(lookup: Lookup, name: str, default: bool) -> bool:
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
            token_budget=int_knob(lookup, "KEEPA_TOKEN_BUDGET", DEFAULT_TOKEN_BUDGET, low=0),
            buybox=bool_knob(lookup, "KEEPA_BUYBOX", False),
            batch_size=int_knob(
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
