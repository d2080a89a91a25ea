"""One live EUR/GBP rate everywhere: after a new rate on ``fx.rates``, the ``products``,
``price-history`` and ``opportunities`` indices agree on a GB price in EUR (a real worker
process with RocksDB on the real broker and Elasticsearch)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import ApiError, Elasticsearch, NotFoundError

from app.domain.markets import Market
from app.es.documents import history_id, opportunity_id, product_id
from app.ingest.fx import fx_message
from app.settings import Settings
from devtools.stack import StackManager
from tests.integration.worker_process import (
    FIXED_TIME_DATA,
    WorkerProcess,
    envelope_bytes,
    produce,
    wait_for,
)
from tests.keepa_factory import envelope, keepa_product
from tests.session_resources import Owned, delete_owned, resource_name

pytestmark = pytest.mark.asyncio(loop_scope="session")

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
ASIN = "B0FXSAME01"
FIRST_GB_AT = T0 + timedelta(minutes=1)
NEWEST_GB_AT = T0 + timedelta(minutes=30)


@pytest.fixture
async def worker(
    tmp_path: Path, settings: Settings, stack: StackManager, es: Elasticsearch
) -> AsyncIterator[WorkerProcess]:
    process = WorkerProcess(
        resource_name("fx"),
        tmp_path / "data",
        tmp_path / "w.log",
        settings,
        extra_env={**FIXED_TIME_DATA, "FX_GBP_EUR": "1.17"},
    )
    yield process
    process.stop()
    await delete_owned(settings.kafka_bootstrap_servers, es, Owned.of(process.settings))


def de_buy() -> tuple[bytes, bytes]:
    product = keepa_product(ASIN, Market.DE, amazon=2000, last_update=T0)
    return envelope_bytes(envelope(product, T0 + timedelta(minutes=1)))


def gb_sell(pence: int, at: datetime) -> tuple[bytes, bytes]:
    product = keepa_product(
        ASIN, Market.GB, buy_box=pence, fba_fee=250, referral_pct=15.0, last_update=at
    )
    return envelope_bytes(envelope(product, at + timedelta(minutes=1)))


def source(es: Elasticsearch, index: str, doc_id: str) -> dict[str, Any] | None:
    """The document's source; ``None`` while it (or its new index's shard) is not there yet."""
    try:
        found: dict[str, Any] = es.get(index=index, id=doc_id)["_source"]
    except NotFoundError:
        return None
    except ApiError as exc:
        if exc.meta.status == 503:  # no_shard_available: the index was just created
            return None
        raise
    return found


async def test_products_history_and_opportunities_agree_after_a_new_rate(
    worker: WorkerProcess, kafka_bootstrap: str, es: Elasticsearch
) -> None:
    s = worker.settings
    products, history = s.index("products"), s.index("price-history")
    opportunities = s.index("opportunities")
    gb_doc = product_id(ASIN, Market.GB)
    route_doc = opportunity_id(ASIN, Market.DE, Market.GB)
    worker.start()

    # Before any rate was published: the configured FX_GBP_EUR, 5000 p x 1.17 = 5850 c.
    await produce(kafka_bootstrap, s.topic("keepa.products"), [de_buy()])
    await produce(kafka_bootstrap, s.topic("keepa.products"), [gb_sell(5000, FIRST_GB_AT)])

    def has(index: str, doc_id: str, **fields: Any) -> bool:
        doc = source(es, index, doc_id)
        return doc is not None and all(doc.get(k) == v for k, v in fields.items())

    first = "2026-11-21T08:01:00Z"
    await wait_for(lambda: has(products, gb_doc, observed_at=first), 60, "first GB product")
    await wait_for(lambda: has(opportunities, route_doc, sell_observed_at=first), 60, "route")
    assert has(products, gb_doc, sell_price_eur_cents=5850, fx_eur_per_gbp=1.17)
    assert has(opportunities, route_doc, sell_price_eur_cents=5850, fx_eur_per_gbp=1.17)

    # The ECB's rate of the day: 1 EUR = 0.84035 GBP, so 1 GBP = 1.189980 EUR.
    key, value = fx_message(
        {
            "currency": "GBP",
            "eur_per_gbp": "1.189980",
            "as_of": "2026-11-20T16:00:00Z",
            "source": "ecb",
        }
    )
    await produce(kafka_bootstrap, s.topic("fx.rates"), [(key, value)])
    await wait_for(lambda: worker.counter("fx_updates") >= 1, 30, "fx update")

    # A newer GB observation after the new rate.
    await produce(kafka_bootstrap, s.topic("keepa.products"), [gb_sell(5200, NEWEST_GB_AT)])
    newest = "2026-11-21T08:30:00Z"
    newest_history = history_id(ASIN, Market.GB, NEWEST_GB_AT)
    await wait_for(
        lambda: (
            has(products, gb_doc, observed_at=newest)
            and has(opportunities, route_doc, sell_observed_at=newest)
            and source(es, history, newest_history) is not None
        ),
        60,
        "the newest GB observation in all three indices",
    )
    product_doc = source(es, products, gb_doc)
    history_doc = source(es, history, newest_history)
    route = source(es, opportunities, route_doc)
    assert product_doc is not None
    assert history_doc is not None
    assert route is not None

    # By hand: 5200 p x 1.189980 = 6187.896 c, rounded half-up to the cent = 6188 c.
    expected = 6188
    assert product_doc["sell_price_eur_cents"] == expected
    assert history_doc["sell_price_eur_cents"] == expected
    assert route["sell_price_eur_cents"] == expected
    assert route["last_event"] == "updated"
    for doc in (product_doc, history_doc, route):
        assert doc["fx_eur_per_gbp"] == pytest.approx(1.18998)

    # The first observation's history stays stamped with the rate in force back then.
    old = source(es, history, history_id(ASIN, Market.GB, FIRST_GB_AT))
    assert old is not None
    assert (old["sell_price_eur_cents"], old["fx_eur_per_gbp"]) == (5850, pytest.approx(1.17))
