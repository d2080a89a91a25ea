"""Alert configuration: the webhooks to notify and how hard to try, from the environment.

``ALERT_WEBHOOKS`` is a JSON list of webhooks::

    [{"name": "team-slack", "url": "https://hooks.slack.com/services/T/B/x", "format": "slack",
      "min_profit_eur_cents": 800, "min_roi": 0.25, "markets": {"buy": ["DE"], "sell": ["FR"]}},
     {"name": "phone", "url": "https://api.telegram.org/bot<token>/sendMessage",
      "format": "telegram", "chat_id": "-1001234567890"}]

Webhook URLs often carry a secret (Slack/Discord webhook tokens, Telegram bot tokens): they
are ``SecretStr``, validation errors never echo the input, and logs name a webhook by its
:attr:`WebhookConfig.label` (name and host) only.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.domain.markets import Market

__all__ = ["AlertSettings", "MarketFilter", "WebhookConfig", "WebhookFormat"]


class WebhookFormat(StrEnum):
    """Payload flavour of a webhook (see :mod:`app.alerts.formats`)."""

    JSON = "json"
    SLACK = "slack"
    DISCORD = "discord"
    TELEGRAM = "telegram"


def _market(value: Any) -> Market:
    if isinstance(value, Market):
        return value
    if not isinstance(value, str):
        raise ValueError(f"a market code is a string, got {type(value).__name__}")
    return Market.parse(value)


MarketCode = Annotated[Market, BeforeValidator(_market)]


class MarketFilter(BaseModel):
    """Markets a webhook cares about; ``None`` (the default) means every market."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    buy: frozenset[MarketCode] | None = None
    sell: frozenset[MarketCode] | None = None

    @field_validator("buy", "sell")
    @classmethod
    def _not_empty(cls, value: frozenset[Market] | None) -> frozenset[Market] | None:
        if value is not None and not value:
            raise ValueError("an empty market list would never match; omit it to allow all")
        return value


class WebhookConfig(BaseModel):
    """One notification target and its thresholds."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    url: SecretStr
    format: WebhookFormat = WebhookFormat.JSON
    min_profit_eur_cents: int = Field(500, ge=0)
    min_roi: Decimal = Field(Decimal("0.2"), ge=0)
    markets: MarketFilter = MarketFilter()
    chat_id: int | str | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be an absolute http(s) URL")
        return value

    @model_validator(mode="after")
    def _chat_id_for_telegram_only(self) -> WebhookConfig:
        if self.format is WebhookFormat.TELEGRAM and self.chat_id in (None, ""):
            raise ValueError(f"webhook {self.name!r}: a telegram webhook needs a chat_id")
        if self.format is not WebhookFormat.TELEGRAM and self.chat_id is not None:
            raise ValueError(f"webhook {self.name!r}: chat_id is for telegram webhooks only")
        return self

    @property
    def host(self) -> str:
        """The URL's host (safe to log, unlike the URL)."""
        return urlsplit(self.url.get_secret_value()).hostname or "?"

    @property
    def label(self) -> str:
        """``name (host)``: how a webhook appears in logs and errors."""
        return f"{self.name} ({self.host})"


class AlertSettings(BaseSettings):
    """``ALERT_*`` environment variables (a ``.env`` file in the working directory too)."""

    model_config = SettingsConfigDict(
        env_prefix="ALERT_",
        env_file=".env",
        extra="ignore",
        case_sensitive=False,
        hide_input_in_errors=True,
    )

    webhooks: list[WebhookConfig] = Field(
        default_factory=list,
        description="JSON list of webhooks (name, url, format, thresholds, markets, chat_id).",
    )
    rate_limit_per_minute: float = Field(
        20.0, ge=0, description="Requests per minute per webhook (token bucket); 0 = no limit."
    )
    max_rate_limit_wait_s: float = Field(
        300.0,
        ge=0,
        description="Longest wait for a webhook's rate limit; a notification that would wait "
        "longer is not sent and is recorded as rate_limited.",
    )
    max_attempts: int = Field(5, ge=1, description="HTTP attempts per notification.")
    backoff_base_s: float = Field(
        1.0, ge=0, description="First retry delay; doubles on every further attempt."
    )
    backoff_max_s: float = Field(
        60.0, ge=0, description="Longest retry delay; a longer Retry-After gives up."
    )
    timeout_s: float = Field(10.0, gt=0, description="Timeout of one HTTP request.")

    @field_validator("webhooks")
    @classmethod
    def _unique_names(cls, value: list[WebhookConfig]) -> list[WebhookConfig]:
        names = [webhook.name for webhook in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"webhook names must be unique, repeated: {duplicates}")
        return value
