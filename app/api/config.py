"""Settings of the REST API that are not (yet) in :mod:`app.settings`.

Read from the environment like every other setting (no prefix): ``CORS_ORIGINS`` takes a
comma-separated list (``http://localhost:8501,https://example.org``) or a JSON array;
empty (the default) means no CORS headers at all, i.e. only same-origin browser access.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["ApiSettings"]


class ApiSettings(BaseSettings):
    """CORS, health-check and lifetime-cache tuning of the API."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed by CORS (comma separated or a JSON array); empty = none.",
    )
    health_cache_s: float = Field(
        5.0, ge=0, description="How long a Kafka health result is reused (seconds)."
    )
    lifetime_cache_s: float = Field(
        30.0,
        ge=0,
        description="How long the market pairs' lifetime figures are reused (seconds).",
    )
    health_timeout_s: float = Field(
        3.0, gt=0, description="Time limit of each dependency check of GET /health (seconds)."
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value
