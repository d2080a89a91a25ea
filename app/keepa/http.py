"""Keepa's HTTP protocol, shared by every Keepa endpoint we call (/product, /bestsellers,
/tracking, /token).

Why not ``keepa.Keepa``: see :mod:`app.keepa.client`. :class:`KeepaHttpClient` keeps only
Keepa's protocol: ``{GET|POST} {base_url}/{endpoint}?key=...&...``, token fields in every
response body (:class:`~app.keepa.tokens.TokenState`), 429 when the tokens run out, an
``error`` object (``type``, ``message``, ``details``) in a body Keepa rejected. It waits for
tokens, retries 5xx, timeouts, connection errors and undecodable bodies, and keeps the API
key (and any other secret it is told about, such as a webhook URL) out of its logs, errors
and repr.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import quote, quote_plus

import orjson
import requests
from pydantic import SecretStr

from app.keepa.tokens import TokenPlanner, TokenState

log = logging.getLogger(__name__)

# Keepa's names for its HTTP status codes (as in ``keepa.constants.SCODES``).
_STATUS_NAMES = {
    400: "REQUEST_REJECTED",
    402: "PAYMENT_REQUIRED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "NOT_ENOUGH_TOKEN",
    500: "INTERNAL_SERVER_ERROR",
}
_RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
_REDACTED = "***"
#: Loggers of the HTTP stack that write request URLs (urllib3 logs every request line).
_HTTP_LOGGERS = ("urllib3.connectionpool", "requests")


class KeepaError(RuntimeError):
    """A Keepa request failed for good. The message never contains the API key."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class _RedactSecret(logging.Filter):
    """Masks a secret in records of third-party loggers (urllib3 logs request URLs)."""

    def __init__(self, secret: SecretStr) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        value = self.secret.get_secret_value()
        message = record.getMessage()
        if value in message:
            record.msg = message.replace(value, _REDACTED)
            record.args = None
        return True


def _install_redaction(secret: SecretStr, logger_names: Sequence[str]) -> None:
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactSecret) and f.secret == secret for f in logger.filters):
            logger.addFilter(_RedactSecret(secret))


def _spellings(value: str) -> list[str]:
    """``value`` as it may appear in a URL or a log line: raw and percent-encoded."""
    return list(dict.fromkeys((value, quote_plus(value), quote(value, safe=""))))


class KeepaHttpClient:
    """Sends Keepa requests, waiting for tokens and retrying errors; one per API key.

    The token state is the account's, so one instance should serve every Keepa call of a
    process (products, best sellers and trackings share the bucket). ``sleep`` and ``clock``
    are injectable for tests; ``clock`` must be monotonic seconds. All waiting is blocking:
    the client is meant for Airflow tasks and the CLI.
    """

    def __init__(
        self,
        api_key: str | SecretStr,
        *,
        base_url: str = "https://api.keepa.com",
        max_retries: int = 5,
        backoff_base_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        timeout_s: float = 60.0,
        max_backoff_s: float = 60.0,
        max_token_waits: int = 20,
        planner: TokenPlanner | None = None,
        session: requests.Session | None = None,
    ) -> None:
        secret = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        if not secret.get_secret_value().strip():
            raise ValueError("empty Keepa API key")
        if max_retries < 0 or max_token_waits < 0 or backoff_base_s < 0:
            raise ValueError("retry limits and backoff must not be negative")
        self._key = secret
        self._secrets: list[SecretStr] = []
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.max_backoff_s = max_backoff_s
        self.max_token_waits = max_token_waits
        self.timeout_s = timeout_s
        self.planner = planner or TokenPlanner()
        self._sleep = sleep
        self._clock = clock
        self._session = session or requests.Session()
        self._state: TokenState | None = None
        self._state_at = 0.0
        self._slept_since_state = 0.0
        self.tokens_consumed = 0
        """Tokens Keepa reported as consumed by every response this client received, whatever
        became of the request afterwards (the cost of failed attempts included)."""
        self.add_secret(secret)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- secrets -----------------------------------------------------------------------

    def add_secret(self, secret: str | SecretStr) -> None:
        """Keep ``secret`` (raw and percent-encoded, as in a query string) out of this client's
        errors and log lines, and out of the HTTP stack's log lines."""
        value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        if not value:
            return
        for spelling in _spellings(value):
            wrapped = SecretStr(spelling)
            if wrapped not in self._secrets:
                self._secrets.append(wrapped)
                _install_redaction(wrapped, _HTTP_LOGGERS)
        # Longest first, so that a secret containing another is masked whole.
        self._secrets.sort(key=lambda s: len(s.get_secret_value()), reverse=True)

    def redact(self, text: str) -> str:
        """``text`` with every secret of this client masked."""
        for secret in self._secrets:
            text = text.replace(secret.get_secret_value(), _REDACTED)
        return text

    # --- token state -------------------------------------------------------------------

    @property
    def token_state(self) -> TokenState | None:
        """The last state Keepa reported, projected to now.

        Elapsed time is the larger of what ``clock`` measured and what we slept since, so a
        fake ``sleep`` in tests moves the projection forward too.
        """
        if self._state is None:
            return None
        elapsed_s = max(self._clock() - self._state_at, self._slept_since_state)
        return self.planner.project(self._state, int(elapsed_s * 1000))

    @property
    def reported_token_state(self) -> TokenState | None:
        """The token state of Keepa's last response, as Keepa reported it (not projected)."""
        return self._state

    def check_tokens(self) -> TokenState:
        """Ask Keepa's free ``/token`` endpoint for the current token state."""
        state = TokenState.from_response(self.request("token", {}))
        if state is None:
            raise KeepaError("Keepa /token returned no token state")
        return state

    def wait_for_tokens(self, tokens_needed: int) -> float:
        """Sleep until the projected balance covers ``tokens_needed``; the seconds slept.

        Does nothing before the first response (the balance is unknown until then).
        """
        state = self.token_state
        if state is None:
            return 0.0
        try:
            wait_s = self.planner.wait_ms(state, tokens_needed) / 1000.0
        except ValueError as exc:  # no refill: waiting would never end
            raise KeepaError(f"Keepa: {exc}") from None
        if wait_s > 0:
            log.info("Keepa: waiting %.1f s for %d tokens", wait_s, tokens_needed)
            self._wait(wait_s)
        return wait_s

    def _remember(self, body: Mapping[str, Any]) -> TokenState | None:
        state = TokenState.from_response(body)
        if state is not None:
            self._state = state
            self._state_at = self._clock()
            self._slept_since_state = 0.0
            self.tokens_consumed += state.tokens_consumed
        return state

    def _wait(self, seconds: float) -> None:
        self._sleep(seconds)
        self._slept_since_state += seconds

    # --- transport ---------------------------------------------------------------------

    def request(
        self,
        endpoint: str,
        params: Mapping[str, str | int],
        *,
        tokens_needed: int | None = None,
        json_body: Any = None,
        accept_status: Collection[int] = (200,),
    ) -> dict[str, Any]:
        """``GET {base_url}/{endpoint}`` (``POST`` with ``json_body`` when given) with the key
        added; the decoded JSON body.

        Waits for tokens on 429 (as long as Keepa's ``refillIn``/``refillRate`` say, for
        ``tokens_needed`` tokens), retries 5xx, timeouts, connection errors and undecodable
        bodies with exponential backoff up to ``max_retries`` times, and raises
        :class:`KeepaError` on anything else. A status in ``accept_status`` (default: 200
        only) with a JSON body is returned for the caller to read, e.g. a 400 whose ``error``
        names the items of a batch Keepa refused.
        """
        url = f"{self.base_url}/{endpoint.strip('/')}"
        query = {**params, "key": self._key.get_secret_value()}
        body_bytes = None if json_body is None else orjson.dumps(json_body)
        failures = 0
        token_waits = 0
        while True:
            problem = ""
            try:
                response: requests.Response | None = self._send(url, query, body_bytes)
            except requests.RequestException as exc:
                # Keep only a redacted description: requests' exceptions quote the URL, which
                # holds the key, so they must not become the __context__ of a KeepaError.
                problem = f"{type(exc).__name__}: {self.redact(str(exc))}"
                response = None
            if response is None:
                failures = self._after_failure(endpoint, failures, problem, status=None)
                continue

            status = response.status_code
            body = _decode(response.content)
            if body is not None:
                self._remember(body)

            if status in accept_status and body is not None and not _out_of_tokens(status, body):
                return body
            if _out_of_tokens(status, body):
                token_waits += 1
                if token_waits > self.max_token_waits:
                    raise KeepaError(
                        f"Keepa /{endpoint}: still out of tokens after {self.max_token_waits} "
                        "waits",
                        status_code=status,
                    )
                wait_s = self._token_wait_s(body, tokens_needed, token_waits)
                log.warning("Keepa /%s: not enough tokens, waiting %.1f s", endpoint, wait_s)
                self._wait(wait_s)
                continue
            if status in _RETRYABLE_STATUS or (status == 200 and body is None):
                problem = f"HTTP {status}" + ("" if body is not None else " (undecodable body)")
                failures = self._after_failure(endpoint, failures, problem, status=status)
                continue
            raise KeepaError(
                f"Keepa /{endpoint} failed: HTTP {status} {_STATUS_NAMES.get(status, '')}"
                f"{self.describe_error(body)}".rstrip(),
                status_code=status,
            )

    def _send(
        self, url: str, query: Mapping[str, str | int], body: bytes | None
    ) -> requests.Response:
        headers = {"Accept-Encoding": "gzip, deflate"}
        if body is None:
            return self._session.get(url, params=query, headers=headers, timeout=self.timeout_s)
        headers["Content-Type"] = "application/json; charset=UTF-8"
        return self._session.post(
            url, params=query, data=body, headers=headers, timeout=self.timeout_s
        )

    def _after_failure(self, endpoint: str, failures: int, problem: str, status: int | None) -> int:
        """Sleep before retry number ``failures + 1``, or raise when retries are used up."""
        if failures >= self.max_retries:
            raise KeepaError(
                f"Keepa /{endpoint} failed after {failures + 1} attempts: {problem}",
                status_code=status,
            )
        delay = self._backoff_s(failures)
        log.warning(
            "Keepa /%s: %s; retry %d/%d in %.1f s",
            endpoint,
            problem,
            failures + 1,
            self.max_retries,
            delay,
        )
        self._wait(delay)
        return failures + 1

    def _token_wait_s(
        self, body: Mapping[str, Any] | None, tokens_needed: int | None, attempt: int
    ) -> float:
        """How long to wait after a 429: what Keepa's token fields say, else backoff."""
        state = TokenState.from_response(body) if body is not None else None
        if state is not None:
            wait_ms = 0
            if tokens_needed and state.refill_rate > 0:
                wait_ms = self.planner.wait_ms(state, tokens_needed)
            if wait_ms <= 0:
                # Keepa refused although the balance looks sufficient (or we do not know the
                # cost): wait for the next refill.
                wait_ms = state.refill_in_ms + self.planner.safety_ms
            return wait_ms / 1000.0
        if body is not None and isinstance(body.get("refillIn"), int | float):
            return float(body["refillIn"]) / 1000.0 + self.planner.safety_ms / 1000.0
        return self._backoff_s(attempt - 1)

    def _backoff_s(self, retry: int) -> float:
        """Exponential backoff before retry ``retry + 1``: base, 2 x base, 4 x base, ..."""
        return min(self.max_backoff_s, self.backoff_base_s * 2.0**retry)

    def describe_error(self, body: Mapping[str, Any] | None) -> str:
        """``": <type> - <message> - <details>"`` of Keepa's ``error`` field, redacted; ``""``
        when the body has none."""
        text = error_text(body)
        return f": {self.redact(text)}" if text else ""


def error_text(body: Mapping[str, Any] | None) -> str:
    """Keepa's ``error`` field as one line (``type - message - details``), not redacted;
    ``""`` when there is none."""
    if not body:
        return ""
    error = body.get("error")
    if isinstance(error, Mapping):
        return " - ".join(str(error[k]) for k in ("type", "message", "details") if error.get(k))
    return str(error) if error else ""


def _decode(content: bytes) -> dict[str, Any] | None:
    if not content:
        return None
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def _out_of_tokens(status: int, body: Mapping[str, Any] | None) -> bool:
    if status == 429:
        return True
    if not body:
        return False
    if body.get("status") == "NOT_ENOUGH_TOKEN":
        return True
    error = body.get("error")
    return isinstance(error, Mapping) and error.get("type") == "NOT_ENOUGH_TOKEN"


def server_time(body: Mapping[str, Any]) -> datetime:
    """Keepa's server time of a response (``timestamp``); our clock if Keepa sent none."""
    timestamp = body.get("timestamp")
    if isinstance(timestamp, int | float) and timestamp > 0:
        return datetime.fromtimestamp(timestamp / 1000.0, tz=UTC)
    return datetime.now(UTC)
