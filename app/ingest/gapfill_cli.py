"""``arbitrage tracking gapfill``: one gap fill of Keepa notifications (:mod:`app.ingest.gapfill`).

Registered on the ``tracking`` sub-command by :func:`register` (other ``tracking`` commands
register themselves the same way); heavy imports stay inside the command."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(tracking: typer.Typer) -> None:
    """Add ``gapfill`` to the ``arbitrage tracking`` sub-command."""
    tracking.command("gapfill")(gapfill)


def gapfill(
    since: int | None = typer.Option(
        None,
        "--since",
        min=1,
        max=24 * 60,
        help="Read the notifications of the last MINUTES instead of those since the last "
        "gap fill (Keepa keeps 24 hours).",
        metavar="MINUTES",
    ),
) -> None:
    """Publish the Keepa notifications the webhook missed: read Keepa's notification queue
    (revise=1) since the last read, leave out those already on keepa.notifications, publish
    the rest (acks=all) and move the watermark. Prints the counts (read, already received,
    published, rejected) and the tokens. Exit code 1 when it could not complete (the
    watermark then stays: the next run reads the same window)."""
    from datetime import UTC, datetime, timedelta

    from aiokafka.errors import KafkaError
    from elasticsearch import ApiError, TransportError

    from app.ingest.gapfill import gap_fill_with_settings
    from app.ingest.ingestion import MissingApiKeyError, TopicUnavailableError
    from app.keepa.http import KeepaError
    from app.settings import get_settings

    settings = get_settings()
    now = datetime.now(UTC)
    start = None if since is None else now - timedelta(minutes=since)
    try:
        report = gap_fill_with_settings(settings, now=now, since=start)
    except (
        MissingApiKeyError,
        TopicUnavailableError,
        KeepaError,
        KafkaError,
        TimeoutError,
        OSError,
        ApiError,
        TransportError,
    ) as exc:
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None
    for line in report.lines():
        typer.echo(line)
