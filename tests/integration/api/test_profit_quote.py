"""``POST /profit/quote`` on the real stack: the API in-process reads the stored quotes that a
real worker indexed from Keepa envelopes (api_dataset.py) and the profile and EUR/GBP rate in
force from real topics.

The API here has a topic prefix of its own (the worker's Elasticsearch indices): its
``seller.profile`` is the one this module publishes, not the worker's, which the fuzz test
changes at random, and no rate was published on its ``fx.rates`` (1.17, the worker's
fallback too).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from api_dataset import TOKEN, B
from fastapi.testclient import TestClient

from app.api.main import create_app
from app.contracts.seller_profile import DEFAULT_IN_FORCE, SELLER_PROFILE_TOPIC
from app.domain.markets import Market
from app.settings import Settings
from dashboard.api_client import ApiClient, ApiError
from dashboard.shaping import MyCosts, profit_quote_body, quoted_route_of
from devtools.worker_process import free_port
from tests.session_resources import Owned, delete_topics, resource_name

AUTH = {"Authorization": f"Bearer {TOKEN}".encode()}


async def _create_profile_topic(settings: Settings) -> None:
    """``seller.profile`` as the worker declares it: compacted, one partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        topic = NewTopic(
            settings.topic(SELLER_PROFILE_TOPIC), 1, 1, topic_configs={"cleanup.policy": "compact"}
        )
        await admin.create_topics([topic])
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def client(api_settings: Settings) -> Iterator[TestClient]:
    prefix = f"{resource_name('whatif')}-"
    settings = api_settings.model_copy(update={"topic_prefix": prefix})
    try:
        with TestClient(create_app(settings)) as test_client:
            yield test_client
    finally:
        asyncio.run(delete_topics(settings.kafka_bootstrap_servers, Owned((prefix,), ())))


def post(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/profit/quote", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def by_route(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {route["route"]: route for route in body["routes"]}


def test_stored_quotes_give_the_profit_of_the_opportunity_documents(client: TestClient) -> None:
    """B0APITEST2 (DE Amazon 20.00, FR and GB buy boxes 50.00 / GBP 50.00): its open routes
    DE:FR 888 and DE:GB 984 as the worker indexed them, line for line (api_dataset.py)."""
    detail = client.get(f"/opportunities/{B}")
    assert detail.status_code == 200, detail.text
    documents = {r["route"]: r for r in detail.json()["routes"]}
    assert {k: r["profit_eur_cents"] for k, r in documents.items()} == {"DE:FR": 888, "DE:GB": 984}

    body = post(client, {"asin": B})
    assert body["profile_in_force_version"] == body["profile_version"] == DEFAULT_IN_FORCE.version
    assert body["fx_eur_per_gbp"] == 1.17
    routes = by_route(body)
    assert set(routes) == {"DE:FR", "DE:GB"}
    for key, document in documents.items():
        route = routes[key]
        assert route["profit_eur_cents"] == document["profit_eur_cents"]
        assert route["breakdown"] == document["breakdown"]
        assert (route["roi"], route["margin"]) == (document["roi"], document["margin"])
        assert route["estimates"] == document["estimates"]
        assert route["fee_category"] == document["fee_category"]
        assert route["profile_version"] == document["profile_version"]
        assert route["is_opportunity"] is True
    # FR and GB have no buy price (buy boxes only): said, not dropped.
    assert {(u["route"], u["reason"]) for u in body["unpriced"]} == {
        ("FR:DE", "no_buy_price"),
        ("FR:GB", "no_buy_price"),
        ("GB:DE", "no_buy_price"),
        ("GB:FR", "no_buy_price"),
    }


def test_an_override_gives_a_hand_computed_profit(client: TestClient) -> None:
    """Registered for VAT nowhere: the VAT on Amazon's fees becomes a cost.
    DE:FR 20 % x (750 + 32 + 300 + 6 storage) = 217.6 -> 218; 888 - 218 = 670.
    DE:GB in pence: 20 % x (750 + 20 + 250 + 5 storage) = 205 p x 1.17 = 239.85 -> 240 c;
    984 - 240 = 744.
    Nothing is published: the profile in force is still the default."""
    body = post(client, {"asin": B, "profile": {"vat_registered_in": []}})
    routes = by_route(body)
    assert routes["DE:FR"]["profit_eur_cents"] == 670
    assert routes["DE:GB"]["profit_eur_cents"] == 744
    fee_vat = [line for line in routes["DE:GB"]["breakdown"]["lines"] if line["kind"] == "fee_vat"]
    assert [(f["amount_minor"], f["currency"], f["eur_cents"], f["is_cost"]) for f in fee_vat] == [
        (205, "GBP", 240, True)
    ]
    assert body["profile_in_force_version"] == DEFAULT_IN_FORCE.version
    assert body["profile_version"] != DEFAULT_IN_FORCE.version
    assert client.get("/profile").json()["published"] is False


def test_the_profile_in_force_is_read_from_its_topic(client: TestClient) -> None:
    """A profile published with PUT /profile (prep EUR 0.40, minimum profit EUR 9.00) is the
    one a quote starts from: DE:FR 888 - 40 = 848 < 900, not an opportunity; DE:GB
    984 - 40 = 944 is. An override on top of it (prep 0) gives 888 again."""
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    asyncio.run(_create_profile_topic(settings))
    profile = {"prep_eur_cents": 40, "thresholds": {"min_profit_eur_cents": 900}}
    put = client.put("/profile", json={"profile": profile, "updated_by": "whatif"}, headers=AUTH)
    assert put.status_code == 200, put.text

    body = post(client, {"asin": B})
    assert body["profile_in_force_version"] == body["profile_version"] == put.json()["version"]
    routes = by_route(body)
    assert routes["DE:FR"]["profit_eur_cents"] == 848
    assert routes["DE:FR"]["failed_thresholds"] == ["min_profit"]
    assert routes["DE:GB"]["profit_eur_cents"] == 944
    assert routes["DE:GB"]["is_opportunity"] is True

    back = by_route(post(client, {"asin": B, "profile": {"prep_eur_cents": 0}}))
    assert back["DE:FR"]["profit_eur_cents"] == 888
    assert back["DE:FR"]["failed_thresholds"] == ["min_profit"]  # 888 < 900 still


def test_an_unknown_asin_is_a_404(client: TestClient) -> None:
    response = client.post("/profit/quote", json={"asin": "B0NOTSEEN0"})
    assert response.status_code == 404, response.text


@pytest.fixture(scope="module")
def api_url(client: TestClient) -> Iterator[str]:
    """The same API served over HTTP by uvicorn (as `arbitrage api` serves it)."""
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_the_dashboard_client_asks_the_real_api(api_url: str) -> None:
    """What the "my costs" panel sends: registered in DE only, prep 0, minimum profit 5.00,
    FR merchant-fulfilled with EUR 4.50 own shipping, over whatever profile is in force:
    no FBA line (and no DSF on it: 3 % x 750 = 22.5 -> 23), the FR VAT on the fees a cost
    (20 % x (750 + 23) = 154.6 -> 155); 4167 - 750 - 450 - 23 - 155 - 510 - 1681 = 598."""
    costs = MyCosts((Market.DE,), "mfn", 450, 0, 500)
    with ApiClient(api_url, timeout_s=10) as dashboard:
        in_force = dashboard.profile()
        answer = dashboard.profit_quote(profit_quote_body(B, costs, Market.FR))
        assert answer is not None
        assert answer.profile_in_force_version == in_force.version
        route = quoted_route_of(answer, "DE:FR")
        assert not isinstance(route, str), route
        assert route.profit_eur_cents == 598
        assert route.is_opportunity
        assert dashboard.profit_quote({"asin": "B0NOTSEEN0"}) is None
        refused = MyCosts((Market.DE,), "efn", None, 0, 500)  # EFN into the home market
        with pytest.raises(ApiError, match=r"fulfilment\.DE\.mode"):
            dashboard.profit_quote(profit_quote_body(B, refused, Market.DE))
