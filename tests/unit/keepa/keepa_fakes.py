"""Helpers that fake Keepa's HTTP API with bodies in Keepa's real JSON format.

The bodies in data/ and where their format comes from: data/README.md.
"""

from __future__ import annotations

import copy
import json
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse, urlsplit

import requests
import responses

from app.domain.keepa_time import to_keepa_minutes

DATA = Path(__file__).parent / "data"
# Looks like a real key (64 lowercase alphanumerics) so that it would be caught anywhere.
API_KEY = "s3cr3tk3yq7w1e9r4t2y8u6i0o5p3a1s7d9f2g4h6j8k0l1z3x5c7v9b2n4m6q8w"
BASE_URL = "https://api.keepa.test"
SERVER_TIME_MS = 1_741_944_600_000  # 2025-03-14T09:30:00Z


class FakeTime:
    """An injectable monotonic clock whose ``sleep`` records the wait and advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def token_fields(
    *,
    tokens_left: int = 1180,
    refill_in: int = 41_250,
    refill_rate: int = 20,
    tokens_consumed: int = 0,
    timestamp: int = SERVER_TIME_MS,
) -> dict[str, Any]:
    """The account fields Keepa puts in every response, in Keepa's order."""
    return {
        "timestamp": timestamp,
        "tokensLeft": tokens_left,
        "refillIn": refill_in,
        "refillRate": refill_rate,
        "tokenFlowReduction": 0.0,
        "tokensConsumed": tokens_consumed,
        "processingTimeInMs": 187,
    }


def product_body(products: list[dict[str, Any]], **tokens: Any) -> dict[str, Any]:
    """A /product response body."""
    fields = token_fields(**{"tokens_consumed": len(products), **tokens})
    return {**fields, "products": products}


def out_of_tokens_body(**tokens: Any) -> dict[str, Any]:
    """What Keepa sends with HTTP 429: only the account fields."""
    return token_fields(**{"tokens_consumed": 0, **tokens})


def tracking_body(**fields: Any) -> dict[str, Any]:
    """A /tracking response body: the account fields (0 tokens consumed unless told) and
    ``fields`` (``trackings=[...]``, ``asinList=[...]``, ``notifications=[...]``,
    ``error={...}``); token fields may be overridden with ``token_fields``' names."""
    names = {"tokens_left", "refill_in", "refill_rate", "tokens_consumed", "timestamp"}
    tokens = {k: fields.pop(k) for k in list(fields) if k in names}
    return {**token_fields(**{"tokens_consumed": 0, **tokens}), **fields}


def load_json(name: str) -> Any:
    """A fixture of data/, decoded."""
    with (DATA / name).open(encoding="utf-8") as fh:
        return json.load(fh)


def query_of(request: requests.PreparedRequest) -> dict[str, str]:
    """The query parameters of a recorded request, one value each."""
    assert request.url is not None
    return {k: v[0] for k, v in parse_qs(urlparse(request.url).query).items()}


def load_product_template() -> dict[str, Any]:
    """A full Keepa product object (amazon.de), as Keepa's /product returns it."""
    with (DATA / "product_de.json").open(encoding="utf-8") as fh:
        product: dict[str, Any] = json.load(fh)
    return product


def make_product(template: dict[str, Any], asin: str, domain_id: int = 3) -> dict[str, Any]:
    """A copy of ``template`` for another ASIN / domain."""
    product = copy.deepcopy(template)
    product["asin"] = asin
    product["domainId"] = domain_id
    return product


# --- a local HTTP server speaking Keepa's API ------------------------------------------------

#: ``(method, path, query, body) -> (status, JSON body)``: one endpoint of a fake Keepa.
Responder = Callable[[str, str, dict[str, str], bytes], tuple[int, dict[str, Any]]]


@contextmanager
def serve_keepa(routes: Mapping[str, Responder]) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 (a free port) answering like Keepa; its base URL.

    ``routes`` maps an endpoint (the last path segment: ``product``, ``tracking``) to its
    responder; any other path gets a 404 with a Keepa-style ``error``. GET and POST.
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            responder = routes.get(parts.path.rstrip("/").rsplit("/", 1)[-1])
            if responder is None:
                status, answer = 404, {"error": {"type": "notFound", "message": parts.path}}
            else:
                status, answer = responder(method, parts.path, query, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the request line holds the API key

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# --- Keepa's /tracking -----------------------------------------------------------------------


def tracking_object(
    creation: Mapping[str, Any], *, minute: int, notification_csv: list[int] | None = None
) -> dict[str, Any]:
    """The tracking object Keepa returns (add response, get) for the tracking creation object
    ``creation`` it was sent at Keepa minute ``minute``: thresholds as value histories
    (``thresholdValueCSV``), the ``metaData`` sent kept as sent (docs/tracking.md: what
    Keepa documents about that)."""
    return {
        "asin": creation["asin"],
        "createDate": minute,
        "isActive": True,
        "ttl": creation.get("ttl", 0),
        "expireNotify": creation.get("expireNotify", False),
        "mainDomainId": creation["mainDomainId"],
        "updateInterval": creation.get("updateInterval", 1),
        "metaData": creation.get("metaData"),
        "thresholdValues": [
            {
                "thresholdValueCSV": [minute, t["thresholdValue"]],
                "domain": t["domain"],
                "csvType": t["csvType"],
                "isDrop": t["isDrop"],
            }
            for t in creation.get("thresholdValues") or []
        ],
        "notifyIf": list(creation.get("notifyIf") or []),
        "notificationType": creation.get("notificationType"),
        "notificationCSV": list(notification_csv or []),
        "individualNotificationInterval": creation.get("individualNotificationInterval", -1),
    }


@dataclass
class FakeKeepaTracking:
    """Keepa's ``/tracking`` over a set of trackings, in Keepa's JSON (data/README.md):
    ``list`` (asins-only), ``get``, ``add`` (POST, a batch: 1 token per tracking), ``remove``,
    ``webhook``. Answers a ``responses`` mock (:meth:`install`) or a real local server
    (:meth:`serve`, or a route of :func:`serve_keepa`).

    Each tracking lowers the refill rate: ``refillRate`` is ``nominal_rate`` less
    ``reduction_per_tracking`` per tracking (rounded up), ``tokenFlowReduction`` the sum
    (Keepa updates it every 5 minutes; here at once). ``refuse``: ASINs an add does not add
    (the ``error`` names them, the rest of the batch is added). ``throttle_adds``: the first n
    add requests are answered 429 (out of tokens, refill in ``refill_in_ms``).
    ``minute``: Keepa's clock (Keepa minutes) for created trackings; ``None``: the wall clock.
    """

    trackings: dict[str, dict[str, Any]] = field(default_factory=dict)
    refuse: frozenset[str] = frozenset()
    throttle_adds: int = 0
    refill_in_ms: int = 300
    nominal_rate: int = 20
    reduction_per_tracking: float = 1.0
    tokens_left: int = 1180
    minute: int | None = None
    keeps_meta_data: bool = True
    """False: an add keeps the ``metaData`` of the tracking it replaces (``None`` for a new
    one) instead of the one sent (undocumented either way: docs/tracking.md)."""
    webhook: str | None = None
    calls: list[dict[str, str]] = field(default_factory=list)
    """The query of every request (``type``, ``asin``, ...; the key left out)."""
    add_bodies: list[list[dict[str, Any]]] = field(default_factory=list)
    """The creation objects of every add Keepa processed (not those answered 429)."""
    errors: list[str] = field(default_factory=list)
    """Requests Keepa's client should not send (answered with HTTP 400)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def kinds(self) -> list[str]:
        """The ``type`` of every request, in order."""
        return [c.get("type", "?") for c in self.calls]

    def fire(self, asin: str, minute: int, *, domain: int = 3, csv_type: int = 10) -> None:
        """A threshold of ``asin``'s tracking notified (cause DESIRED_PRICE, API channel)."""
        with self._lock:
            self.trackings[asin]["notificationCSV"] += [domain, csv_type, 5, 1, minute]

    def _token_fields(self, **extra: Any) -> dict[str, Any]:
        reduction = self.reduction_per_tracking * len(self.trackings)
        body = tracking_body(
            tokens_left=self.tokens_left,
            refill_rate=self.nominal_rate - math.ceil(reduction),
            **extra,
        )
        body["tokenFlowReduction"] = reduction
        return body

    def respond(
        self, method: str, query: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """Status and JSON body of one request to /tracking."""
        with self._lock:
            self.calls.append({k: v for k, v in query.items() if k != "key"})
            problem = self._problem(method, query)
            if problem is not None:
                self.errors.append(problem)
                return 400, self._token_fields(
                    error={"type": "REQUEST_REJECTED", "message": problem}
                )
            kind = query["type"]
            if kind == "add":
                return self._add(json.loads(body))
            if kind == "list":
                return 200, self._token_fields(asinList=sorted(self.trackings))
            if kind == "get":
                found = self.trackings.get(query["asin"])
                return 200, self._token_fields(trackings=[] if found is None else [found])
            if kind == "remove":
                gone = self.trackings.pop(query["asin"], None)
                if gone is None:
                    return 400, self._token_fields(
                        error={"type": "invalidParameter", "message": "ASIN not tracked."}
                    )
                return 200, self._token_fields()
            self.webhook = query["url"]
            return 200, self._token_fields()

    def _add(self, sent: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        if self.throttle_adds:
            self.throttle_adds -= 1
            return 429, out_of_tokens_body(
                tokens_left=-3,
                refill_in=self.refill_in_ms,
                refill_rate=self._token_fields()["refillRate"],
            )
        self.add_bodies.append(sent)
        self.tokens_left -= len(sent)
        minute = self.minute if self.minute is not None else to_keepa_minutes(datetime.now(UTC))
        added = []
        for creation in sent:
            if creation["asin"] in self.refuse:
                continue
            old = self.trackings.get(creation["asin"])
            history = None if old is None else old["notificationCSV"]
            tracking = tracking_object(creation, minute=minute, notification_csv=history)
            if not self.keeps_meta_data:
                tracking["metaData"] = None if old is None else old["metaData"]
            self.trackings[creation["asin"]] = tracking
            added.append(tracking)
        failed = sorted({c["asin"] for c in sent} & self.refuse)
        extra: dict[str, Any] = {"trackings": added, "tokens_consumed": len(sent)}
        if failed:
            extra["error"] = {
                "type": "invalidParameter",
                "message": "Could not add all trackings.",
                "details": ",".join(failed),
            }
        return 200, self._token_fields(**extra)

    @staticmethod
    def _problem(method: str, query: Mapping[str, str]) -> str | None:
        if query.get("key") != API_KEY:
            return "wrong or missing API key"
        kind = query.get("type")
        needs: dict[str | None, tuple[str, tuple[str, ...]]] = {
            "add": ("POST", ()),
            "list": ("GET", ("asins-only",)),
            "get": ("GET", ("asin",)),
            "remove": ("GET", ("asin",)),
            "webhook": ("GET", ("url",)),
        }
        if kind not in needs:
            return f"unexpected type {kind!r}"
        verb, params = needs[kind]
        if method != verb:
            return f"{kind} must be a {verb}"
        missing = [p for p in params if not query.get(p)]
        return f"{kind} needs {missing}" if missing else None

    # --- transports ----------------------------------------------------------------------

    def route(
        self, method: str, path: str, query: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """The :data:`Responder` of /tracking for :func:`serve_keepa`."""
        return self.respond(method, query, body)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """A real local HTTP server answering /tracking like Keepa; its base URL."""
        with serve_keepa({"tracking": self.route}) as url:
            yield url

    def install(self, mock: responses.RequestsMock, base_url: str = BASE_URL) -> None:
        """Answer ``base_url``/tracking on a ``responses`` mock."""

        def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
            raw = request.body or b""
            body = raw.encode() if isinstance(raw, str) else raw
            status, answer = self.respond(str(request.method), query_of(request), body)
            return status, {}, json.dumps(answer)

        for method in (responses.GET, responses.POST):
            mock.add_callback(method, f"{base_url}/tracking", callback=callback)
