"""The synthetic Keepa sample: determinism, Keepa's product format, and the price model."""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import keepa
import msgspec
import orjson
import pytest
from keepa.models.backend import Product

from app.contracts.keepa_products import ENVELOPE
from app.domain.keepa_prices import CSV_LENGTH, PriceType
from app.domain.keepa_time import to_keepa_minutes
from app.domain.markets import Market
from app.domain.policy import DEFAULT_SPIKE_SHARE
from app.domain.signals import market_signals
from devtools.sample import MarketSimulator, SampleConfig, generate_sample, write_jsonl
from devtools.sample.generator import TRACKED_TYPES

START = datetime(2025, 3, 1, tzinfo=UTC)
N_ASINS = 60
STEPS = 24
STEP_MINUTES = 60
FX = 1.17
PRICE_TYPES = (
    PriceType.AMAZON,
    PriceType.NEW,
    PriceType.NEW_FBM_SHIPPING,
    PriceType.NEW_FBA,
    PriceType.BUY_BOX_SHIPPING,
)
ASIN_RE = re.compile(r"^B0[A-Z0-9]{8}$")

#: A ``keepa.products`` message as its JSON values (what a consumer of the JSONL file reads).
Envelope = dict[str, Any]


@pytest.fixture(scope="module")
def envelopes() -> list[Envelope]:
    sample = generate_sample(N_ASINS, seed=11, start=START, steps=STEPS, step_minutes=STEP_MINUTES)
    return [msgspec.to_builtins(e) for e in sample]


def points(product: dict[str, Any], csv_type: PriceType) -> list[list[int]]:
    history = product["csv"][csv_type] or []
    stride = csv_type.stride
    return [history[i : i + stride] for i in range(0, len(history), stride)]


def eur(envelope: Envelope, csv_type: PriceType) -> float:
    """Current price of an envelope in EUR cents (GB converted at ~1.17)."""
    value = envelope["product"]["stats"]["current"][csv_type]
    return float(value) * FX if envelope["domain"] == "GB" else float(value)


# --- determinism -----------------------------------------------------------------------


def test_same_arguments_give_identical_bytes(tmp_path: Path) -> None:
    def write(name: str, seed: int) -> bytes:
        path = tmp_path / name
        count = write_jsonl(
            generate_sample(8, seed=seed, start=START, steps=4, step_minutes=30), path
        )
        assert count == 8 * 5 * 4
        return path.read_bytes()

    first = write("a.jsonl", seed=5)
    assert write("b.jsonl", seed=5) == first
    assert write("c.jsonl", seed=6) != first
    lines = first.splitlines()
    assert len(lines) == 160
    assert all(orjson.loads(line)["product"]["title"] for line in lines)


def test_output_does_not_depend_on_the_process_hash_seed() -> None:
    code = (
        "import hashlib, datetime as d;"
        "from app.contracts.keepa_products import ENVELOPE;"
        "from devtools.sample import generate_sample;"
        "s = generate_sample(4, seed=9, start=d.datetime(2025, 3, 1, tzinfo=d.UTC),"
        " steps=3, step_minutes=60);"
        "print(hashlib.sha256(b''.join(ENVELOPE.encode(e) for e in s)).hexdigest())"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        digests.add(out.stdout.strip())
    local = generate_sample(4, seed=9, start=START, steps=3, step_minutes=60)
    digests.add(hashlib.sha256(b"".join(ENVELOPE.encode(e) for e in local)).hexdigest())
    assert len(digests) == 1


def test_simulator_answers_do_not_depend_on_query_order() -> None:
    end = START + timedelta(days=1)
    a = MarketSimulator(20, seed=3, start=START, end=end)
    b = MarketSimulator(20, seed=3, start=START, end=end)
    t = START + timedelta(hours=7, minutes=13)
    late = a.asins[17]
    first_a = a.envelope_at(late, "IT", t)  # a builds ASIN 17 first, b builds all first
    all_b = {asin: b.envelope_at(asin, "IT", t) for asin in b.asins}
    assert ENVELOPE.encode(first_a) == ENVELOPE.encode(all_b[late])


# --- shape -----------------------------------------------------------------------------


def test_envelope_and_product_shape(envelopes: list[Envelope]) -> None:
    assert len(envelopes) == N_ASINS * 5 * STEPS
    for envelope in envelopes:
        assert set(envelope) == {"schema_version", "domain", "fetched_at", "product"}
        assert envelope["schema_version"] == 1
        market = envelope["domain"]
        product = envelope["product"]
        assert product["domainId"] == Market(market).keepa_domain_id
        assert ASIN_RE.match(product["asin"])
        assert product["title"].startswith("[SYNTHETIC] ")
        assert len(product["title"]) > len("[SYNTHETIC] ") + 15
        assert product["lastUpdate"] == to_keepa_minutes(
            datetime.fromisoformat(envelope["fetched_at"])
        )
        for key in ("packageWeight", "packageLength", "packageWidth", "packageHeight"):
            assert isinstance(product[key], int)
            assert product[key] > 0
        assert product["packageLength"] >= product["packageWidth"] >= product["packageHeight"]
        assert isinstance(product["rootCategory"], int)
        assert product["categoryTree"][0]["catId"] == product["rootCategory"]
        assert all(isinstance(e["name"], str) for e in product["categoryTree"])
        assert all(name.endswith(".jpg") for name in product["imagesCSV"].split(","))
        assert product["availabilityAmazon"] == (
            0 if product["stats"]["current"][PriceType.AMAZON] > 0 else -1
        )
        for category, ranks in product["salesRanks"].items():
            assert category.isdigit()
            assert len(ranks) % 2 == 0
        if "fbaFees" in product:
            assert product["fbaFees"]["pickAndPackFee"] > 0
        if "referralFeePercentage" in product:
            assert product["referralFeePercentage"] in (7.0, 12.0, 15.0)


def test_optional_fee_fields_are_sometimes_missing(envelopes: list[Envelope]) -> None:
    listings = {(e["product"]["asin"], e["domain"]): e["product"] for e in envelopes}
    for key in ("fbaFees", "referralFeePercentage"):
        missing = sum(key not in p for p in listings.values())
        assert 0 < missing < len(listings) / 3, key


def test_csv_histories_are_keepa_pairs_and_triples(envelopes: list[Envelope]) -> None:
    for envelope in envelopes:
        product = envelope["product"]
        csv = product["csv"]
        stats = product["stats"]
        assert len(csv) == CSV_LENGTH
        assert len(stats["current"]) >= 19
        assert len(stats["avg90"]) == len(stats["current"])
        for csv_type in PriceType:
            if csv_type not in TRACKED_TYPES:
                assert csv[csv_type] is None
                assert stats["current"][csv_type] == -1
        for csv_type in (
            PriceType.NEW,
            PriceType.SALES,
            PriceType.NEW_FBA,
            PriceType.BUY_BOX_SHIPPING,
        ):
            assert csv[csv_type], csv_type
        for csv_type in TRACKED_TYPES:
            history = csv[csv_type]
            if history is None:
                continue
            assert len(history) % csv_type.stride == 0
            pts = points(product, csv_type)
            times = [p[0] for p in pts]
            assert times == sorted(set(times)), "strictly increasing Keepa minutes"
            assert times[-1] <= product["lastUpdate"]
            assert all(isinstance(v, int) for v in history)
            last = pts[-1]
            current = last[1] + last[2] if csv_type.has_shipping and last[1] > 0 else last[1]
            assert stats["current"][csv_type] == current
            if stats["current"][csv_type] > 0:
                assert stats["avg90"][csv_type] > 0


def test_prices_are_positive_integers(envelopes: list[Envelope]) -> None:
    for envelope in envelopes:
        product = envelope["product"]
        for csv_type in PRICE_TYPES:
            for point in points(product, csv_type):
                price = point[1]
                assert isinstance(price, int)
                assert price > 0 or price == -1  # -1: out of stock
                if csv_type.has_shipping:
                    assert point[2] >= 0
        current = product["stats"]["current"]
        for csv_type in (PriceType.NEW, PriceType.NEW_FBA, PriceType.BUY_BOX_SHIPPING):
            assert current[csv_type] > 0
        new_offers = [current[t] for t in (PriceType.AMAZON, PriceType.NEW_FBA) if current[t] > 0]
        assert current[PriceType.NEW] <= min(new_offers)


def test_gb_prices_are_pence(envelopes: list[Envelope]) -> None:
    step0: dict[str, dict[str, int]] = defaultdict(dict)
    for envelope in envelopes[: N_ASINS * 5]:
        product = envelope["product"]
        step0[product["asin"]][envelope["domain"]] = product["stats"]["current"][PriceType.NEW]
    raw_ratio = statistics.median(
        p["GB"] / statistics.median(p[m] for m in ("DE", "FR", "IT", "ES")) for p in step0.values()
    )
    assert 0.78 < raw_ratio < 0.93  # GB numbers are smaller: pence, not cents
    assert 0.95 < raw_ratio * FX < 1.08  # ... and equal once converted at 1.17


def test_time_order_and_growing_histories(envelopes: list[Envelope]) -> None:
    fetched = [datetime.fromisoformat(e["fetched_at"]) for e in envelopes]
    assert fetched == sorted(fetched)
    assert fetched[0] == START
    assert fetched[-1] == START + timedelta(minutes=(STEPS - 1) * STEP_MINUTES)
    assert all(e["fetched_at"].endswith("Z") for e in envelopes)
    lengths: dict[tuple[str, str], list[int]] = defaultdict(list)
    for envelope in envelopes:
        product = envelope["product"]
        lengths[(product["asin"], envelope["domain"])].append(len(product["csv"][PriceType.NEW]))
    assert all(ls == sorted(ls) for ls in lengths.values())
    grew = sum(ls[-1] > ls[0] for ls in lengths.values())
    assert grew > len(lengths) / 2


# --- price model -----------------------------------------------------------------------


def test_some_but_not_most_asins_show_a_50_percent_spread(envelopes: list[Envelope]) -> None:
    by_step: dict[tuple[str, str], list[Envelope]] = defaultdict(list)
    for envelope in envelopes:
        by_step[(envelope["product"]["asin"], envelope["fetched_at"])].append(envelope)
    best: dict[str, float] = defaultdict(float)
    for (asin, _), group in by_step.items():
        for csv_type in (PriceType.NEW, PriceType.BUY_BOX_SHIPPING):
            prices = [eur(e, csv_type) for e in group]
            best[asin] = max(best[asin], max(prices) / min(prices))
    wide = {asin for asin, spread in best.items() if spread >= 1.5}
    assert 2 <= len(wide) <= 0.3 * N_ASINS
    # ordinary ASINs never come close
    simulator = MarketSimulator(N_ASINS, seed=11, start=START, end=START + timedelta(hours=STEPS))
    assert wide <= simulator.opportunity_asins
    ordinary = set(simulator.asins) - simulator.opportunity_asins
    assert max(best[a] for a in ordinary) < 1.45


def test_spread_episodes_open_and_close() -> None:
    end = START + timedelta(days=3)
    simulator = MarketSimulator(
        80, seed=2, start=START, end=end, config=SampleConfig(opportunity_fraction=0.2)
    )
    opportunities = simulator.opportunity_asins
    assert 0 < len(opportunities) < 40
    for asin in opportunities:
        episodes = simulator.episodes(asin)
        assert episodes
        for episode in episodes:
            assert START <= episode.opens_at < episode.closes_at <= end
            assert 1.45 <= episode.ratio <= 1.8
            middle = episode.opens_at + (episode.closes_at - episode.opens_at) / 2
            sell = simulator.true_price_eur(asin, episode.sell_market, middle)
            buy = simulator.true_price_eur(asin, episode.buy_market, middle)
            assert sell / buy == pytest.approx(episode.ratio, rel=0.03)
            after = episode.closes_at + timedelta(minutes=1)
            if after <= end and not any(e.opens_at <= after < e.closes_at for e in episodes):
                assert simulator.spread(asin, after) < 1.45  # closed again
        before = episodes[0].opens_at - timedelta(minutes=1)
        assert simulator.spread(asin, before) < 1.45
    for asin in set(simulator.asins) - opportunities:
        assert simulator.episodes(asin) == ()
        for hours in range(0, 72, 6):
            assert simulator.spread(asin, START + timedelta(hours=hours)) < 1.45


def test_true_prices_and_envelope_agree() -> None:
    simulator = MarketSimulator(5, seed=4, start=START, end=START + timedelta(days=1))
    t = START + timedelta(hours=5, minutes=30)
    for asin in simulator.asins:
        for market in simulator.markets:
            envelope = simulator.envelope_at(asin, market, t)
            assert envelope.domain == market
            assert envelope.fetched_at == t
            fba = envelope.product["stats"]["current"][PriceType.NEW_FBA]
            assert fba == pytest.approx(simulator.true_price(asin, market, t), rel=0.06)
            path = simulator.price_path(asin, market)
            assert path[0][0] == START - timedelta(days=30)
            assert [when for when, _ in path] == sorted(when for when, _ in path)


def test_simulator_rejects_bad_queries() -> None:
    simulator = MarketSimulator(3, seed=1, start=START, end=START + timedelta(hours=5))
    asin = simulator.asins[0]
    with pytest.raises(ValueError, match="outside the simulated span"):
        simulator.envelope_at(asin, "DE", START + timedelta(hours=6))
    with pytest.raises(ValueError, match="outside the simulated span"):
        simulator.envelope_at(asin, "DE", START - timedelta(days=31))
    with pytest.raises(ValueError, match="unknown ASIN"):
        simulator.envelope_at("B000000000", "DE", START)
    with pytest.raises(ValueError, match="unknown market"):
        simulator.envelope_at(asin, "US", START)
    with pytest.raises(ValueError, match="spread_ratio"):
        SampleConfig(spread_ratio=(0.9, 1.2))
    assert list(generate_sample(0, seed=1, start=START, steps=3, step_minutes=5)) == []
    assert list(generate_sample(3, seed=1, start=START, steps=0, step_minutes=5)) == []


def test_asins_are_unique_and_seeded() -> None:
    end = START + timedelta(hours=1)
    asins = MarketSimulator(500, seed=8, start=START, end=end).asins
    assert len(set(asins)) == 500
    assert all(ASIN_RE.match(a) for a in asins)
    assert MarketSimulator(500, seed=8, start=START, end=end).asins == asins
    assert MarketSimulator(500, seed=9, start=START, end=end).asins != asins


# --- agreement with the keepa package -----------------------------------------------------


def test_keepa_package_reads_generated_products(envelopes: list[Envelope]) -> None:
    for envelope in envelopes[-25:]:  # one step: 5 ASINs x 5 markets, longest histories
        product = envelope["product"]
        Product.model_validate(product)  # Keepa's own schema accepts it
        parsed = keepa.parse_csv(product["csv"], to_datetime=True)
        for csv_type in (PriceType.NEW, PriceType.NEW_FBA, PriceType.BUY_BOX_SHIPPING):
            current = product["stats"]["current"][csv_type]
            assert round(float(parsed[csv_type.name][-1]) * 100) == current
        assert int(parsed["SALES"][-1]) == product["stats"]["current"][PriceType.SALES]


# --- the fields the quality signals read (app/domain/signals.py) ----------------------------


def _listings(envelopes: list[Envelope]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every product of each (ASIN, market), in time order."""
    listings: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for envelope in envelopes:
        listings[(envelope["product"]["asin"], envelope["domain"])].append(envelope["product"])
    return listings


def test_new_offer_count_history_and_stats(envelopes: list[Envelope]) -> None:
    for envelope in envelopes:
        product = envelope["product"]
        stats = product["stats"]
        counts = points(product, PriceType.COUNT_NEW)
        assert counts
        # the offers of the price model (FBA, Amazon when in the history, FBM) are counted
        own = 1 + (product["csv"][PriceType.AMAZON] is not None)
        assert all(count >= own for _, count in counts)
        assert stats["current"][PriceType.COUNT_NEW] == counts[-1][1]
        assert min(c for _, c in counts) <= stats["avg90"][PriceType.COUNT_NEW]
        assert stats["avg90"][PriceType.COUNT_NEW] <= max(c for _, c in counts)
        # a count is not a price: lastPriceChange is the newest point of a price type
        price_times = [
            points(product, t)[-1][0]
            for t in TRACKED_TYPES
            if t not in (PriceType.SALES, PriceType.COUNT_NEW) and product["csv"][t]
        ]
        assert product["lastPriceChange"] == max(price_times)
    offers = {e["product"]["stats"]["current"][PriceType.COUNT_NEW] for e in envelopes}
    assert len(offers) > 10  # per market and ASIN, not one figure


def test_ninety_day_low_and_high_bracket_the_prices(envelopes: list[Envelope]) -> None:
    for envelope in envelopes[-N_ASINS * 5 :]:
        product = envelope["product"]
        stats = product["stats"]
        for csv_type in (PriceType.NEW, PriceType.NEW_FBA, PriceType.BUY_BOX_SHIPPING):
            low_at, low = stats["minInInterval"][csv_type]
            high_at, high = stats["maxInInterval"][csv_type]
            assert 0 < low <= stats["current"][csv_type] <= high
            assert low <= stats["avg90"][csv_type] <= high
            assert low_at <= product["lastUpdate"]
            assert high_at <= product["lastUpdate"]
            values = [
                p[1] + (p[2] if csv_type.has_shipping else 0) for p in points(product, csv_type)
            ]
            # the history is shorter than 90 days here: its extremes are the interval's
            assert (low, high) == (min(values), max(values))
        for csv_type in PriceType:
            if csv_type not in TRACKED_TYPES:
                assert stats["minInInterval"][csv_type] is None


def test_sales_rank_drops_follow_the_rank_history(envelopes: list[Envelope]) -> None:
    for envelope in envelopes:
        product = envelope["product"]
        stats = product["stats"]
        ranks = [rank for _, rank in points(product, PriceType.SALES)]
        decreases = sum(after < before for before, after in itertools.pairwise(ranks))
        # a sale-indicating drop is a drop of the history; the 90 days hold the 30
        assert 0 <= stats["salesRankDrops30"] <= stats["salesRankDrops90"] <= decreases
    last = envelopes[-N_ASINS * 5 :]
    by_rank = sorted(last, key=lambda e: e["product"]["stats"]["current"][PriceType.SALES])
    fast = [e["product"]["stats"]["salesRankDrops30"] for e in by_rank[: len(by_rank) // 4]]
    slow = [e["product"]["stats"]["salesRankDrops30"] for e in by_rank[-len(by_rank) // 4 :]]
    assert statistics.mean(fast) > 2 * statistics.mean(slow)  # a better rank sells more


def test_monthly_sold_only_on_part_of_the_listings(envelopes: list[Envelope]) -> None:
    listings = _listings(envelopes)
    with_it = {key: products for key, products in listings.items() if "monthlySold" in products[0]}
    assert 0 < len(with_it) < len(listings) / 2
    allowed = {50, *range(100, 1000, 100)}
    for products in with_it.values():
        sold = {p["monthlySold"] for p in products}
        assert len(sold) == 1  # a month's figure: constant over the sample
        (value,) = sold
        assert value in allowed or (value >= 1000 and value % 1000 == 0)
    for products in listings.values():
        assert all(("monthlySold" in p) == ("monthlySold" in products[0]) for p in products)


def test_buy_box_stats_give_amazon_its_share(envelopes: list[Envelope]) -> None:
    with_stats = 0
    amazon_share = 0
    for envelope in envelopes:
        product = envelope["product"]
        buy_box = product["stats"].get("buyBoxStats")
        if buy_box is None:
            continue
        with_stats += 1
        total = sum(entry["percentageWon"] for entry in buy_box.values())
        assert total == pytest.approx(100.0)
        amazon = buy_box.get(Market(envelope["domain"]).amazon_seller_id)
        if product["csv"][PriceType.AMAZON] is None:
            assert amazon is None  # never sold it: never held the buy box
        if amazon is not None:
            amazon_share += 1
            assert 0 < amazon["percentageWon"] <= 100
    assert 0.5 * len(envelopes) < with_stats < len(envelopes)  # absent on some, as in Keepa
    assert amazon_share > 0


def test_restriction_flags_on_a_few_products(envelopes: list[Envelope]) -> None:
    products = {e["product"]["asin"]: e["product"] for e in envelopes}
    for product in products.values():
        assert isinstance(product["isAdultProduct"], bool)
        assert isinstance(product["isHeatSensitive"], bool)
        if "hazardousMaterials" in product:
            assert product["hazardousMaterials"]
            assert all({"aspect", "value"} <= set(h) for h in product["hazardousMaterials"])
    flagged = [
        p
        for p in products.values()
        if p["isAdultProduct"] or p["isHeatSensitive"] or "hazardousMaterials" in p
    ]
    assert 0 < len(flagged) < len(products) / 4


def test_some_sell_prices_spike_above_their_90_day_average(envelopes: list[Envelope]) -> None:
    spiking = {
        (e["product"]["asin"], e["domain"])
        for e in envelopes
        if e["product"]["stats"]["current"][PriceType.BUY_BOX_SHIPPING]
        > 1.2 * e["product"]["stats"]["avg90"][PriceType.BUY_BOX_SHIPPING]
    }
    assert 0 < len(spiking) < N_ASINS * 5 / 10
    simulator = MarketSimulator(N_ASINS, seed=11, start=START, end=START + timedelta(hours=STEPS))
    assert {asin for asin, _ in spiking} <= simulator.opportunity_asins  # the episodes' spikes


def test_signals_read_the_sample(envelopes: list[Envelope]) -> None:
    """What app/domain/signals.py makes of the sample: every signal known on some listing."""
    seen: dict[str, set[object]] = defaultdict(set)
    for envelope in envelopes[-N_ASINS * 5 :]:
        signals = market_signals(
            envelope["product"],
            Market(envelope["domain"]),
            PriceType.BUY_BOX_SHIPPING,
            spike_share=DEFAULT_SPIKE_SHARE,
        )
        seen["spike"].add(signals.stability.spike)
        seen["low_90"].add(signals.stability.low_90 is not None)
        seen["method"].add(signals.demand.estimate_method)
        seen["offers"].add(signals.competition.new_offer_count is not None)
        seen["share"].add(signals.competition.amazon_buy_box_share is None)
        seen["restricted"].add(signals.restrictions.restricted)
    assert seen["spike"] == {False, True}
    assert seen["low_90"] == {True}
    assert seen["method"] == {"monthly_sold", "sales_rank_drops_30"}
    assert seen["offers"] == {True}
    assert seen["share"] == {False, True}
    assert seen["restricted"] == {None, True}
