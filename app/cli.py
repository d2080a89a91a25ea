"""`arbitrage`: the command line of the whole system."""

from __future__ import annotations

import logging
import sys

import typer

from app.alerts.cli import alerts_cli
from app.api.cli import serve_api
from app.demo import demo_command
from app.ingest.cli import register as register_ingest
from app.settings import get_settings
from dashboard.cli import dashboard_command

cli = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
stack_cli = typer.Typer(no_args_is_help=True, help="The local Kafka + Elasticsearch stack.")
cli.add_typer(stack_cli, name="stack")
cli.add_typer(alerts_cli, name="alerts")
cli.command("api")(serve_api)
cli.command("dashboard")(dashboard_command)
cli.command("demo")(demo_command)
register_ingest(cli)


@stack_cli.command("up")
def stack_up() -> None:
    """Fetch (once), start and wait for Kafka and Elasticsearch. A no-op when already up."""
    from app.stack import StackError, StackManager
    from app.stack.artifacts import ArtifactError
    from app.stack.jdk import JdkNotFoundError

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
    from app.stack import StackManager

    stopped = StackManager(get_settings()).down()
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing of ours was running")


@stack_cli.command("status")
def stack_status() -> None:
    """Each component with its version, pid, address and readiness; exit 1 if any is not ready."""
    from app.stack import StackManager

    if not _print_status(StackManager(get_settings())):
        raise typer.Exit(1)


def _print_status(manager: object) -> bool:
    from app.stack import StackManager

    assert isinstance(manager, StackManager)
    all_ready = True
    for s in manager.status():
        state = "ready" if s.ready else ("starting" if s.running else "stopped")
        pid = f"pid {s.pid}" if s.pid else "-"
        typer.echo(f"{s.name:<14} {s.version:<8} {state:<8} {pid:<10} {s.address}  {s.detail}")
        all_ready &= s.ready
    return all_ready


@cli.command()
def worker(
    loglevel: str = typer.Option("info", "--loglevel", "-l", help="Faust log level."),
) -> None:
    """Start a Faust worker (the same as `faust -A app worker`)."""
    from app.faust_app import app as faust_app

    sys.argv = ["arbitrage worker", "worker", "--loglevel", loglevel]
    faust_app.main()


@cli.command()
def bench(
    asins: int = typer.Option(400, help="Synthetic ASINs (x 5 markets) in the backlog."),
    steps: int = typer.Option(10, help="Observations per ASIN and market in the backlog."),
    latency_rate: float = typer.Option(50.0, help="Events/s during the latency phase."),
    latency_events: int = typer.Option(500, help="Route-completing events to time."),
) -> None:
    """Benchmark a worker on the local stack; prints one JSON line (see app/benchmark.py)."""
    import orjson

    from app.benchmark import run_benchmark
    from app.stack import StackManager

    settings = get_settings()
    StackManager(settings).up()
    result = run_benchmark(
        settings,
        asins=asins,
        steps=steps,
        latency_rate=latency_rate,
        latency_events=latency_events,
    )
    typer.echo(orjson.dumps(result).decode())


def main() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("httpx", "elastic_transport"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    cli()


if __name__ == "__main__":
    main()
