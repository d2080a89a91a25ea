"""Alert configuration: the webhooks to notify and how hard to try, from the environment.

``ALERT_WEBHOOKS`` is a JSON list of webhooks; ``url`` is any Apprise URL, or an http(s) URL
for a plain JSON webhook (how each is delivered: :mod:`app.alerts.targets`)::

    [{"name": "team-slack", "url": "https://hooks.slack.com/services/T/B/x",
      "min_profit_eur_cents": 800, "min_roi": 0.25, "markets": {"buy": ["DE"], "sell": ["FR"]}},
     {"name": "phone", "url": "tgram://<bot token>/-1001234567890"},
     {"name": "mail", "url": "mailtos://user:app-password@gmail.com?to=me@example.org"},
     {"name": "pipeline", "url": "https://example.org/arbitrage-hook"}]

Entries written before Apprise keep working: ``"format": "slack"``/``"discord"`` with the
service's webhook URL, and ``"format": "telegram"`` with the Bot API URL and a ``chat_id``.

Webhook URLs often carry a secret (tokens, passwords): they are ``SecretStr``, validation
errors never echo the input, and logs name a webhook by its :attr:`WebhookConfig.label`
(name, and the host of an http(s) URL or the scheme of an Apprise URL) only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.alerts.targets import (
    HTTP_SCHEMES,
    WebhookFormat,
    apprise_url,
    check_apprise_url,
    safe_host,
    scheme_of,
)
from app.domain.markets import Market

__all__ = ["AlertSettings", "MarketFilter", "WebhookConfig", "WebhookFormat"]


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
    """One notification target and its thresholds.

    ``format`` defaults to ``json`` for an http(s) URL (a plain JSON POST) and to
    ``apprise`` for any other URL; an Apprise URL is loaded once here, so that a URL Apprise
    cannot use is refused with the configuration, not at the first alert.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    url: SecretStr
    format: WebhookFormat = WebhookFormat.JSON
    min_profit_eur_cents: int = Field(500, ge=0)
    min_roi: Decimal = Field(Decimal("0.2"), ge=0)
    markets: MarketFilter = MarketFilter()
    chat_id: int | str | None = None
    _service: str | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _default_format(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("format") is None:
            url = data.get("url")
            text = url.get_secret_value() if isinstance(url, SecretStr) else url
            if isinstance(text, str) and scheme_of(text) not in ("", *HTTP_SCHEMES):
                data = {**data, "format": WebhookFormat.APPRISE}
        return data

    @model_validator(mode="after")
    def _deliverable(self) -> WebhookConfig:
        if self.format is WebhookFormat.TELEGRAM and self.chat_id in (None, ""):
            raise ValueError(f"webhook {self.name!r}: a telegram webhook needs a chat_id")
        if self.format is not WebhookFormat.TELEGRAM and self.chat_id is not None:
            raise ValueError(f"webhook {self.name!r}: chat_id is for telegram webhooks only")
        try:
            target = self.apprise_url
            if target is not None:
                self._service = check_apprise_url(target.get_secret_value(), self.format)
        except ValueError as exc:  # TargetError: its message never contains the URL
            raise ValueError(f"webhook {self.name!r}: {exc}") from None
        return self

    @property
    def apprise_url(self) -> SecretStr | None:
        """The Apprise URL notifications go to; ``None`` for a plain JSON webhook."""
        target = apprise_url(self.url.get_secret_value(), self.format, self.chat_id)
        return None if target is None else SecretStr(target)

    @property
    def service(self) -> str:
        """Apprise's name of the service (``Slack``, ``Telegram``, ``E-Mail``...), or
        ``JSON webhook`` for a plain JSON POST."""
        return self._service or "JSON webhook"

    @property
    def host(self) -> str:
        """Safe to log, unlike the URL: the host of an http(s) URL, else the scheme."""
        return safe_host(self.url.get_secret_value())

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
        description="JSON list of webhooks (name, url: an Apprise URL or an http(s) URL for "
        "a plain JSON POST, format, thresholds, markets, chat_id).",
    )
    rate_limit_per_minute: float = Field(
        20.0,
        ge=0,
        description="Notifications (attempts) per minute per webhook (token bucket); 0 = no limit.",
    )
    max_rate_limit_wait_s: float = Field(
        300.0,
        ge=0,
        description="Longest wait for a webhook's rate limit; a notification that would wait "
        "longer is not sent and is recorded as rate_limited.",
    )
    max_attempts: int = Field(5, ge=1, description="Delivery attempts per notification.")
    backoff_base_s: float = Field(
        1.0, ge=0, description="First retry delay; doubles on every further attempt."
    )
    backoff_max_s: float = Field(
        60.0, ge=0, description="Longest retry delay; a longer Retry-After gives up."
    )
    timeout_s: float = Field(
        10.0, gt=0, description="Connect and read timeout of one request to a webhook."
    )

    @field_validator("webhooks")
    @classmethod
    def _unique_names(cls, value: list[WebhookConfig]) -> list[WebhookConfig]:
        names = [webhook.name for webhook in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"webhook names must be unique, repeated: {duplicates}")
        return value
