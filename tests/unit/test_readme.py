from __future__ import annotations

import pytest
from pydantic_settings import BaseSettings

from app.alerts.config import AlertSettings
from app.api.config import ApiSettings
from app.settings import PROJECT_ROOT, Settings
from dashboard.config import DashboardSettings


@pytest.mark.parametrize("settings", [Settings, ApiSettings, AlertSettings, DashboardSettings])
def test_every_setting_is_documented_in_the_readme(settings: type[BaseSettings]) -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    prefix = settings.model_config.get("env_prefix", "") or ""
    names = [f"{prefix}{name}".upper() for name in settings.model_fields]
    missing = [name for name in names if f"`{name}`" not in readme]
    assert not missing, f"add to the README configuration table: {missing}"
