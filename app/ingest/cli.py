"""CLI commands of ingestion: ``arbitrage watchlist ...``, ``arbitrage replay`` and
``arbitrage ingest --once``.
Registered on the main CLI by :func:`register`; heavy imports stay inside the
commands so ``arbitrage --help`` stays fast."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app.domain.asin import is_valid_asin
from app.domain.watchlist import DEFAULT_MARKETS, MAX_PRIORITY, WatchlistEntry, normalise_markets

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from app.ingest.watchlist import WatchlistStore

__all__ = ["register", "watchlist_cli"]

watchlist_cli = typer.Typer(
    no_args_is_help=True, help="The watchlist: ASINs to track (Elasticsearch index `watchlist`)."
)


def register(cli: typer.Typer) -> None:
    """Add ``watchlist``, ``replay`` and ``ingest`` to the main CLI."""
    cli.add_typer(watchlist_cli, name="watchlist")
    cli.command("replay")(replay)
    cli.command("ingest")(ingest)


def _store() -> tuple[Elasticsearch, WatchlistStore]:
    from elasticsearch import Elasticsearch

    from app.ingest.watchlist import WatchlistStore
    from app.settings import get_settings

    settings = get_settings()
    es = Elasticsearch(settings.elasticsearch_url, request_timeout=30)
    return es, WatchlistStore(es, settings)


@watchlist_cli.command("add")
def watchlist_add(
    asins: Annotated[list[str], typer.Argument(help="ASINs (10 characters A-Z0-9).")],
    markets: str = typer.Option(
        ",".join(DEFAULT_MARKETS), "--markets", "-m", help="Markets to track, e.g. DE,FR or DE|GB."
    ),
    priority: int = typer.Option(
        0, "--priority", "-p", min=0, max=MAX_PRIORITY, help=f"0-{MAX_PRIORITY}."
    ),
    note: str | None = typer.Option(None, "--note", help="A free note."),
) -> None:
    """Add ASINs (or update their markets/priority); invalid ASINs are rejected."""
    try:
        codes = normalise_markets(markets)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    normalised = [a.strip().upper() for a in asins]
    bad = [a for a in normalised if not is_valid_asin(a)]
    if bad:
        typer.echo(f"error: invalid ASIN(s): {', '.join(bad)} (10 characters A-Z0-9)", err=True)
        raise typer.Exit(2)
    entries = [WatchlistEntry(a, codes, priority, "manual", note) for a in normalised]
    es, store = _store()
    with es:
        written = store.add(entries)
    typer.echo(
        f"added/updated {written} of {len(set(normalised))} ASIN(s) (unchanged: "
        f"{len(set(normalised)) - written}); markets {'|'.join(codes)}, priority {priority}"
    )


@watchlist_cli.command("remove")
def watchlist_remove(
    asins: Annotated[list[str], typer.Argument(help="ASINs to stop tracking.")],
) -> None:
    """Remove ASINs from the watchlist."""
    es, store = _store()
    with es:
        removed = store.remove(asins)
    typer.echo(f"removed {removed} ASIN(s); {len(set(asins)) - removed} were not on the watchlist")


@watchlist_cli.command("list")
def watchlist_list(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    limit: int = typer.Option(1000, "--limit", min=1, help="At most this many entries."),
) -> None:
    """The watchlist, highest priority first."""
    import orjson

    from app.domain.utc import format_utc

    es, store = _store()
    with es:
        entries = store.list(limit=limit)
    for e in entries:
        if as_json:
            doc = {
                "asin": e.asin,
                "markets": list(e.markets),
                "priority": e.priority,
                "source": e.source,
                "note": e.note,
                "added_at": format_utc(e.added_at) if e.added_at else None,
            }
            typer.echo(orjson.dumps(doc).decode())
        else:
            added = format_utc(e.added_at) if e.added_at else "-"
            note = f"  {e.note}" if e.note else ""
            typer.echo(
                f"{e.asin}  {'|'.join(e.markets):<14} p{e.priority:<3} {e.source:<8} {added}{note}"
            )
    if not as_json:
        typer.echo(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}", err=True)


@watchlist_cli.command("import")
def watchlist_import(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV or text of ASINs.")
    ],
    strict: bool = typer.Option(
        False, "--strict", help="Exit 1 when any line was rejected (the good ones are imported)."
    ),
) -> None:
    """Import a watchlist file (CSV or text of ASINs); bad lines are reported and skipped.

    Text: one ASIN a line (# comments). CSV: a header with `asin` and optional `markets`
    (DE|FR), `priority` (0-10), `note`. Bad lines are reported with their line numbers on
    stderr; the good ones are imported. Exit code 0 when at least one entry was imported (1
    with --strict if any line was rejected), 1 when nothing could be imported."""
    from app.ingest.watchlist import parse_watchlist_report

    text = file.read_text(encoding="utf-8", errors="replace")
    parsed = parse_watchlist_report(text, source="import")
    for problem in parsed.errors:
        typer.echo(f"{file}:{problem.line}: rejected: {problem.reason}: {problem.text!r}", err=True)
    for warning in parsed.warnings:
        typer.echo(f"{file}:{warning.line}: warning: {warning.reason}", err=True)
    written = 0
    if parsed.entries:
        es, store = _store()
        with es:
            written = store.add(parsed.entries)
    typer.echo(
        f"imported {len(parsed.entries)} ASIN(s) ({written} new or changed, "
        f"{len(parsed.entries) - written} unchanged); rejected {len(parsed.errors)} line(s); "
        f"{len(parsed.warnings)} duplicate(s) merged"
    )
    if not parsed.entries or (strict and parsed.errors):
        raise typer.Exit(1)


def replay(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL envelopes.")],
    rate: float = typer.Option(0.0, "--rate", min=0, help="Envelopes/s; 0 = as fast as possible."),
    loop: bool = typer.Option(
        False, "--loop", help="Repeat forever (Ctrl-C stops), shifting times forward each pass."
    ),
    passes: int | None = typer.Option(
        None, "--passes", min=1, help="With --loop: stop after this many passes."
    ),
    shift_time: bool = typer.Option(
        False, "--shift-time", help="Move the file's times so its latest fetched_at is now."
    ),
    after_topic: bool = typer.Option(
        False,
        "--after-topic",
        help="Move the file's times (at least) so its earliest event lies one step after the "
        "newest event already on keepa.products (read from the last message of each "
        "partition); with --shift-time the larger of the two shifts applies.",
    ),
    realtime: bool = typer.Option(
        False,
        "--realtime",
        help="Event time advances at the pace of the clock: an envelope waits until its "
        "shifted fetched_at is due (plus the lead the file starts with when it lies ahead of "
        "now); with --shift-time --loop the history goes out at once, later passes play live.",
    ),
) -> None:
    """Publish a JSONL file of Keepa envelopes to keepa.products, with a progress bar.

    Key = ASIN. Invalid JSON lines are reported with their line numbers and skipped. With
    --loop every pass shifts the times forward by the file's span, so event time keeps
    increasing (the worker ignores observations older than the ones it holds). With
    --after-topic a replay onto a topic that already holds newer events (e.g. a second
    `make demo` on the same stack) is moved after them instead of being ignored; the shift
    applied is logged at the start and printed in the summary."""
    import asyncio

    from aiokafka.errors import KafkaError
    from tqdm import tqdm

    from app.ingest.producer import EnvelopePublisher, PublishError
    from app.ingest.replay import BadLine, newest_event_on_topic, replay_file
    from app.settings import get_settings

    settings = get_settings()
    topic = settings.topic("keepa.products")
    total = None
    if not loop:
        with file.open("rb") as fh:
            total = sum(1 for line in fh if line.strip())
    bar = tqdm(total=total, unit="env", desc="replay", file=sys.stderr, dynamic_ncols=True)

    def bad_line(problem: BadLine) -> None:
        bar.write(f"{file}:{problem.line}: skipped: {problem.reason}", file=sys.stderr)
        bar.update(1)

    async def run() -> None:
        newest = None
        if after_topic:
            try:
                newest = await newest_event_on_topic(settings.kafka_bootstrap_servers, topic)
            except (KafkaError, TimeoutError) as exc:
                bar.close()
                typer.echo(f"error: cannot read the newest event on {topic}: {exc!r}", err=True)
                raise typer.Exit(1) from None
        async with EnvelopePublisher(settings.kafka_bootstrap_servers, topic) as publisher:
            summary = await replay_file(
                file,
                publisher,
                rate=rate,
                loop=loop,
                passes=passes,
                shift_time=shift_time,
                now=datetime.now(UTC),
                after_topic=after_topic,
                topic_newest=newest,
                on_published=bar.update,
                on_bad_line=bad_line,
                clock=(lambda: datetime.now(UTC)) if realtime else None,
            )
        bar.close()
        parts = ", ".join(f"{p}: {n}" for p, n in sorted(summary.partitions.items()))
        shift = (
            f"; times shifted by {summary.shift_minutes} min"
            + (f" (+{summary.period_minutes} min per pass)" if loop else "")
            if summary.shift_minutes or loop
            else ""
        )
        if after_topic:
            found = summary.topic_newest.isoformat() if summary.topic_newest else "none"
            shift += f"; newest event already on the topic: {found}"
        typer.echo(
            f"published {summary.published} envelopes in {summary.passes} pass(es) to {topic} "
            f"(partitions {{{parts}}}); skipped {len(summary.skipped)} invalid line(s){shift}"
        )

    try:
        asyncio.run(run())
    except PublishError as exc:
        bar.close()
        typer.echo(f"error: {exc} (first failed keys: {exc.failed_keys[:5]})", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        bar.close()
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None


def ingest(
    once: bool = typer.Option(
        False,
        "--once",
        help="Run one ingestion now and exit (required: the periodic runs are the "
        "keepa_ingest DAG's, or a cron line calling this).",
    ),
) -> None:
    """Fetch the due watchlist ASINs from Keepa and publish them to keepa.products, once,
    without Airflow: the keepa_ingest DAG's planner, token handling and publisher (pending
    fetch requests first; knobs KEEPA_TOKEN_BUDGET, KEEPA_BUYBOX, KEEPA_BATCH_SIZE).

    Prints what was planned, fetched and published, the tokens spent and left, and each
    failed batch; records the run in ingest-runs. Exit code 1 when a batch failed or the
    run could not start (Kafka, Elasticsearch, KEEPA_API_KEY), 2 without --once."""
    if not once:
        typer.echo(
            "error: only --once is supported (periodic runs: the keepa_ingest DAG)", err=True
        )
        raise typer.Exit(2)
    from elasticsearch import ApiError, Elasticsearch, TransportError

    from app.ingest.config import ConfigError, IngestConfig
    from app.ingest.ingestion import MissingApiKeyError, TopicUnavailableError, run_once
    from app.settings import get_settings

    settings = get_settings()
    try:
        config = IngestConfig.load()
        with Elasticsearch(settings.elasticsearch_url, request_timeout=30) as es:
            report = run_once(settings, config, es=es, now=datetime.now(UTC))
    except (ConfigError, MissingApiKeyError, TopicUnavailableError) as exc:
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None
    except (ApiError, TransportError) as exc:
        typer.echo(f"error: Elasticsearch at {settings.elasticsearch_url}: {exc}", err=True)
        raise typer.Exit(1) from None
    for line in report.lines():
        typer.echo(line, err=line.startswith("FAILED"))
    if not report.ok:
        raise typer.Exit(1)
