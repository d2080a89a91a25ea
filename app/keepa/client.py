"""Synchronous Keepa /product client that returns products exactly as Keepa sends them.

Why not ``keepa.Keepa``: its ``query`` rewrites every product (numpy/pandas ``data``,
``stats_parsed``) unless ``raw=True``, and then hands back ``requests.Response`` objects; it
de-duplicates ASINs with ``numpy.unique`` (which reorders them); it always asks ``/token``
first; it hard-codes ``https://api.keepa.com``; it sleeps with ``time.sleep`` against the
wall clock; it retries nothing but 429; exceptions raised by ``requests`` carry the request
URL, which contains the API key; and its constructor logs the last six characters of the
key and changes the level of its logger. Importing it also costs seconds (numpy + pandas).
So :mod:`app.keepa.http` talks HTTP itself with ``requests`` (the library ``keepa`` uses),
and this module keeps only the /product protocol:
``GET {base_url}/product?key=&domain=&asin=a,b,c&stats=N&buybox=0|1`` with at most 100 ASINs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests
from pydantic import SecretStr

from app.contracts.keepa_products import KeepaProductsEnvelope, make_envelope
from app.domain.asin import normalise_asin
from app.domain.keepa_prices import STATS_DAYS
from app.domain.markets import Market
from app.keepa.http import KeepaError, KeepaHttpClient, server_time
from app.keepa.tokens import TokenPlanner, TokenState

__all__ = ["BatchResult", "FetchResult", "KeepaError", "KeepaProductClient", "normalize_asins"]

log = logging.getLogger(__name__)


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


class KeepaProductClient(KeepaHttpClient):
    """Fetches raw Keepa product objects in batches, waiting for tokens and retrying errors.

    The transport (token waits, retries, redaction of the key) is :class:`KeepaHttpClient`'s;
    pass this client wherever another Keepa endpoint is called in the same process, so that
    all of them share the account's token state.
    """

    def __init__(
        self,
        api_key: str | SecretStr,
        *,
        base_url: str = "https://api.keepa.com",
        buybox: bool = False,
        stats_days: int = STATS_DAYS,
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
        if stats_days < 1 or (history_days is not None and history_days < 1):
            raise ValueError("stats_days and history_days must be positive")
        super().__init__(
            api_key,
            base_url=base_url,
            max_retries=max_retries,
            backoff_base_s=backoff_base_s,
            sleep=sleep,
            clock=clock,
            timeout_s=timeout_s,
            max_backoff_s=max_backoff_s,
            max_token_waits=max_token_waits,
            planner=planner,
            session=session,
        )
        self.buybox = buybox
        self.stats_days = stats_days
        self.history_days = history_days

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, buybox={self.buybox})"

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
            received_at=server_time(body),
        )
