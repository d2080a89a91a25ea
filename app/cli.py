"""`arbitrage`: the command line of the whole system."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

import typer

from app.alerts.cli import alerts_cli
from app.api.cli import serve_api
from app.ingest.cli import register as register_ingest
from app.ingest.gapfill_cli import register as register_gapfill
from app.ingest.profile_cli import profile_cli
from app.ingest.tracking_cli import tracking_cli
from app.webhook.cli import serve_webhook
from dashboard.cli import dashboard_command

cli = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
cli.add_typer(alerts_cli, name="alerts")
cli.add_typer(profile_cli, name="profile")
cli.command("api")(serve_api)
cli.command("dashboard")(dashboard_command)
cli.command("webhook")(serve_webhook)
register_ingest(cli)

#: ``arbitrage tracking ...``: ``sync`` and ``show`` (app/ingest/tracking_cli.py), ``gapfill``
#: added by its module's ``register`` hook.
cli.add_typer(tracking_cli, name="tracking")
register_gapfill(tracking_cli)

#: The developer verbs live in ``devtools/`` (not part of the wheel or the Docker image).
DEV_VERBS: dict[str, str] = {
    "stack": "The local Kafka + Elasticsearch stack (developer tool).",
    "demo": "Run the whole system on one machine with a synthetic sample (developer tool).",
    "bench": "Benchmark a worker on the local stack (developer tool).",
    "backtest": "Replay a recorded file through the real topology and report (developer tool).",
    "sample": "Write a SYNTHETIC Keepa sample as JSONL (developer tool).",
}


def _register_dev_verbs(target: typer.Typer) -> None:
    """Add the developer verbs from ``devtools`` when it is importable (a source checkout);
    otherwise each verb is still listed and says why it is not available here."""
    try:
        from devtools.cli import register
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith("devtools"):
            raise
        for name, help_text in DEV_VERBS.items():
            target.command(
                name,
                help=help_text,
                context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
            )(_unavailable(name))
        return
    register(target)


def _unavailable(name: str) -> Callable[[typer.Context], None]:
    def command(ctx: typer.Context) -> None:
        typer.echo(
            f"error: `arbitrage {name}` is a developer tool of the source checkout "
            "(devtools/), which is not part of this installation",
            err=True,
        )
        raise typer.Exit(2)

    return command


_register_dev_verbs(cli)


@cli.command()
def worker(
    loglevel: str = typer.Option("info", "--loglevel", "-l", help="Faust log level."),
) -> None:
    """Start a Faust worker (the same as `faust -A app worker`)."""
    _leave_out_unused_packages()
    from app.faust_app import app as faust_app
    from app.faust_app import use_configured_loop

    use_configured_loop()

    sys.argv = ["arbitrage worker", "worker", "--loglevel", loglevel]
    faust_app.main()


#: Installed for the dashboard (pandas, streamlit) and imported by the Elasticsearch client
#: whenever they are installed (for serializers of its own the worker never uses): about 50 MB
#: of a worker's resident memory (docs/performance.md).
_WORKER_LEAVES_OUT = ("numpy", "pyarrow")


def _leave_out_unused_packages() -> None:
    """Make ``_WORKER_LEAVES_OUT`` unimportable in this process (a worker process only): an
    import of one raises ImportError, which the Elasticsearch client handles."""
    for name in _WORKER_LEAVES_OUT:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


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
