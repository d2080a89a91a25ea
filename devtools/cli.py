"""The developer verbs of the ``arbitrage`` CLI: ``stack``, ``demo``, ``bench``, ``backtest``,
``sample``.

:func:`register` adds them to the main CLI (``app.cli``); heavy imports stay inside the
commands so ``arbitrage --help`` stays fast.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from app.settings import get_settings
from devtools.demo import demo_command

__all__ = ["register"]

stack_cli = typer.Typer(no_args_is_help=True, help="The local Kafka + Elasticsearch stack.")


def register(cli: typer.Typer) -> None:
    """Add ``stack``, ``demo``, ``bench``, ``backtest`` and ``sample`` to the main CLI."""
    cli.add_typer(stack_cli, name="stack")
    cli.command("demo")(demo_command)
    cli.command("bench")(bench)
    cli.command("backtest")(backtest)
    cli.command("sample")(sample)


@stack_cli.command("up")
def stack_up() -> None:
    """Fetch (once), start and wait for Kafka and Elasticsearch. A no-op when already up."""
    from devtools.stack import StackError, StackManager
    from devtools.stack.artifacts import ArtifactError
    from devtools.stack.jdk import JdkNotFoundError

    manager = StackManager(get_settings())
    try:
        started = manager.up()
    except (StackError, ArtifactError, JdkNotFoundError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"started: {', '.join(started)}" if started else "already up")
    _print_status(manager)


@stack_cli.command("down")
def stack_down() -> None:
    """Stop the processes `stack up` started (and nothing else)."""
    from devtools.stack import StackManager

    stopped = StackManager(get_settings()).down()
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing of ours was running")


@stack_cli.command("status")
def stack_status() -> None:
    """Each component with its version, pid, address and readiness; exit 1 if any is not ready."""
    from devtools.stack import StackManager

    if not _print_status(StackManager(get_settings())):
        raise typer.Exit(1)


def _print_status(manager: object) -> bool:
    from devtools.stack import StackManager

    assert isinstance(manager, StackManager)
    all_ready = True
    for s in manager.status():
        state = "ready" if s.ready else ("starting" if s.running else "stopped")
        pid = f"pid {s.pid}" if s.pid else "-"
        typer.echo(f"{s.name:<14} {s.version:<8} {state:<8} {pid:<10} {s.address}  {s.detail}")
        all_ready &= s.ready
    return all_ready


def bench(
    asins: int = typer.Option(400, help="Synthetic ASINs (x 5 markets) in the backlog."),
    steps: int = typer.Option(10, help="Observations per ASIN and market in the backlog."),
    latency_rate: Annotated[
        list[float] | None,
        typer.Option(help="Events/s of a latency run (repeat the option for several runs)."),
    ] = None,
    latency_seconds: float = typer.Option(10.0, help="Duration of each latency run."),
    recovery_asins: int = typer.Option(
        100_000, min=0, help="ASINs held by the worker of the recovery phase (0: no recovery)."
    ),
    keep: bool = typer.Option(
        False, help="Keep the run's topics, indices and RocksDB directories (else deleted)."
    ),
) -> None:
    """Benchmark a worker against baselines of the same run on the local stack; prints one
    JSON line (stdout) and a table (stderr). See docs/performance.md."""
    import orjson

    from devtools.benchmark import format_table, run_benchmark
    from devtools.stack import StackManager

    settings = get_settings()
    StackManager(settings).up()
    result = run_benchmark(
        settings,
        asins=asins,
        steps=steps,
        latency_rates=latency_rate or [50.0, 500.0],
        latency_seconds=latency_seconds,
        recovery_asins=recovery_asins,
        keep=keep,
    )
    typer.echo(format_table(result), err=True)
    typer.echo(orjson.dumps(result).decode())


def backtest(
    file: Annotated[
        Path, typer.Argument(dir_okay=False, help="A JSONL file of keepa.products envelopes.")
    ],
    profile: Annotated[
        Path | None,
        typer.Option(
            "--profile",
            dir_okay=False,
            help="Seller profile, JSON (or .toml), as `arbitrage profile show` prints it "
            "(default: the default profile).",
        ),
    ] = None,
    min_profit: Annotated[
        str | None,
        typer.Option("--min-profit", help="Threshold override: minimum profit in EUR, e.g. 7.50."),
    ] = None,
    min_roi: Annotated[
        str | None,
        typer.Option("--min-roi", help="Threshold override: minimum ROI as a ratio, e.g. 0.2."),
    ] = None,
    html_out: Annotated[
        Path | None,
        typer.Option("--html", dir_okay=False, help="Also write the report with plots here."),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", dir_okay=False, help="Also write the report as JSON.")
    ] = None,
    keep: bool = typer.Option(
        False, "--keep", help="Keep the run's topics, indices and data dir (default: deleted)."
    ),
    timeout: float = typer.Option(
        1800.0, min=1, help="Seconds to wait for the worker to consume the file."
    ),
) -> None:
    """Replay FILE through the real topology (an `arbitrage worker` on isolated topics) and
    print how many spreads opened, how long they lasted and what they showed, per market pair
    and category (docs/backtest.md). Needs the local stack (`arbitrage stack up`), as `bench`.
    """
    import orjson

    from app.backtest.report import build_report, format_report, report_to_json
    from app.domain.money import format_money
    from devtools.backtest import (
        BacktestError,
        BacktestInputError,
        backtest_profile,
        check_stack,
        run_backtest,
    )

    settings = get_settings()
    try:
        if not file.is_file():
            raise BacktestInputError(f"{file}: no such file")
        seller = backtest_profile(profile, min_profit, min_roi)
        check_stack(settings)
        run = run_backtest(settings, file, seller, keep=keep, timeout_s=timeout, echo=_to_stderr)
    except BacktestInputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except BacktestError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    report = build_report(run.events, until=run.until)
    notes = [
        f"file {file}: {run.published} envelopes ({run.skipped_lines} bad lines skipped)",
        f"seller profile {run.profile_version}; thresholds: min profit "
        f"{format_money(seller.thresholds.min_profit_eur_cents)}, min ROI "
        f"{seller.thresholds.min_roi}, max sales rank {seller.thresholds.max_sales_rank or '-'}",
        f"wall time {run.wall_s:.1f} s; replay to drained {run.processing_s:.1f} s "
        f"({run.events_per_s:,.0f} envelopes/s)",
    ]
    if run.kept:
        s = run.settings
        notes.append(
            f"kept: topics {s.topic_prefix}* and {s.faust_app_id}-*, indices "
            f"{s.elasticsearch_index_prefix}*, worker data and log in {run.workdir}"
        )
    typer.echo("\n".join(notes) + "\n\n" + format_report(report))
    if json_out is not None:
        data = {"file": str(file), "profile_version": run.profile_version, **report_to_json(report)}
        json_out.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    if html_out is not None:
        from app.backtest.html import render_html

        html_out.write_text(
            render_html(report, title=f"Backtest of {file.name}", notes=notes), encoding="utf-8"
        )


def _to_stderr(message: str) -> None:
    typer.echo(message, err=True)


def sample(
    out: Annotated[Path, typer.Argument(dir_okay=False, help="Output .jsonl file.")],
    asins: int = typer.Option(200, "--asins", min=1, help="Synthetic ASINs (x 5 markets)."),
    seed: int = typer.Option(42, "--seed", help="Same seed, same file."),
    steps: int = typer.Option(96, "--steps", min=1, help="Observations per ASIN and market."),
    step_minutes: int = typer.Option(15, "--step-minutes", min=1, help="Minutes between steps."),
    start: str | None = typer.Option(
        None, "--start", help="ISO-8601 start (UTC when no offset); default: now - steps."
    ),
) -> None:
    """Write a SYNTHETIC Keepa sample (JSONL envelopes, titles prefixed [SYNTHETIC])."""
    from datetime import timedelta

    from devtools.sample.generator import generate_sample, write_jsonl

    if start is None:
        begin = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(
            minutes=steps * step_minutes
        )
    else:
        try:
            begin = datetime.fromisoformat(start)
        except ValueError:
            typer.echo(f"error: --start {start!r} is not ISO-8601", err=True)
            raise typer.Exit(2) from None
        if begin.tzinfo is None:
            begin = begin.replace(tzinfo=UTC)
    envelopes = generate_sample(
        asins, seed=seed, start=begin, steps=steps, step_minutes=step_minutes
    )
    count = write_jsonl(envelopes, out)
    typer.echo(
        f"wrote {count} SYNTHETIC envelopes ({asins} ASINs x 5 markets x {steps} steps of "
        f"{step_minutes} min from {begin.isoformat()}, seed {seed}) to {out}; "
        "synthetic data: titles are prefixed [SYNTHETIC]"
    )
