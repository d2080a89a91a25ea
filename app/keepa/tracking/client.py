"""Keepa's ``/tracking`` endpoints, synchronously, on the shared Keepa transport.

Requests (Keepa's "Tracking Products" documentation; the Java reference client's
``Request.getTracking*Request``):

=================================================  =========  ===================================
``POST /tracking?type=add`` (JSON array body)       1 token    ``trackings``; ``error`` lists the
                                                   per        ASINs of a batch it could not add
                                                   tracking   (up to 1,000 per request)
``GET /tracking?type=get&asin=``                    0          ``trackings`` (``error``: none)
``GET /tracking?type=list&asins-only=1``            0          ``asinList``
``GET /tracking?type=remove&asin=``                 0          token fields (``error``: none)
``GET /tracking?type=removeAll``                    0          token fields
``GET /tracking?type=webhook&url=``                 0          token fields (``error``: bad URL)
``GET /tracking?type=notification&since=&revise=``  0          ``notifications``, newest first
=================================================  =========  ===================================

Every request but the webhook's may name a tracking list (``&list=``); without one, Keepa's
default list is used. Every response carries the token fields, ``refillRate`` among them:
each tracking lowers it (:mod:`app.keepa.tracking.cost`), and ``tokenFlowReduction`` says by
how much (Keepa updates that figure every 5 minutes). Which HTTP status comes with an
``error`` (a batch with failed ASINs, an ASIN that is not tracked) is not documented: a 200
and a 400 are read alike.

The webhook URL holds the receiver's secret path: like the API key, it never appears in a
log line, an error or a repr.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

from pydantic import SecretStr

from app.contracts.base import ContractError
from app.contracts.keepa_notifications import KeepaNotification
from app.domain.asin import normalise_asin
from app.domain.keepa_time import to_keepa_minutes
from app.keepa.client import normalize_asins
from app.keepa.http import KeepaError, KeepaHttpClient, error_text
from app.keepa.schema import MAX_TRACKINGS_PER_REQUEST
from app.keepa.tokens import TokenState
from app.keepa.tracking.cost import ADD_TOKENS_PER_TRACKING
from app.keepa.tracking.creation import TrackingRequest
from app.keepa.tracking.notifications import convert_notification
from app.keepa.tracking.objects import Tracking
from app.url_secrets import HTTP_SCHEMES, safe_host, scheme_of, secret_fragments

__all__ = [
    "AddTrackingsResult",
    "FailedTracking",
    "KeepaTrackingClient",
    "NotificationQueue",
    "RejectedNotification",
    "RemovedTracking",
    "TrackedAsins",
    "TrackingCall",
    "TrackingLookup",
]

log = logging.getLogger(__name__)

_ENDPOINT: Final = "tracking"
#: Statuses whose body is read rather than raised (see the module doc).
_READ_STATUS: Final = (200, 400)
_ASIN_IN_TEXT: Final = re.compile(r"\b[A-Z0-9]{10}\b")
_MAX_LIST_NAME: Final = 64


class _TokenFigures:
    """The token figures of a result: what the calls cost and the refill rate now."""

    __slots__ = ()
    token_state: TokenState | None

    @property
    def refill_rate(self) -> int | None:
        """Tokens per minute Keepa refills now, as its last response said (lowered by every
        tracking of the account)."""
        return None if self.token_state is None else self.token_state.refill_rate

    @property
    def token_flow_reduction(self) -> float | None:
        """How much the trackings lower the refill rate, as Keepa's last response said
        (``tokenFlowReduction``, updated every 5 minutes by Keepa)."""
        return None if self.token_state is None else self.token_state.token_flow_reduction


@dataclass(frozen=True, slots=True)
class FailedTracking:
    """An ASIN of an add batch that Keepa did not add, and what Keepa said."""

    asin: str
    reason: str


@dataclass(frozen=True, slots=True)
class AddTrackingsResult(_TokenFigures):
    """All requests of one :meth:`KeepaTrackingClient.add`."""

    added: tuple[Tracking, ...]
    failed: tuple[FailedTracking, ...]
    requests: int
    tokens_consumed: int
    token_state: TokenState | None

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True, slots=True)
class TrackingLookup(_TokenFigures):
    """The tracking of one ASIN, ``None`` when it is not tracked."""

    asin: str
    tracking: Tracking | None
    tokens_consumed: int
    token_state: TokenState | None


@dataclass(frozen=True, slots=True)
class TrackedAsins(_TokenFigures):
    """The ASINs of every tracking of the list, in Keepa's order."""

    asins: tuple[str, ...]
    tokens_consumed: int
    token_state: TokenState | None


@dataclass(frozen=True, slots=True)
class RemovedTracking(_TokenFigures):
    """A remove: ``was_tracked`` is false when Keepa had no tracking of the ASIN."""

    asin: str
    was_tracked: bool
    tokens_consumed: int
    token_state: TokenState | None


@dataclass(frozen=True, slots=True)
class TrackingCall(_TokenFigures):
    """A call that returns only token fields (remove all, set webhook)."""

    tokens_consumed: int
    token_state: TokenState | None


@dataclass(frozen=True, slots=True)
class RejectedNotification:
    """An item of the notification queue that is not a valid notification."""

    position: int
    """Its index in Keepa's ``notifications`` array (0 = the newest)."""
    error: ContractError
    raw: Any


@dataclass(frozen=True, slots=True)
class NotificationQueue(_TokenFigures):
    """One read of Keepa's notification queue, newest first."""

    notifications: tuple[KeepaNotification, ...]
    rejected: tuple[RejectedNotification, ...]
    since_minutes: int
    revise: bool
    tokens_consumed: int
    token_state: TokenState | None


class KeepaTrackingClient:
    """Manages our Keepa trackings and reads their notifications.

    ``http`` is the process's Keepa client (a :class:`~app.keepa.client.KeepaProductClient`
    will do): token waits, retries on 5xx, 429 handling and the redaction of the key are its,
    and so is the account's token state. ``tracking_list`` names a Keepa tracking list
    (``None``: the default list).
    """

    def __init__(self, http: KeepaHttpClient, *, tracking_list: str | None = None) -> None:
        if tracking_list is not None and not 0 < len(tracking_list) <= _MAX_LIST_NAME:
            raise ValueError(f"a tracking list name has 1 to {_MAX_LIST_NAME} characters")
        self.http = http
        self.tracking_list = tracking_list

    def __repr__(self) -> str:
        return f"{type(self).__name__}(http={self.http!r}, tracking_list={self.tracking_list!r})"

    def _params(self, kind: str, **extra: str | int) -> dict[str, str | int]:
        params: dict[str, str | int] = {"type": kind, **extra}
        if self.tracking_list is not None:
            params["list"] = self.tracking_list
        return params

    def _call(
        self,
        params: Mapping[str, str | int],
        *,
        json_body: Any = None,
        tokens: int = 0,
        read_errors: bool = False,
    ) -> tuple[dict[str, Any], int]:
        """Keepa's body and the tokens that call cost (its retries and 429s included).

        ``read_errors``: a 400 body is returned to be read (its ``error`` is about items of
        the request), not raised.
        """
        before = self.http.tokens_consumed
        body = self.http.request(
            _ENDPOINT,
            params,
            json_body=json_body,
            tokens_needed=tokens or None,
            accept_status=_READ_STATUS if read_errors else (200,),
        )
        return body, self.http.tokens_consumed - before

    # --- trackings ---------------------------------------------------------------------

    def add(self, trackings: Sequence[TrackingRequest]) -> AddTrackingsResult:
        """Add (or replace) trackings, at most 1,000 per request; 1 token each.

        An ASIN Keepa does not add is reported in ``failed``, with Keepa's error; the other
        ASINs of its batch are added all the same. Two requests for one ASIN: ``ValueError``.
        """
        counts = Counter(r.asin for r in trackings)
        duplicates = sorted(a for a, n in counts.items() if n > 1)
        if duplicates:
            raise ValueError(f"more than one tracking request for {duplicates[:10]}")
        added: list[Tracking] = []
        failed: list[FailedTracking] = []
        consumed = 0
        calls = 0
        for start in range(0, len(trackings), MAX_TRACKINGS_PER_REQUEST):
            batch = list(trackings[start : start + MAX_TRACKINGS_PER_REQUEST])
            cost = ADD_TOKENS_PER_TRACKING * len(batch)
            self.http.wait_for_tokens(cost)
            body, spent = self._call(
                self._params("add"),
                json_body=[r.to_keepa() for r in batch],
                tokens=cost,
                read_errors=True,
            )
            calls += 1
            consumed += spent
            ok, bad = self._read_add(batch, body)
            added.extend(ok)
            failed.extend(bad)
            log.info(
                "Keepa /tracking add: %d trackings -> %d added, %d failed, %d tokens used, "
                "refill rate %s",
                len(batch),
                len(ok),
                len(bad),
                spent,
                body.get("refillRate", "?"),
            )
        return AddTrackingsResult(
            added=tuple(added),
            failed=tuple(failed),
            requests=calls,
            tokens_consumed=consumed,
            token_state=self.http.reported_token_state,
        )

    def _read_add(
        self, batch: list[TrackingRequest], body: Mapping[str, Any]
    ) -> tuple[list[Tracking], list[FailedTracking]]:
        asked = {r.asin for r in batch}
        returned = [Tracking.from_keepa(t) for t in _list_field(body, "trackings")]
        text = self.http.redact(error_text(body))
        named = asked & set(_ASIN_IN_TEXT.findall(text))
        returned_asins = {t.asin for t in returned}
        if text and not named and not returned_asins:
            # Keepa refused the request itself, not some of its trackings.
            raise KeepaError(f"Keepa /tracking add of {len(batch)} trackings failed: {text}")
        ok = [t for t in returned if t.asin in asked and t.asin not in named]
        ok_asins = {t.asin for t in ok}
        reason = text or "not in Keepa's response"
        bad = [FailedTracking(r.asin, reason) for r in batch if r.asin not in ok_asins]
        return ok, bad

    def get(self, asin: str) -> TrackingLookup:
        """The tracking of ``asin`` (free)."""
        asin = normalise_asin(asin)
        body, spent = self._call(self._params("get", asin=asin), read_errors=True)
        found = [Tracking.from_keepa(t) for t in _list_field(body, "trackings")]
        match = next((t for t in found if t.asin == asin), None)
        if match is None and found:
            raise KeepaError(f"Keepa /tracking get {asin} returned other ASINs")
        return TrackingLookup(
            asin=asin, tracking=match, tokens_consumed=spent, token_state=_state(body)
        )

    def list_asins(self) -> TrackedAsins:
        """The ASINs of every tracking of the list (free; Keepa's ``asins-only`` list)."""
        body, spent = self._call(self._params("list", **{"asins-only": 1}))
        try:
            asins = normalize_asins([str(a) for a in _list_field(body, "asinList")])
        except ValueError as exc:
            raise KeepaError(f"Keepa /tracking list: {exc}") from None
        return TrackedAsins(asins=tuple(asins), tokens_consumed=spent, token_state=_state(body))

    def remove(self, asin: str) -> RemovedTracking:
        """Remove the tracking of ``asin`` (free); removing one that does not exist is not an
        error (``was_tracked`` is false)."""
        asin = normalise_asin(asin)
        body, spent = self._call(self._params("remove", asin=asin), read_errors=True)
        was_tracked = not body.get("error")
        if not was_tracked:
            log.info("Keepa /tracking remove %s: %s", asin, self.http.redact(error_text(body)))
        return RemovedTracking(
            asin=asin, was_tracked=was_tracked, tokens_consumed=spent, token_state=_state(body)
        )

    def remove_all(self) -> TrackingCall:
        """Remove every tracking of the list (free)."""
        body, spent = self._call(self._params("removeAll"))
        self._raise_on_error("removeAll", body)
        return TrackingCall(tokens_consumed=spent, token_state=_state(body))

    def set_webhook(self, url: str | SecretStr) -> TrackingCall:
        """Make Keepa POST every notification of the account to ``url`` (free). The URL is a
        secret (it holds the receiver's secret path) and is kept out of logs and errors."""
        value = url.get_secret_value() if isinstance(url, SecretStr) else url
        if scheme_of(value) not in HTTP_SCHEMES or not urlsplit(value).netloc:
            raise ValueError("the webhook URL must be an absolute http(s) URL")
        for fragment in secret_fragments(value):
            self.http.add_secret(fragment)
        body, spent = self._call({"type": "webhook", "url": value})
        self._raise_on_error("webhook", body)
        log.info("Keepa /tracking webhook set (host %s)", safe_host(value))
        return TrackingCall(tokens_consumed=spent, token_state=_state(body))

    # --- notifications -----------------------------------------------------------------

    def notifications(
        self, since: datetime | int, *, revise: bool, received_at: datetime | None = None
    ) -> NotificationQueue:
        """The notifications Keepa still holds (24 hours) created since ``since`` (an aware
        datetime, or Keepa minutes; 0 = all), newest first; with ``revise`` those already
        delivered too (Keepa marks a notification read once pushed or returned). Free.

        An item that is not a valid notification is listed in ``rejected``, not raised.
        ``received_at`` stamps the messages (default: now).
        """
        minutes = since if isinstance(since, int) else to_keepa_minutes(since)
        if minutes < 0:
            raise ValueError(f"since must not be before the Keepa epoch, got {minutes}")
        stamp = received_at or datetime.now(UTC)
        body, spent = self._call(self._params("notification", since=minutes, revise=int(revise)))
        self._raise_on_error("notification", body)
        parsed: list[KeepaNotification] = []
        rejected: list[RejectedNotification] = []
        for position, item in enumerate(_list_field(body, "notifications")):
            try:
                parsed.append(convert_notification(item, source="queue", received_at=stamp))
            except ContractError as exc:
                rejected.append(RejectedNotification(position, exc, item))
        if rejected:
            log.warning(
                "Keepa /tracking notification: %d of %d items rejected (first: %s)",
                len(rejected),
                len(parsed) + len(rejected),
                rejected[0].error,
            )
        return NotificationQueue(
            notifications=tuple(parsed),
            rejected=tuple(rejected),
            since_minutes=minutes,
            revise=revise,
            tokens_consumed=spent,
            token_state=_state(body),
        )

    def _raise_on_error(self, kind: str, body: Mapping[str, Any]) -> None:
        if body.get("error"):
            raise KeepaError(f"Keepa /tracking {kind} failed{self.http.describe_error(body)}")


def _list_field(body: Mapping[str, Any], name: str) -> list[Any]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise KeepaError(f"Keepa /tracking: {name!r} is not a list")
    return value


def _state(body: Mapping[str, Any]) -> TokenState | None:
    return TokenState.from_response(body)
