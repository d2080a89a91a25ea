"""Fixtures that fake Keepa at the HTTP boundary (see keepa_fakes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses
from keepa_fakes import API_KEY, BASE_URL, FakeTime, load_product_template
from keepa_fakes import make_product as _make_product

from app.keepa.client import KeepaProductClient


@pytest.fixture(scope="session")
def product_template() -> dict[str, Any]:
    return load_product_template()


@pytest.fixture
def make_product(product_template: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """``make_product(asin, domain_id=3)``: the template product for another ASIN."""

    def make(asin: str, domain_id: int = 3) -> dict[str, Any]:
        return _make_product(product_template, asin, domain_id)

    return make


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(fake_time: FakeTime) -> Iterator[KeepaProductClient]:
    with KeepaProductClient(
        API_KEY,
        base_url=BASE_URL,
        backoff_base_s=0.5,
        max_retries=3,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    ) as c:
        yield c


@pytest.fixture
def keepa_http() -> Iterator[responses.RequestsMock]:
    """Every HTTP call goes to registered fakes; unmatched calls raise ConnectionError."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
