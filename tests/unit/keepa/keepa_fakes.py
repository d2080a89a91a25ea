"""Helpers that fake Keepa's HTTP API with bodies in Keepa's real JSON format.

The bodies in data/ and where their format comes from: data/README.md.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests

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
