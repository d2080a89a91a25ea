"""All runtime configuration, in one place.

Every field can be overridden by an environment variable of the same name in upper case
(``KAFKA_BOOTSTRAP_SERVERS``, ``ELASTICSEARCH_URL``, ...). A ``.env`` file in the working
directory is read too. Secrets are ``SecretStr`` so they never end up in logs or reprs.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Final, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.domain.policy import DEFAULT_SPIKE_SHARE

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Configuration of every component (worker, API, dashboard, ingestion, local stack)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # --- Kafka -------------------------------------------------------------------------
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma separated."
    )
    topic_partitions: int = Field(
        4, ge=1, description="Partitions of the app's topics (source topics and tables match)."
    )
    topic_replication_factor: int = Field(1, ge=1, description="Replication of created topics.")
    topic_prefix: str = Field(
        "", description="Prefix for every topic name (isolates test runs / environments)."
    )

    # --- Elasticsearch -----------------------------------------------------------------
    elasticsearch_url: str = Field("http://127.0.0.1:9200", description="Elasticsearch URL.")
    elasticsearch_index_prefix: str = Field(
        "", description="Prefix for every index name (isolates test runs / environments)."
    )

    # --- Faust worker ------------------------------------------------------------------
    faust_app_id: str = Field("arbitrage", description="Faust application id (consumer group).")
    faust_store: str = Field(
        "rocksdb://",
        description="Table store: rocksdb:// (production, all workers); memory:// in-process only.",
    )
    faust_data_dir: Path = Field(
        PROJECT_ROOT / ".stack" / "faust", description="Where the worker keeps table state."
    )
    faust_web_port: int = Field(6066, description="Port of the worker's web views.")
    faust_web_host: str = Field(
        "127.0.0.1",
        description="Host the worker's web views bind to (and its URL for the other workers).",
    )
    faust_loop: Literal["uvloop", "asyncio"] = Field(
        "uvloop",
        description="The worker's event loop: uvloop (libuv; cheaper sockets and scheduling) "
        "or asyncio (the standard library's).",
    )

    # --- Detection (every money figure is in the seller profile and the fee schedule) --
    fx_gbp_eur: Decimal = Field(
        Decimal("1.17"), gt=0, description="EUR per GBP until the fx topic says otherwise."
    )
    stale_after_hours: Decimal = Field(
        Decimal(24),
        gt=0,
        description="Quote staleness in hours (fractions allowed, e.g. 0.5): a quote this much "
        "older than the newest quote of its ASIN, than its own fetch time or, for open routes, "
        "than the sweep's wall-clock time is stale.",
    )
    sweep_interval_seconds: float = Field(
        10.0,
        gt=0,
        description="Seconds between two sweeps of a worker (profile re-evaluation and "
        "wall-clock staleness).",
    )
    material_change_eur_cents: int = Field(
        50, ge=0, description="Profit change that makes an `updated` event."
    )
    spike_share: Decimal = Field(
        DEFAULT_SPIKE_SHARE,
        ge=0,
        le=10,
        allow_inf_nan=False,
        description="A sell price more than this share above its 90-day average is a spike "
        "(0.20: 20 %; docs/signals.md).",
    )

    # --- Keepa -------------------------------------------------------------------------
    keepa_api_key: SecretStr | None = Field(None, description="Keepa API key (secret).")
    keepa_api_url: str = Field("https://api.keepa.com", description="Keepa API base URL.")
    keepa_webhook_url: SecretStr | None = Field(
        None,
        description="The URL Keepa posts tracking notifications to, set by `arbitrage tracking "
        "sync` (secret: it holds the receiver's secret path); https, or http to a loopback host.",
    )
    keepa_tracking_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of Keepa's nominal token refill rate that push trackings may take "
        "off it (0, the default = no push tracking: in the simulation no share beat polling "
        "only on every seed, docs/tracking.md).",
    )
    # The values of app.domain.breakeven.TrackingPriceTypes (a unit test keeps them equal).
    keepa_tracking_price_types: Literal["regular", "marketplace"] = Field(
        "regular",
        description="Which Keepa price types the trackings' thresholds watch: regular (Amazon "
        "and New: 0.9 tokens per update per market) or marketplace (the Buy Box and the New "
        "FBA / FBM offers our prices come from: 9 tokens). docs/tracking.md, 'Price types'.",
    )
    keepa_tracking_update_interval_h: int = Field(
        1, ge=1, le=25, description="Keepa's updateInterval of every tracking, in hours."
    )
    keepa_tracking_fx_margin: float = Field(
        0.02,
        ge=0,
        lt=1,
        description="How far a threshold converted to the tracking's main currency is moved to "
        "the side that notifies early.",
    )

    # --- API / dashboard ---------------------------------------------------------------
    api_host: str = Field("127.0.0.1", description="Host the REST API binds to.")
    api_port: int = Field(8000, description="Port of the REST API.")
    api_token: SecretStr | None = Field(
        None,
        description="Bearer token for write endpoints (secret); at least 32 random characters, "
        "anything shorter or a placeholder leaves writes disabled.",
    )
    api_url: str = Field("http://127.0.0.1:8000", description="Where the dashboard finds the API.")
    dashboard_host: str = Field("127.0.0.1", description="Host the Streamlit dashboard binds to.")
    dashboard_port: int = Field(8501, description="Port of the Streamlit dashboard.")

    # --- Keepa webhook receiver (`arbitrage webhook`) -------------------------------------
    keepa_webhook_secret: SecretStr | None = Field(
        None,
        description="The secret path segment of the Keepa webhook URL (secret): at least 32 "
        "URL-safe random characters; the receiver refuses to start without a usable one.",
    )
    webhook_host: str = Field("127.0.0.1", description="Host the Keepa webhook receiver binds to.")
    webhook_port: int = Field(8090, description="Port of the Keepa webhook receiver.")
    webhook_publish_timeout_s: float = Field(
        5.0,
        gt=0,
        description="How long the receiver waits for Kafka's acknowledgement of a notification "
        "before answering 503.",
    )

    # --- Local stack (`arbitrage stack`) -----------------------------------------------
    stack_dir: Path = Field(
        PROJECT_ROOT / ".stack", description="Artifacts, data, logs and pid files of the stack."
    )
    stack_java_home: Path | None = Field(
        None, description="JDK for Kafka (default: the newest JDK >= 17 in /usr/lib/jvm)."
    )
    stack_es_java_home: Path | None = Field(
        None, description="JDK for Elasticsearch (default: the newest JDK >= 21 in /usr/lib/jvm)."
    )
    stack_kafka_heap: str = Field("1g", description="Kafka broker heap.")
    stack_es_heap: str = Field("2g", description="Elasticsearch heap.")
    stack_user: str = Field(
        "arbitrage", description="Unprivileged user that runs Elasticsearch when we are root."
    )
    stack_timeout_s: float = Field(180.0, description="How long `stack up` waits for readiness.")

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def index(self, name: str) -> str:
        return f"{self.elasticsearch_index_prefix}{name}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


#: The shortest secret (``API_TOKEN``, ``KEEPA_WEBHOOK_SECRET``) that is accepted.
SECRET_MIN_LENGTH: Final = 32

#: How to make a good secret (said wherever one is refused).
GENERATION_HINT: Final = (
    'generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
)

#: Example values people copy from documentation (compared without case and punctuation).
_PLACEHOLDER_MARKERS: Final = ("changeme", "replaceme", "yourtoken", "yoursecret")


def secret_problem(name: str, secret: SecretStr | None) -> str | None:
    """Why the secret setting ``name`` cannot guard anything, or None when it can.

    Refused: unset or empty, a placeholder copied from an example (``change-me``), or
    shorter than :data:`SECRET_MIN_LENGTH` characters. The reason never contains the secret,
    so it can be logged.
    """
    value = secret.get_secret_value() if secret is not None else ""
    if not value:
        return f"{name} is not set"
    folded = re.sub(r"[^a-z0-9]", "", value.lower())
    if any(marker in folded for marker in _PLACEHOLDER_MARKERS):
        return f"{name} is a placeholder from an example, not a secret"
    if len(value) < SECRET_MIN_LENGTH:
        return f"{name} is shorter than {SECRET_MIN_LENGTH} characters"
    return None
