"""``arbitrage tracking sync`` and the ``sync_trackings`` task of ``keepa_ingest``: make
Keepa's trackings mirror the watchlist and the current break-even thresholds (issue 11,
part 2; the decisions are :mod:`app.keepa.tracking.plan`'s, docs/tracking.md).

:func:`read_inputs` reads the watchlist (ES ``watchlist``), each ASIN's latest quotes (ES
``products``), the seller profile and the EUR/GBP rate in force (their compacted topics, as
the worker holds them). :func:`sync_trackings` reads Keepa's trackings (``list`` then ``get``
per ASIN: free), plans, sets the webhook URL, sends the adds (1 token each, in batches of
1,000) and the removes (free), and reports. The webhook URL is a secret: it appears in no
log line, report or error (only its host).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from elasticsearch import Elasticsearch
from pydantic import SecretStr

from app.domain.breakeven import breakevens as compute_breakevens
from app.domain.detection import Pricing
from app.domain.fee_schedule import default_fee_schedule
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.quote import MarketQuote
from app.domain.watchlist import WatchlistEntry
from app.ingest.fx_topic import read_rate_in_force
from app.ingest.profile_topic import read_profile_in_force
from app.ingest.signals import load_quotes
from app.ingest.watchlist import WatchlistStore
from app.keepa.tokens import TokenState
from app.keepa.tracking.client import FailedTracking, KeepaTrackingClient
from app.keepa.tracking.objects import Tracking
from app.keepa.tracking.plan import (
    BreakevensFn,
    Selection,
    SyncPlan,
    TokenBudget,
    TrackingPolicy,
    candidate,
    diff,
    select,
)
from app.policy_config import detection_policy
from app.settings import Settings
from app.url_secrets import safe_host, scheme_of

__all__ = [
    "SyncInputs",
    "SyncReport",
    "WebhookUrlError",
    "check_webhook_url",
    "read_inputs",
    "sync_trackings",
    "tracking_policy",
]

log = logging.getLogger(__name__)


class WebhookUrlError(ValueError):
    """``KEEPA_WEBHOOK_URL`` is not one Keepa may be given (the message shows only its host)."""


def check_webhook_url(url: SecretStr) -> SecretStr:
    """``url`` when it is https, or http to a loopback host; else :class:`WebhookUrlError`."""
    value = url.get_secret_value().strip()
    scheme = scheme_of(value)
    host = safe_host(value)
    if scheme == "https" and host != "?":
        return SecretStr(value)
    if scheme == "http" and _loopback(host):
        return SecretStr(value)
    raise WebhookUrlError(
        f"KEEPA_WEBHOOK_URL must be https (or http to a loopback host); got {scheme or 'no'} "
        f"scheme, host {host}"
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tracking_policy(settings: Settings) -> TrackingPolicy:
    """The push-tracking knobs of ``settings`` (``KEEPA_TRACKING_*``)."""
    return TrackingPolicy(
        flow_share=settings.keepa_tracking_share,
        update_interval_h=settings.keepa_tracking_update_interval_h,
        fx_margin=Decimal(str(settings.keepa_tracking_fx_margin)),
        price_types=settings.keepa_tracking_price_types,
    )


@dataclass(frozen=True, slots=True)
class SyncInputs:
    """What the planner works from."""

    entries: list[WatchlistEntry]
    quotes: dict[str, dict[Market, MarketQuote]]
    pricing: Pricing
    detection: DetectionPolicy


def read_inputs(es: Elasticsearch, settings: Settings) -> SyncInputs:
    """The watchlist, its quotes (ES) and the profile and rate in force (topics)."""
    entries = WatchlistStore(es, settings).all_entries()
    in_force = read_profile_in_force(settings)
    pricing = Pricing(
        read_rate_in_force(settings), in_force.profile, in_force.version, default_fee_schedule()
    )
    quotes = load_quotes(es, settings, [e.asin for e in entries]) if entries else {}
    return SyncInputs(entries, quotes, pricing, detection_policy(settings))


@dataclass
class SyncReport:
    """What one sync did (or, with ``dry_run``, would do)."""

    dry_run: bool
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    rearmed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    failed: list[FailedTracking] = field(default_factory=list)
    #: Trackings Keepa returned from an add with another ``metaData`` than we sent.
    meta_lost: list[str] = field(default_factory=list)
    polling: dict[str, str] = field(default_factory=dict)
    webhook_host: str | None = None
    flow_budget: float = 0.0
    flow_planned: float = 0.0
    tokens_spent: int = 0
    before: TokenState | None = None
    after: TokenState | None = None

    def lines(self) -> list[str]:
        """The report, a line each (no secret: the webhook's host only)."""

        def rate(state: TokenState | None) -> str:
            if state is None:
                return "?"
            return (
                f"refill rate {state.refill_rate}/min, flow reduction {state.token_flow_reduction}"
            )

        verb = "would send" if self.dry_run else "sent"
        out = [
            f"{'dry run: ' if self.dry_run else ''}added {len(self.added)}, updated "
            f"{len(self.updated)}, re-armed {len(self.rearmed)}, removed {len(self.removed)}, "
            f"unchanged {len(self.unchanged)}, failed {len(self.failed)} ({verb})",
            f"push budget {self.flow_planned:.2f} of {self.flow_budget:.2f} tokens/min "
            f"(estimate); {len(self.polling)} watchlist ASIN(s) stay on polling only",
            f"tokens spent {self.tokens_spent}; before: {rate(self.before)}; after: "
            f"{rate(self.after)} (Keepa updates the reduction every 5 minutes)",
        ]
        if self.webhook_host is not None:
            out.append(
                f"webhook: {'would set' if self.dry_run else 'set'} to a URL on {self.webhook_host}"
            )
        for name, asins in (
            ("added", self.added),
            ("updated", self.updated),
            ("re-armed", self.rearmed),
            ("removed", self.removed),
        ):
            if asins:
                out.append(f"{name}: {' '.join(asins)}")
        if self.foreign:
            out.append(f"left alone (not set by this tool): {' '.join(self.foreign)}")
        out.extend(f"failed {f.asin}: {f.reason}" for f in self.failed)
        if self.meta_lost:
            out.append(
                "Keepa did not keep the metaData sent (arm time unknown, a later sync may send "
                f"them again): {' '.join(self.meta_lost)}"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """Counts and token figures (an Airflow task's XCom)."""
        return {
            "dry_run": self.dry_run,
            "added": len(self.added),
            "updated": len(self.updated),
            "rearmed": len(self.rearmed),
            "removed": len(self.removed),
            "unchanged": len(self.unchanged),
            "failed": {f.asin: f.reason for f in self.failed},
            "meta_lost": len(self.meta_lost),
            "polling": len(self.polling),
            "tokens_spent": self.tokens_spent,
            "refill_rate_before": None if self.before is None else self.before.refill_rate,
            "refill_rate_after": None if self.after is None else self.after.refill_rate,
            "flow_reduction_before": None
            if self.before is None
            else self.before.token_flow_reduction,
            "flow_reduction_after": None if self.after is None else self.after.token_flow_reduction,
        }


def current_trackings(client: KeepaTrackingClient) -> tuple[dict[str, Tracking], TokenState | None]:
    """Keepa's trackings of the list by ASIN (free) and the token state Keepa reported."""
    listed = client.list_asins()
    found: dict[str, Tracking] = {}
    for asin in listed.asins:
        lookup = client.get(asin)
        if lookup.tracking is not None:
            found[asin] = lookup.tracking
    return found, listed.token_state


def plan_sync(
    inputs: SyncInputs,
    current: Mapping[str, Tracking],
    state: TokenState | None,
    policy: TrackingPolicy,
    now: datetime,
    *,
    breakevens: BreakevensFn = compute_breakevens,
) -> tuple[Selection, SyncPlan]:
    """The selection and the diff (pure, given the inputs and Keepa's state); ``breakevens``
    computes each candidate's break-evens (a simulation passes a memo of it)."""
    budget = (
        TokenBudget(0)
        if state is None
        else TokenBudget(state.refill_rate, state.token_flow_reduction)
    )
    candidates = [
        candidate(
            e,
            inputs.quotes.get(e.asin, {}),
            inputs.pricing,
            inputs.detection,
            policy,
            now,
            breakevens=breakevens,
        )
        for e in inputs.entries
    ]
    selection = select(candidates, budget, policy)
    return selection, diff(selection.requests, current)


def sync_trackings(
    client: KeepaTrackingClient,
    inputs: SyncInputs,
    policy: TrackingPolicy,
    *,
    webhook_url: SecretStr | None,
    now: datetime,
    dry_run: bool = False,
) -> SyncReport:
    """One sync (module doc). Nothing is sent with ``dry_run`` (Keepa is read, for free)."""
    url = None if webhook_url is None else check_webhook_url(webhook_url)
    spent_before = client.http.tokens_consumed
    current, state = current_trackings(client)
    selection, plan = plan_sync(inputs, current, state, policy, now)
    report = SyncReport(
        dry_run=dry_run,
        unchanged=list(plan.unchanged),
        foreign=list(plan.foreign),
        polling=dict(selection.polling),
        webhook_host=None if url is None else safe_host(url.get_secret_value()),
        flow_budget=selection.flow_budget,
        flow_planned=selection.flow_used,
        before=state,
    )
    by_kind = {"add": report.added, "update": report.updated, "rearm": report.rearmed}
    if dry_run:
        for change in plan.send:
            by_kind[change.kind].append(change.request.asin)
        report.removed = list(plan.remove)
        report.after = state
        return report
    if url is not None:
        client.set_webhook(url)
    if plan.send:
        result = client.add([c.request for c in plan.send])
        failed = {f.asin for f in result.failed}
        report.failed = list(result.failed)
        for change in plan.send:
            if change.request.asin not in failed:
                by_kind[change.kind].append(change.request.asin)
        sent_meta = {c.request.asin: c.request.meta_data for c in plan.send}
        report.meta_lost = sorted(
            t.asin for t in result.added if t.meta_data != sent_meta.get(t.asin, t.meta_data)
        )
        if report.meta_lost:
            log.warning(
                "Keepa returned another metaData than the one sent for %d tracking(s) (%s): "
                "their arm time is unknown, a later sync may send them again "
                "(docs/tracking.md, 'metaData on a re-add')",
                len(report.meta_lost),
                " ".join(report.meta_lost[:10]),
            )
    for asin in plan.remove:
        client.remove(asin)
        report.removed.append(asin)
    report.tokens_spent = client.http.tokens_consumed - spent_before
    report.after = client.http.reported_token_state or state
    log.info("tracking sync: %s", "; ".join(report.lines()[:3]))
    return report


def show_lines(trackings: Sequence[Tracking]) -> list[str]:
    """``arbitrage tracking show``: a line per tracking (no secret: no webhook, no key)."""
    out = []
    for t in trackings:
        thresholds = ", ".join(
            f"{v.market.value} {v.price_type.name} {'<' if v.is_drop else '>'} {v.value}"
            for v in t.thresholds
        )
        notified = "-" if t.last_notified_at is None else t.last_notified_at.isoformat()
        out.append(
            f"{t.asin}  main {t.main_market.value} ({t.main_market.currency.value})  every "
            f"{t.update_interval_h} h  {'active' if t.is_active else 'INACTIVE'}  last notified "
            f"{notified}  [{thresholds}]"
        )
    return out
