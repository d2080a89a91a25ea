"""Synchronous Keepa /product client that returns products exactly as Keepa sends them.

Why not ``keepa.Keepa``: its ``query`` rewrites every product (numpy/pandas ``data``,
``stats_parsed``) unless ``raw=True``, and then hands back ``requests.Response`` objects; it
de-duplicates ASINs with ``numpy.unique`` (which reorders them); it always asks ``/token``
first; it hard-codes ``https://api.keepa.com``; it sleeps with ``time.sleep`` against the
wall clock; it retries nothing but 429; exceptions raised by ``requests`` carry the request
URL, which contains the API key; and its constructor logs the last six characters of the
key and changes the level of its logger. Importing it also costs seconds (numpy + pandas).
So this module talks HTTP itself with ``requests`` (the library ``keepa`` uses) and keeps
only Keepa's protocol: ``GET {base_url}/product?key=&domain=&asin=a,b,c&stats=N&buybox=0|1``
with at most 100 ASINs, token fields in every response, 429 when tokens run out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import requests
from pydantic import SecretStr

from app.contracts.keepa_products import KeepaProductsEnvelope, make_envelope
from app.domain.asin import normalise_asin
from app.domain.markets import Market
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


class KeepaError(RuntimeError):
    """A Keepa request failed for good. The message never contains the API key."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class BatchResult:
    """One /product request: the ASINs asked for and the products Keepa returned."""

    asins: tuple[str, ...]
    products: list[dict[str, Any]]
    token_state: TokenState | None
    received_at: datetime
    """Keepa's server time of the response (our clock if Keepa sent none)."""


@dataclass(frozen=True, slots=True)
class FetchResult:
    """All batches of one :meth:`KeepaProductClient.fetch_products` call."""

    market: str
    domain_id: int
    batches: tuple[BatchResult, ...] = field(default_factory=tuple)

    @property
    def products(self) -> list[dict[str, Any]]:
        """Keepa's product objects, untouched, in request order."""
        return [product for batch in self.batches for product in batch.products]

    @property
    def token_state(self) -> TokenState | None:
        """The token state after the last request."""
        for batch in reversed(self.batches):
            if batch.token_state is not None:
                return batch.token_state
        return None

    @property
    def tokens_consumed(self) -> int:
        """Tokens all requests of this fetch cost, as reported by Keepa."""
        return sum(b.token_state.tokens_consumed for b in self.batches if b.token_state)

    def envelopes(self) -> Iterator[KeepaProductsEnvelope]:
        """The ``keepa.products`` messages, one per product."""
        for batch in self.batches:
            for product in batch.products:
                yield make_envelope(self.market, product, batch.received_at)


class _RedactSecret(logging.Filter):
    """Masks the API key in records of third-party loggers (urllib3 logs request URLs)."""

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


def normalize_asins(asins: Sequence[str]) -> list[str]:
    """Strip, upper-case and de-duplicate (keeping order); ``ValueError`` on malformed ones."""
    if isinstance(asins, str):
        asins = [asins]
    seen: dict[str, None] = {}
    bad: list[str] = []
    for raw in asins:
        try:
            seen.setdefault(normalise_asin(raw))
        except ValueError:
            bad.append(str(raw))
    if bad:
        raise ValueError(f"malformed ASINs (need 10 letters/digits): {bad[:10]}")
    return list(seen)


class KeepaProductClient:
    """Fetches raw Keepa product objects in batches, waiting for tokens and retrying errors.

    ``sleep`` and ``clock`` are injectable for tests; ``clock`` must be monotonic seconds.
    All waiting is blocking: the client is meant for Airflow tasks and the CLI.
    """

    def __init__(
        self,
        api_key: str | SecretStr,
        *,
        base_url: str = "https://api.keepa.com",
        buybox: bool = False,
        stats_days: int = 90,
        max_retries: int = 5,
        backoff_base_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        history_days: int | None = None,
        timeout_s: float = 60.0,
        max_backoff_s: float = 60.0,
        max_token_waits: int = 20,
        planner: TokenPlanner | None = None,
        session: requests.Session | None = None,
    ) -> None:
        secret = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        if not secret.get_secret_value().strip():
            raise ValueError("empty Keepa API key")
        if stats_days < 1 or (history_days is not None and history_days < 1):
            raise ValueError("stats_days and history_days must be positive")
        if max_retries < 0 or max_token_waits < 0 or backoff_base_s < 0:
            raise ValueError("retry limits and backoff must not be negative")
        self._key = secret
        self.base_url = base_url.rstrip("/")
        self.buybox = buybox
        self.stats_days = stats_days
        self.history_days = history_days
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
        _install_redaction(secret, ("urllib3.connectionpool", "requests"))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, buybox={self.buybox})"

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def __enter__(self) -> KeepaProductClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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

    # --- products ----------------------------------------------------------------------

    def fetch_products(self, market: str, asins: Sequence[str]) -> FetchResult:
        """Keepa's product objects for ``asins`` in ``market`` (``"DE"``, ``"GB"``, ...).

        Requests at most 100 ASINs at a time and no more than the token balance pays for,
        sleeping for tokens in between. Products are returned as Keepa sent them.
        """
        mkt = Market.parse(market)
        pending = normalize_asins(asins)
        batches: list[BatchResult] = []
        while pending:
            state = self.token_state
            if state is None:
                size = min(len(pending), self.planner.max_batch)
            else:
                try:
                    plan = self.planner.next_batch(state, len(pending), buybox=self.buybox)
                except ValueError as exc:  # no refill: waiting would never end
                    raise KeepaError(f"Keepa /product for {mkt.value}: {exc}") from None
                if plan.size == 0:
                    log.info(
                        "Keepa: %d tokens left, waiting %.1f s before the next %s batch",
                        state.tokens_left,
                        plan.wait_s,
                        mkt.value,
                    )
                    self._wait(plan.wait_s)
                    continue
                size = plan.size
            batch, pending = pending[:size], pending[size:]
            batches.append(self._fetch_batch(mkt.value, mkt.keepa_domain_id, batch))
        return FetchResult(market=mkt.value, domain_id=mkt.keepa_domain_id, batches=tuple(batches))

    def _fetch_batch(self, market: str, domain: int, asins: list[str]) -> BatchResult:
        params: dict[str, str | int] = {
            "domain": domain,
            "asin": ",".join(asins),
            "stats": self.stats_days,
            "buybox": int(self.buybox),
            "history": 1,
        }
        if self.history_days is not None:
            params["days"] = self.history_days
        cost = self.planner.cost(len(asins), buybox=self.buybox)
        body = self.request("product", params, tokens_needed=cost)
        products = body.get("products")
        if products is None:
            products = []
        if not isinstance(products, list):
            raise KeepaError(f"Keepa /product for {market}: 'products' is not a list")
        state = TokenState.from_response(body)
        log.info(
            "Keepa /product %s: %d ASINs -> %d products, %s tokens used, %s left",
            market,
            len(asins),
            len(products),
            state.tokens_consumed if state else "?",
            state.tokens_left if state else "?",
        )
        return BatchResult(
            asins=tuple(asins),
            products=products,
            token_state=state,
            received_at=_server_time(body),
        )

    # --- transport ---------------------------------------------------------------------

    def request(
        self,
        endpoint: str,
        params: Mapping[str, str | int],
        *,
        tokens_needed: int | None = None,
    ) -> dict[str, Any]:
        """GET ``{base_url}/{endpoint}`` with the key added; the decoded JSON body.

        Waits for tokens on 429 (as long as Keepa's ``refillIn``/``refillRate`` say, for
        ``tokens_needed`` tokens), retries 5xx, timeouts, connection errors and undecodable
        bodies with exponential backoff up to ``max_retries`` times, and raises
        :class:`KeepaError` on anything else.
        """
        url = f"{self.base_url}/{endpoint.strip('/')}"
        query = {**params, "key": self._key.get_secret_value()}
        failures = 0
        token_waits = 0
        while True:
            problem = ""
            try:
                response: requests.Response | None = self._session.get(
                    url,
                    params=query,
                    headers={"Accept-Encoding": "gzip, deflate"},
                    timeout=self.timeout_s,
                )
            except requests.RequestException as exc:
                # Keep only a redacted description: requests' exceptions quote the URL, which
                # holds the key, so they must not become the __context__ of a KeepaError.
                problem = f"{type(exc).__name__}: {self._redact(str(exc))}"
                response = None
            if response is None:
                failures = self._after_failure(endpoint, failures, problem, status=None)
                continue

            status = response.status_code
            body = _decode(response.content)
            if body is not None:
                self._remember(body)

            if status == 200 and body is not None and not _out_of_tokens(status, body):
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
                f"{self._describe_error(body)}".rstrip(),
                status_code=status,
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

    def _describe_error(self, body: Mapping[str, Any] | None) -> str:
        if not body:
            return ""
        error = body.get("error")
        if isinstance(error, Mapping):
            parts = [str(error[k]) for k in ("type", "message", "details") if error.get(k)]
            return self._redact(": " + " - ".join(parts)) if parts else ""
        if error:
            return self._redact(f": {error}")
        return ""

    def _redact(self, text: str) -> str:
        return text.replace(self._key.get_secret_value(), _REDACTED)


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


def _server_time(body: Mapping[str, Any]) -> datetime:
    timestamp = body.get("timestamp")
    if isinstance(timestamp, int | float) and timestamp > 0:
        return datetime.fromtimestamp(timestamp / 1000.0, tz=UTC)
    return datetime.now(UTC)
