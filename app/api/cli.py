"""``arbitrage api``: serve the REST API with uvicorn (registered in :mod:`app.cli`)."""

from __future__ import annotations

import typer

from app.settings import get_settings

__all__ = ["serve_api"]


def serve_api(
    host: str | None = typer.Option(None, help="Bind address (default: settings API_HOST)."),
    port: int | None = typer.Option(None, help="Port (default: settings API_PORT)."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Serve the REST API (OpenAPI docs at /docs)."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "app.api.main:create_app",
        factory=True,
        host=settings.api_host if host is None else host,
        port=settings.api_port if port is None else port,
        log_level=log_level,
        proxy_headers=False,
    )
