"""Settings of the dashboard that are not in :mod:`app.settings` (which holds ``api_url`` and
``dashboard_port``). Read from the environment like every other setting, no prefix."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DashboardSettings"]


class DashboardSettings(BaseSettings):
    """How often the live view refreshes and what it fetches."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    dashboard_refresh_s: float = Field(
        5.0, ge=1, le=3600, description="Seconds between refreshes of the live view."
    )
    dashboard_new_minutes: int = Field(
        15,
        ge=0,
        description="Opportunities opened, or first shown on the page, within this many minutes"
        " are 'new'.",
    )
    dashboard_page_size: int = Field(
        200, ge=1, le=200, description="Opportunities fetched per refresh (the API's maximum)."
    )
    dashboard_api_timeout_s: float = Field(
        5.0, gt=0, le=120, description="Time limit of each API request (seconds)."
    )
