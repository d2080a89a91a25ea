"""``arbitrage webhook``: serve the Keepa webhook receiver with uvicorn (registered in
:mod:`app.cli`)."""

from __future__ import annotations

import logging

import typer

from app.settings import GENERATION_HINT, get_settings
from app.webhook.secret import webhook_secret_problem

__all__ = ["serve_webhook"]

log = logging.getLogger(__name__)


def serve_webhook(
    host: str | None = typer.Option(None, help="Bind address (default: settings WEBHOOK_HOST)."),
    port: int | None = typer.Option(None, help="Port (default: settings WEBHOOK_PORT)."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Receive Keepa's tracking notifications on POST /keepa/<KEEPA_WEBHOOK_SECRET> and
    publish them to Kafka (health: GET /health, counters: GET /stats)."""
    import uvicorn

    settings = get_settings()
    problem = webhook_secret_problem(settings.keepa_webhook_secret)
    if problem is not None:
        typer.echo(
            f"error: the webhook receiver needs a secret: {problem} ({GENERATION_HINT})",
            err=True,
        )
        raise typer.Exit(2)
    uvicorn.run(
        "app.webhook.main:create_app",
        factory=True,
        host=settings.webhook_host if host is None else host,
        port=settings.webhook_port if port is None else port,
        log_level=log_level,
        proxy_headers=False,
    )
