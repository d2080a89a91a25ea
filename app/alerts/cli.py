"""`arbitrage alerts check|test`: validate the ``ALERT_*`` configuration and send a test
notification. Imports are lazy so that the CLI starts fast."""

from __future__ import annotations

from typing import Any

import typer

alerts_cli = typer.Typer(
    no_args_is_help=True, help="Alerts through Apprise or JSON webhooks (ALERT_* settings)."
)

#: A made-up ``opened`` event in the contract's shape, for `arbitrage alerts test`.
TEST_EVENT: dict[str, Any] = {
    "schema_version": 2,
    "event_id": "0" * 40,
    "event": "opened",
    "reason": None,
    "asin": "B000000000",
    "title": "[TEST] Arbitrage alert test - not a real opportunity",
    "route": "DE:FR",
    "buy_market": "DE",
    "sell_market": "FR",
    "buy_url": "https://www.amazon.de/dp/B000000000",
    "sell_url": "https://www.amazon.fr/dp/B000000000",
    "buy_currency": "EUR",
    "sell_currency": "EUR",
    "buy_price_minor": 2000,
    "sell_price_minor": 5000,
    "buy_price_eur_cents": 2000,
    "sell_price_eur_cents": 5000,
    # DE 20.00 -> FR 50.00 on 2026-01-01, default seller profile (see docs/pricing.md).
    "breakdown": {
        "fees_on": "2026-01-01",
        "net_sell_eur_cents": 4167,
        "net_buy_eur_cents": 1681,
        "sell_vat_rate": "0.20",
        "buy_vat_rate": "0.19",
        "total_costs_eur_cents": 1585,
        "investment_eur_cents": 2195,
        "lines": [
            {
                "kind": "sales_vat",
                "amount_minor": 833,
                "currency": "EUR",
                "eur_cents": 833,
                "is_cost": False,
            },
            {
                "kind": "purchase_vat",
                "amount_minor": 319,
                "currency": "EUR",
                "eur_cents": 319,
                "is_cost": False,
            },
            {
                "kind": "referral",
                "amount_minor": 750,
                "currency": "EUR",
                "eur_cents": 750,
                "is_cost": True,
            },
            {
                "kind": "fba",
                "amount_minor": 300,
                "currency": "EUR",
                "eur_cents": 300,
                "is_cost": True,
            },
            {
                "kind": "storage",
                "amount_minor": 4,
                "currency": "EUR",
                "eur_cents": 4,
                "is_cost": True,
            },
            {
                "kind": "digital_services_fee",
                "amount_minor": 21,
                "currency": "EUR",
                "eur_cents": 21,
                "is_cost": True,
            },
            {
                "kind": "fee_vat",
                "amount_minor": 215,
                "currency": "EUR",
                "eur_cents": 215,
                "is_cost": False,
            },
            {
                "kind": "inbound_shipping",
                "amount_minor": 510,
                "currency": "EUR",
                "eur_cents": 510,
                "is_cost": True,
            },
        ],
    },
    "profit_eur_cents": 901,
    "roi": "0.4105",
    "margin": "0.2162",
    "category": "default",
    "estimates": [],
    "failed_thresholds": [],
    "profile_version": "test",
    "buy_observed_at": "2026-01-01T00:00:00Z",
    "sell_observed_at": "2026-01-01T00:00:00Z",
    "event_time": "2026-01-01T00:00:00Z",
    "first_seen": "2026-01-01T00:00:00Z",
    "fx_eur_per_gbp": "1.17",
}


def _settings() -> Any:
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from app.alerts.config import AlertSettings

    try:
        return AlertSettings()
    except (ValidationError, SettingsError) as exc:  # errors never echo the input (secrets)
        typer.echo(f"invalid ALERT_* configuration: {exc}", err=True)
        raise typer.Exit(1) from None


@alerts_cli.command("check")
def check() -> None:
    """Validate ALERT_WEBHOOKS and friends (every Apprise URL is loaded); list the webhooks
    (name, host or scheme and service, never URLs)."""
    from app.alerts.formats import format_money
    from app.alerts.targets import recognised_service

    settings = _settings()
    if not settings.webhooks:
        typer.echo("no webhooks configured (ALERT_WEBHOOKS): alerts are off")
        return
    for webhook in settings.webhooks:
        markets = webhook.markets
        buy = ",".join(sorted(markets.buy)) if markets.buy else "any"
        sell = ",".join(sorted(markets.sell)) if markets.sell else "any"
        via = "JSON POST" if webhook.apprise_url is None else f"Apprise {webhook.service}"
        typer.echo(
            f"{webhook.label}: {webhook.format.value} ({via}), profit >= "
            f"{format_money(webhook.min_profit_eur_cents)}, ROI >= {webhook.min_roi}, "
            f"buy {buy}, sell {sell}"
        )
        if webhook.apprise_url is None:
            service = recognised_service(webhook.url.get_secret_value())
            if service is not None:
                typer.echo(
                    f"  note: Apprise knows this URL as {service}; it gets the JSON payload as "
                    f'configured. Set "format": "apprise" to send it a {service} message.'
                )
    typer.echo(
        f"rate limit {settings.rate_limit_per_minute:g}/min per webhook "
        f"(waits at most {settings.max_rate_limit_wait_s:g} s), "
        f"{settings.max_attempts} attempts, backoff {settings.backoff_base_s:g} s "
        f"(max {settings.backoff_max_s:g} s), timeout {settings.timeout_s:g} s"
    )


@alerts_cli.command("test")
def send_test(
    webhook: str | None = typer.Option(None, help="Only this webhook (by name)."),
) -> None:
    """Send a clearly marked test notification to every webhook (no dedup, no record)."""
    import asyncio

    from app.alerts.delivery import WebhookSender, make_http_client
    from app.alerts.event import parse_opportunity
    from app.alerts.formats import build_notification

    settings = _settings()
    targets = [w for w in settings.webhooks if webhook is None or w.name == webhook]
    if not targets:
        typer.echo("no such webhook" if webhook else "no webhooks configured", err=True)
        raise typer.Exit(1)
    opportunity = parse_opportunity(TEST_EVENT)

    async def send() -> bool:
        async with make_http_client(settings) as client:
            sender = WebhookSender.from_settings(client, settings)
            ok = True
            for target in targets:
                notification = build_notification(target, opportunity, "test-" + "0" * 59)
                result = await sender.deliver(target, notification)
                status = "delivered" if result.delivered else f"FAILED ({result.error})"
                typer.echo(f"{target.label}: {status} after {len(result.attempts)} attempt(s)")
                ok &= result.delivered
            return ok

    if not asyncio.run(send()):
        raise typer.Exit(1)
