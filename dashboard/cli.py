"""``arbitrage dashboard``: serve the Streamlit dashboard (registered in :mod:`app.cli`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from app.settings import get_settings

__all__ = ["SCRIPT", "dashboard_command", "streamlit_argv"]

SCRIPT = Path(__file__).resolve().parent / "app.py"


def streamlit_argv(host: str, port: int) -> list[str]:
    """``python -m streamlit run dashboard/app.py`` headless, without telemetry."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(SCRIPT),
        "--server.headless",
        "true",
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]


def dashboard_command(
    host: str | None = typer.Option(
        None, help="Bind address (default: settings DASHBOARD_HOST, 127.0.0.1)."
    ),
    port: int | None = typer.Option(None, help="Port (default: settings DASHBOARD_PORT)."),
) -> None:
    """Serve the Streamlit dashboard (reads the API at API_URL)."""
    settings = get_settings()
    argv = streamlit_argv(
        settings.dashboard_host if host is None else host,
        settings.dashboard_port if port is None else port,
    )
    # Replace this process instead of starting a child: `arbitrage dashboard` *is* the
    # Streamlit server (same pid), so SIGTERM / Ctrl-C reach Streamlit and stopping it leaves
    # nothing behind (tests/integration/test_dashboard_process.py).
    os.execv(argv[0], argv)  # noqa: S606
