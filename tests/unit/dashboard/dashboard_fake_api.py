"""A tiny fake of the REST API for dashboard tests: a real HTTP server on a thread, serving
bodies built from the API's own response models, and recording what it was asked."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import orjson
from pydantic import BaseModel

from app.api.models import (
    Breakdown,
    BreakdownLine,
    Counts,
    HistoryPoint,
    KeepaUsage,
    MarketFreshness,
    OpportunityDetail,
    OpportunityPage,
    OpportunityRoute,
    PriceHistory,
    ProfileView,
    ProfitQuote,
    QuotedRoute,
    StatsResponse,
)
from app.domain.markets import Market
from app.domain.profile import DEFAULT_PROFILE, SellerProfile, profile_to_mapping

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def route(
    asin: str,
    buy: Market = Market.DE,
    sell: Market = Market.FR,
    *,
    buy_cents: int = 2000,
    sell_cents: int = 4800,
    title: str | None = "Acme Water Bottle 750 ml",
    age_seconds: int = 3600,
    state: Literal["open", "closed"] = "open",
    fba_cents: int = 350,
    shipping_cents: int = 420,
    dsf_cents: int = 0,
    estimates: tuple[str, ...] = (),
) -> OpportunityRoute:
    """A route whose numbers add up like the worker's (VAT-registered seller: purchase VAT
    and VAT on fees shown, not deducted; a line of 0 is left out, as the worker does)."""
    net_sell = round(sell_cents / (1 + float(sell.vat_rate)))
    net_buy = round(buy_cents / (1 + float(buy.vat_rate)))
    referral = round(sell_cents * 0.15)
    profit = net_sell - referral - fba_cents - dsf_cents - shipping_cents - net_buy
    fee_vat = round((referral + fba_cents + dsf_cents) * float(sell.vat_rate))

    def line(kind: str, cents: int, *, cost: bool = True, note: str = "") -> BreakdownLine:
        return BreakdownLine(
            kind=kind, amount_minor=cents, currency="EUR", eur_cents=cents, is_cost=cost, note=note
        )

    lines = [
        line("sales_vat", sell_cents - net_sell, cost=False),
        line("purchase_vat", buy_cents - net_buy, cost=False, note="recovered"),
        line("referral", referral),
        line("fba", fba_cents),
        line("digital_services_fee", dsf_cents),
        line("fee_vat", fee_vat, cost=False, note="reverse charge (registered), shown only"),
        line("inbound_shipping", shipping_cents),
    ]
    breakdown = Breakdown(
        fees_on=(NOW - timedelta(seconds=age_seconds)).date(),
        net_sell_eur_cents=net_sell,
        net_buy_eur_cents=net_buy,
        sell_vat_rate=float(sell.vat_rate),
        buy_vat_rate=float(buy.vat_rate),
        total_costs_eur_cents=referral + fba_cents + dsf_cents + shipping_cents,
        investment_eur_cents=net_buy + shipping_cents,
        lines=[x for x in lines if x.eur_cents],
    )
    first_seen = NOW - timedelta(seconds=age_seconds)
    return OpportunityRoute(
        asin=asin,
        route=f"{buy.value}:{sell.value}",
        state=state,
        last_event="opened",
        title=title,
        image_url=f"https://m.media-amazon.com/images/I/{asin}.jpg",
        buy_market=buy,
        sell_market=sell,
        buy_url=buy.product_url(asin),
        sell_url=sell.product_url(asin),
        buy_currency=buy.currency.value,
        sell_currency=sell.currency.value,
        buy_price_minor=buy_cents,
        sell_price_minor=sell_cents,
        buy_price_eur_cents=buy_cents,
        sell_price_eur_cents=sell_cents,
        profit_eur_cents=profit,
        roi=round(profit / (net_buy + shipping_cents), 4),
        margin=round(profit / net_sell, 4),
        breakdown=breakdown,
        fee_category="default",
        estimates=list(estimates),
        profile_version="v-test",
        first_seen=first_seen,
        last_seen=NOW,
        age_seconds=age_seconds,
        sales_rank=1234,
        category=3167641,
        amazon_sells_in_target=False,
    )


def page(items: list[OpportunityRoute], total: int | None = None) -> OpportunityPage:
    ordered = sorted(items, key=lambda r: -r.profit_eur_cents)
    return OpportunityPage(
        total=len(items) if total is None else total,
        total_routes=len(items) if total is None else total,
        total_exact=True,
        page=1,
        page_size=200,
        pages=1,
        best_per_asin=True,
        sort="profit",
        order="desc",
        items=ordered,
        generated_at=NOW,
    )


def stats(products: int = 50, open_opportunities: int = 3, age_seconds: int = 90) -> StatsResponse:
    freshness = [
        MarketFreshness(
            market=m.value,
            products=products // 5,
            newest_observed_at=NOW - timedelta(seconds=age_seconds) if products else None,
            age_seconds=age_seconds if products else None,
        )
        for m in Market
    ]
    return StatsResponse(
        counts=Counts(
            open_opportunities=open_opportunities,
            opportunities=open_opportunities,
            products=products,
            price_history=products * 10,
            watchlist=0,
        ),
        freshness=freshness,
        keepa=KeepaUsage(available=False),
        generated_at=NOW,
    )


def detail(asin: str, routes: list[OpportunityRoute]) -> OpportunityDetail:
    return OpportunityDetail(
        asin=asin,
        title=routes[0].title if routes else None,
        image_url=routes[0].image_url if routes else None,
        open_routes=sum(r.state == "open" for r in routes),
        routes=routes,
        generated_at=NOW,
    )


def history(asin: str, hours: int = 6) -> PriceHistory:
    points = [
        HistoryPoint(
            market=m,
            currency=m.currency.value,
            observed_at=NOW - timedelta(hours=hours - h),
            buy_price_eur_cents=2000 + 100 * i + 10 * h,
            sell_price_eur_cents=2100 + 100 * i + 10 * h,
        )
        for h in range(hours)
        for i, m in enumerate(Market)
    ]
    return PriceHistory(asin=asin, total=len(points), truncated=False, points=points)


def profile_view(profile: SellerProfile = DEFAULT_PROFILE) -> ProfileView:
    """``GET /profile`` with ``profile`` in force."""
    return ProfileView(profile=profile_to_mapping(profile), version="v-test", published=False)


def quoted(route: OpportunityRoute, *, fee_vat_cost: bool = False) -> ProfitQuote:
    """``POST /profit/quote``'s answer for ``route`` alone: the same breakdown, with the VAT on
    fees a cost when ``fee_vat_cost`` (a seller not registered in the sell market)."""
    assert route.breakdown is not None
    lines = [
        line.model_copy(update={"is_cost": True})
        if fee_vat_cost and line.kind == "fee_vat"
        else line
        for line in route.breakdown.lines
    ]
    costs = sum(line.eur_cents for line in lines if line.is_cost)
    b = route.breakdown.model_copy(update={"lines": lines, "total_costs_eur_cents": costs})
    profit = b.net_sell_eur_cents - costs - b.net_buy_eur_cents
    quoted_route = QuotedRoute(
        route=route.route,
        buy_market=route.buy_market,
        sell_market=route.sell_market,
        buy_currency=route.buy_currency,
        sell_currency=route.sell_currency,
        buy_price_minor=route.buy_price_minor,
        sell_price_minor=route.sell_price_minor,
        buy_price_eur_cents=route.buy_price_eur_cents,
        sell_price_eur_cents=route.sell_price_eur_cents,
        profit_eur_cents=profit,
        roi=round(profit / b.investment_eur_cents, 4),
        margin=round(profit / b.net_sell_eur_cents, 4),
        is_opportunity=profit >= 500,
        failed_thresholds=[] if profit >= 500 else ["min_profit"],
        fee_category="default",
        estimates=[],
        profile_version="v-whatif",
        fx_eur_per_gbp=1.17,
        breakdown=b,
        buy_observed_at=route.last_seen,
        sell_observed_at=route.last_seen,
    )
    return ProfitQuote(
        asin=route.asin,
        title=route.title,
        source="stored_quotes",
        profile=profile_to_mapping(DEFAULT_PROFILE),
        profile_version="v-whatif",
        profile_in_force_version="v-test",
        fx_eur_per_gbp=1.17,
        fx_as_of=NOW,
        routes=[quoted_route],
        generated_at=NOW,
    )


@dataclass
class FakeApi:
    """Routes: path -> (status, body). Every request is recorded as (path, query dict), the
    body of every POST as (path, JSON)."""

    routes: dict[str, tuple[int, Any]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    posts: list[tuple[str, Any]] = field(default_factory=list)
    url: str = ""

    def set(self, path: str, body: BaseModel | dict[str, Any], status: int = 200) -> None:
        payload = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
        self.routes[path] = (status, payload)

    def queries(self, path: str) -> list[dict[str, list[str]]]:
        return [q for p, q in self.requests if p == path]


@contextmanager
def serve(api: FakeApi) -> Iterator[FakeApi]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            api.requests.append((parts.path, parse_qs(parts.query, keep_blank_values=True)))
            self._answer(parts.path)

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            length = int(self.headers.get("Content-Length") or 0)
            api.posts.append((path, orjson.loads(self.rfile.read(length))))
            self._answer(path)

        def _answer(self, path: str) -> None:
            status, body = api.routes.get(path, (404, {"detail": "not found"}))
            data = orjson.dumps(body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
