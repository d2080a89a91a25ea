"""``arbitrage tracking sync|show`` (app.ingest.tracking_cli) with Keepa faked at the HTTP
boundary (Keepa's /tracking bodies, a 429, an ASIN Keepa refuses); the watchlist, quotes,
profile and rate are handed in (their stores are the integration test's:
tests/integration/ingest/test_tracking_sync.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import responses
from keepa_fakes import API_KEY, FakeKeepaTracking
from typer.testing import CliRunner

from app.cli import cli
from app.domain.detection import Pricing
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.keepa_time import to_keepa_minutes
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE
from app.domain.quote import MarketQuote
from app.domain.watchlist import WatchlistEntry
from app.ingest import tracking_cli, tracking_sync
from app.keepa.client import KeepaProductClient
from app.settings import get_settings
from tests.keepa_factory import make_quote

WEBHOOK = "https://arbitrage.example.org/keepa/Zq3vN8xT2mKp7RwYc4HbLs9dQ1w2e3r4"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
NEW, REFUSED, GONE = "B0NEWASIN1", "B0BADASIN1", "B0GONEASN1"


def pair(asin: str) -> dict[Market, MarketQuote]:
    return {
        Market.DE: make_quote(asin, Market.DE, amazon=2000, last_update=T0),
        Market.FR: make_quote(
            asin, Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0, last_update=T0
        ),
    }


def inputs() -> tracking_sync.SyncInputs:
    return tracking_sync.SyncInputs(
        entries=[WatchlistEntry(NEW, ("DE", "FR"), 5), WatchlistEntry(REFUSED, ("DE", "FR"), 1)],
        quotes={NEW: pair(NEW), REFUSED: pair(REFUSED)},
        pricing=Pricing(FxRates(Decimal("1.17"), T0), DEFAULT_PROFILE, "v", default_fee_schedule()),
        detection=DetectionPolicy(),
    )


def gone_tracking() -> dict[str, Any]:
    """Keepa's object of a tracking we set earlier, of an ASIN no longer on the watchlist."""
    minute = to_keepa_minutes(T0)
    return {
        "asin": GONE,
        "createDate": minute,
        "isActive": True,
        "ttl": 0,
        "expireNotify": True,
        "mainDomainId": 3,
        "updateInterval": 1,
        "metaData": f"arbitrage-tracker armed={minute}",
        "thresholdValues": [
            {"thresholdValueCSV": [minute, 2479], "domain": 3, "csvType": 10, "isDrop": True}
        ],
        "notifyIf": [],
        "notificationType": [False, False, False, False, False, True, False],
        "notificationCSV": [],
        "individualNotificationInterval": -1,
    }


@pytest.fixture
def fake_keepa(
    keepa_http: responses.RequestsMock,
    client: KeepaProductClient,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[FakeKeepaTracking]:
    """Keepa's /tracking holding GONE's tracking; it refuses REFUSED, and the first add is
    answered 429 (tokens ran out)."""
    monkeypatch.setattr(tracking_cli, "_keepa_http", lambda settings: client)
    monkeypatch.setattr(tracking_sync, "read_inputs", lambda es, settings: inputs())
    monkeypatch.setenv("KEEPA_WEBHOOK_URL", WEBHOOK)
    monkeypatch.setenv("KEEPA_TRACKING_SHARE", "0.5")  # push on (the default pushes nothing)
    get_settings.cache_clear()
    keepa = FakeKeepaTracking(
        trackings={GONE: gone_tracking()},
        refuse=frozenset({REFUSED}),
        throttle_adds=1,
        refill_in_ms=2_000,
    )
    keepa.install(keepa_http)
    yield keepa
    get_settings.cache_clear()


def test_sync_adds_reports_a_failed_asin_removes_the_unwatched_and_is_idempotent(
    fake_keepa: FakeKeepaTracking, caplog: pytest.LogCaptureFixture
) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["tracking", "sync"])
    assert first.exit_code == 0, first.output
    out = first.output
    assert "added 1, updated 0, re-armed 0, removed 1, unchanged 0, failed 1" in out
    assert f"added: {NEW}" in out
    assert f"removed: {GONE}" in out
    assert f"failed {REFUSED}: " in out
    assert "Could not add all trackings" in out
    # Two add requests: the 429 (waited out) and the one that counted 2 tokens.
    assert "tokens spent 2" in out
    assert "before: refill rate 19/min, flow reduction 1.0" in out
    assert "after: refill rate 19/min" in out or "after: refill rate 18/min" in out
    assert fake_keepa.webhook == WEBHOOK
    assert "webhook: set to a URL on arbitrage.example.org" in out
    secret = WEBHOOK.rsplit("/", 1)[1]
    assert secret not in out
    assert secret not in caplog.text
    assert API_KEY not in out
    assert API_KEY not in caplog.text
    assert fake_keepa.kinds().count("add") == 2
    sent = fake_keepa.add_bodies[0]
    assert {t["asin"] for t in sent} == {NEW, REFUSED}
    assert all(t["desiredPricesInMainCurrency"] for t in sent)

    # Nothing changed: the second sync adds and removes nothing (REFUSED is tried again).
    fake_keepa.calls.clear()
    second = runner.invoke(cli, ["tracking", "sync"])
    assert second.exit_code == 0, second.output
    assert "added 0, updated 0, re-armed 0, removed 0, unchanged 1, failed 1" in second.output
    assert [t["asin"] for t in fake_keepa.add_bodies[-1]] == [REFUSED]
    assert "remove" not in fake_keepa.kinds()


def test_the_price_type_setting_decides_the_thresholds_sent(
    fake_keepa: FakeKeepaTracking, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    sent: dict[str, set[int]] = {}
    for mode in ("marketplace", "regular"):
        monkeypatch.setenv("KEEPA_TRACKING_PRICE_TYPES", mode)
        get_settings.cache_clear()
        result = runner.invoke(cli, ["tracking", "sync"])
        assert result.exit_code == 0, result.output
        (body,) = [t for t in fake_keepa.add_bodies[-1] if t["asin"] == NEW]
        sent[mode] = {t["csvType"] for t in body["thresholdValues"]}
    # Marketplace: Amazon, New, New FBM, New FBA, Buy Box; regular: Amazon and New only (the
    # second sync replaces NEW's tracking: its thresholds differ).
    assert sent == {"marketplace": {0, 1, 7, 10, 18}, "regular": {0, 1}}
    assert "updated 1" in result.output


def test_the_default_share_pushes_nothing_and_removes_ours(
    fake_keepa: FakeKeepaTracking, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEEPA_TRACKING_SHARE")
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["tracking", "sync"])
    assert result.exit_code == 0, result.output
    assert "added 0, updated 0, re-armed 0, removed 1, unchanged 0, failed 0" in result.output
    assert "push budget 0.00 of 0.00 tokens/min" in result.output
    assert "add" not in fake_keepa.kinds()
    assert fake_keepa.trackings == {}


def test_a_metadata_keepa_did_not_keep_is_reported(fake_keepa: FakeKeepaTracking) -> None:
    """Whether Keepa keeps the metaData sent with an add is not documented: if it did not,
    the report says so (the arm time is then unknown and the tracking counts as not ours)."""
    fake_keepa.keeps_meta_data = False
    fake_keepa.throttle_adds = 0
    runner = CliRunner()
    first = runner.invoke(cli, ["tracking", "sync"])
    assert first.exit_code == 0, first.output
    assert "Keepa did not keep the metaData sent (arm time unknown" in first.output
    assert f"may send them again): {NEW}" in first.output
    # NEW now looks like someone else's tracking: the next sync replaces it.
    second = runner.invoke(cli, ["tracking", "sync"])
    assert f"updated: {NEW}" in second.output


def test_dry_run_sends_nothing(fake_keepa: FakeKeepaTracking) -> None:
    result = CliRunner().invoke(cli, ["tracking", "sync", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "dry run: added 2, updated 0, re-armed 0, removed 1" in result.output
    assert set(fake_keepa.kinds()) == {"list", "get"}
    assert fake_keepa.webhook is None


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://arbitrage.example.org/keepa/Zq3vN8xT2mKp7RwYc4HbLs9dQ1w2e3r4", False),
        ("ftp://arbitrage.example.org/keepa/Zq3vN8xT2mKp7RwYc4HbLs9dQ1w2e3r4", False),
        ("http://127.0.0.1:8090/keepa/Zq3vN8xT2mKp7RwYc4HbLs9dQ1w2e3r4", True),
    ],
)
def test_a_webhook_url_without_https_is_refused_unless_loopback(
    fake_keepa: FakeKeepaTracking, monkeypatch: pytest.MonkeyPatch, url: str, ok: bool
) -> None:
    monkeypatch.setenv("KEEPA_WEBHOOK_URL", url)
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["tracking", "sync"])
    assert "Zq3vN8xT2mKp7RwYc4HbLs9dQ1w2e3r4" not in result.output
    if ok:
        assert result.exit_code == 0, result.output
        assert fake_keepa.webhook == url
    else:
        assert result.exit_code == 2
        assert "must be https" in result.output
        assert fake_keepa.calls == []


def test_sync_without_a_webhook_url_refuses(
    fake_keepa: FakeKeepaTracking, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEEPA_WEBHOOK_URL")
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["tracking", "sync"])
    assert result.exit_code == 2
    assert "KEEPA_WEBHOOK_URL is not set" in result.output
    assert fake_keepa.calls == []


def test_show_lists_trackings_without_secrets(fake_keepa: FakeKeepaTracking) -> None:
    result = CliRunner().invoke(cli, ["tracking", "show"])
    assert result.exit_code == 0, result.output
    assert f"{GONE}  main DE (EUR)  every 1 h  active" in result.output
    assert "DE NEW_FBA < 2479" in result.output
    assert API_KEY not in result.output
