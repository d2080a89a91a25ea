"""``arbitrage tracking sync [--dry-run]`` and ``arbitrage tracking show`` (docs/tracking.md).

``KEEPA_API_KEY`` and ``KEEPA_WEBHOOK_URL`` come from the environment; neither is ever
printed. Exit codes: 0 done (also when some ASINs failed: they are listed), 1 Keepa or a
store failed, 2 a setting is missing or unusable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from app.keepa.http import KeepaHttpClient
    from app.settings import Settings

__all__ = ["tracking_cli"]

tracking_cli = typer.Typer(
    no_args_is_help=True,
    help="Keepa push trackings: break-even thresholds of the watchlist (docs/tracking.md).",
)


def _keepa_http(settings: Settings) -> KeepaHttpClient:
    """The Keepa client of the commands (a test replaces it with one on a fake clock)."""
    from app.keepa.client import KeepaProductClient

    key = settings.keepa_api_key
    if key is None or not key.get_secret_value().strip():
        typer.echo("error: KEEPA_API_KEY is not set", err=True)
        raise typer.Exit(2)
    return KeepaProductClient(key, base_url=settings.keepa_api_url)


@tracking_cli.command("sync")
def tracking_sync(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Read Keepa and plan, send nothing (no token spent)."
    ),
) -> None:
    """Make Keepa's trackings mirror the watchlist and its break-even thresholds, within the
    push budget; set the webhook URL; report what changed and the token figures."""
    from elasticsearch import Elasticsearch

    from app.ingest.tracking_sync import (
        WebhookUrlError,
        check_webhook_url,
        read_inputs,
        sync_trackings,
        tracking_policy,
    )
    from app.keepa.http import KeepaError
    from app.keepa.tracking import KeepaTrackingClient
    from app.settings import get_settings

    settings = get_settings()
    url = settings.keepa_webhook_url
    try:
        if url is not None:
            check_webhook_url(url)
        elif not dry_run:
            typer.echo(
                "error: KEEPA_WEBHOOK_URL is not set: Keepa would have nowhere to push "
                "(use --dry-run to plan without it)",
                err=True,
            )
            raise typer.Exit(2)
        policy = tracking_policy(settings)
    except (WebhookUrlError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    http = _keepa_http(settings)
    try:
        with Elasticsearch(settings.elasticsearch_url, request_timeout=30) as es:
            inputs = read_inputs(es, settings)
        report = sync_trackings(
            KeepaTrackingClient(http),
            inputs,
            policy,
            webhook_url=url,
            now=datetime.now(UTC),
            dry_run=dry_run,
        )
    except KeepaError as exc:
        typer.echo(f"error: Keepa: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        http.close()
    for line in report.lines():
        typer.echo(line)


@tracking_cli.command("show")
def tracking_show() -> None:
    """List Keepa's trackings (thresholds in each tracking's main currency; no secret)."""
    from app.ingest.tracking_sync import current_trackings, show_lines
    from app.keepa.http import KeepaError
    from app.keepa.tracking import KeepaTrackingClient
    from app.settings import get_settings

    http = _keepa_http(get_settings())
    try:
        found, state = current_trackings(KeepaTrackingClient(http))
    except KeepaError as exc:
        typer.echo(f"error: Keepa: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        http.close()
    for line in show_lines([found[a] for a in sorted(found)]):
        typer.echo(line)
    rate = "?" if state is None else f"{state.refill_rate}/min"
    reduction = "?" if state is None else f"{state.token_flow_reduction}"
    typer.echo(
        f"{len(found)} tracking(s); refill rate {rate}, flow reduction {reduction}", err=True
    )
