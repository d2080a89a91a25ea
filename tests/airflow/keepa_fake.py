"""Keepa's /product faked at the HTTP boundary, with bodies in Keepa's real JSON format.

One :class:`FakeKeepa` answers both ways the Airflow tests reach it: as a ``responses``
callback (``dag.test()`` runs the tasks in the test process) and as a real local HTTP server
(:meth:`FakeKeepa.serve`, for Airflow's own worker processes under a real scheduler, and
with a :class:`~tests.unit.keepa.keepa_fakes.FakeKeepaTracking` for /tracking).
It keeps a token balance, can refuse one request with a 429, can send oversized products
(over the producer's 1 MiB request limit, so publishing them fails), and records every call.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from tests.unit.keepa.keepa_fakes import (
    API_KEY,
    SERVER_TIME_MS,
    FakeKeepaTracking,
    Responder,
    load_product_template,
    make_product,
    out_of_tokens_body,
    product_body,
    query_of,
    serve_keepa,
    token_fields,
)

#: Over aiokafka's default ``max_request_size`` (1 MiB): such a product cannot be published.
OVERSIZED_DESCRIPTION_CHARS = 1_200_000


@dataclass
class FakeKeepa:
    """Keepa's /product: products in its JSON format, a token balance, optional failures."""

    throttle_request: int | None = None
    """The request with this serial number (0 = first) gets a 429 (out of tokens)."""
    refill_in_ms: int = 300
    tokens_left: int = 1180
    oversized: dict[str, int] = field(default_factory=dict)
    """ASIN -> in how many of its first fetches its product is too large to publish."""
    calls: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Requests that were not what Keepa's client should send (answered with HTTP 400)."""
    template: dict[str, Any] = field(default_factory=load_product_template)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    """Keepa's notification queue (``/tracking?type=notification``): notification objects
    in Keepa's JSON, newest first; a read returns those with ``createDate >= since``."""
    tracking: FakeKeepaTracking | None = None
    """Keepa's /tracking beside /product on the server of :meth:`serve`."""
    _served: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def tokens_charged(self) -> int:
        """Every token the fake charged (a 429 costs nothing)."""
        return sum(len(c["asins"]) for c in self.calls if c["status"] == 200)

    def respond(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Status and body of a GET ``path`` with ``query`` (one value per parameter)."""
        if path.rstrip("/").rsplit("/", 1)[-1] == "tracking":
            return self._queue(query)
        problem = self._problem(path, query)
        with self._lock:
            serial = len(self.calls)
            stamp = SERVER_TIME_MS + serial * 1000
            if problem is not None:
                self.errors.append(problem)
                self.calls.append({"at": time.monotonic(), "status": 400, "asins": []})
                body = token_fields(tokens_left=self.tokens_left, timestamp=stamp)
                body["error"] = {"type": "REQUEST_REJECTED", "message": problem}
                return 400, body
            domain = int(query["domain"])
            asins = query["asin"].split(",")
            call = {"at": time.monotonic(), "domain": domain, "asins": asins}
            if serial == self.throttle_request:
                self.calls.append({**call, "status": 429})
                return 429, out_of_tokens_body(
                    tokens_left=-2, refill_in=self.refill_in_ms, timestamp=stamp
                )
            self.tokens_left -= len(asins)
            self.calls.append({**call, "status": 200})
            products = []
            for asin in asins:
                product = make_product(self.template, asin, domain)
                served = self._served.get(asin, 0)
                self._served[asin] = served + 1
                if served < self.oversized.get(asin, 0):
                    product["description"] = "x" * OVERSIZED_DESCRIPTION_CHARS
                products.append(product)
            body = product_body(
                products, tokens_left=self.tokens_left, refill_in=41_250, timestamp=stamp
            )
            return 200, body

    def _queue(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The notification queue read (free of tokens, like Keepa's)."""
        with self._lock:
            stamp = SERVER_TIME_MS + len(self.calls) * 1000
            ok = (
                query.get("key") == API_KEY
                and query.get("type") == "notification"
                and query.get("since", "").isdigit()
                and query.get("revise") in {"0", "1"}
            )
            call = {"at": time.monotonic(), "query": dict(query), "asins": []}
            self.calls.append({**call, "status": 200 if ok else 400})
            body = token_fields(tokens_left=self.tokens_left, tokens_consumed=0, timestamp=stamp)
            if not ok:
                self.errors.append(f"unexpected queue request {sorted(query)}")
                body["error"] = {"type": "REQUEST_REJECTED", "message": "bad request"}
                return 400, body
            since = int(query["since"])
            body["notifications"] = [n for n in self.notifications if n["createDate"] >= since]
            return 200, body

    @staticmethod
    def _problem(path: str, query: dict[str, str]) -> str | None:
        if path.rstrip("/").rsplit("/", 1)[-1] != "product":
            return f"unexpected endpoint {path}"
        if query.get("key") != API_KEY:
            return "wrong or missing API key"
        expected = {"stats": "90", "buybox": "0"}
        wrong = {k: query.get(k) for k, v in expected.items() if query.get(k) != v}
        if wrong:
            return f"unexpected parameters {wrong}"
        if not query.get("domain", "").isdigit() or not query.get("asin"):
            return "domain and asin are required"
        return None

    # --- as a `responses` callback -------------------------------------------------------

    def __call__(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        assert request.url is not None
        status, body = self.respond(urlsplit(request.url).path, query_of(request))
        return status, {}, json.dumps(body)

    # --- as a real HTTP server -----------------------------------------------------------

    @contextmanager
    def serve(self) -> Iterator[str]:
        """A real HTTP server on 127.0.0.1 (a free port) answering like Keepa; its base URL.
        /tracking: the notification queue, and :attr:`tracking`'s calls when it is set."""
        routes: dict[str, Responder] = {"product": self.route, "tracking": self._tracking_route}
        with serve_keepa(routes) as url:
            yield url

    def _tracking_route(
        self, method: str, path: str, query: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """/tracking: the notification queue read here, every other call to :attr:`tracking`."""
        if query.get("type") == "notification" or self.tracking is None:
            return self.respond(path, query)
        return self.tracking.route(method, path, query, body)

    def route(
        self, method: str, path: str, query: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """The :data:`Responder` of /product for :func:`serve_keepa`."""
        if method != "GET":
            return 405, {"error": {"type": "REQUEST_REJECTED", "message": "GET only"}}
        return self.respond(path, query)
