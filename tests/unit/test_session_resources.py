"""The names a test session gives its topics and indices, and what its cleanup may match."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings
from devtools.isolation import isolated_settings
from tests.session_resources import SESSION_PREFIX, Owned, resource_name

CONTRACT_TOPICS = (
    "keepa.products",
    "keepa.products.dlq",
    "arbitrage.opportunities",
    "arbitrage.observations",
    "arbitrage.sink.dlq",
    "fx.rates",
)
CONTRACT_INDICES = ("opportunities", "products", "price-history", "watchlist", "ingest-runs")


def faust_internal(app_id: str) -> list[str]:
    """Faust's internal topics of an app: table changelogs and the assignor's leader topic."""
    tables = ("quotes", "open-opportunities", "fx-rates")
    return [f"{app_id}-{t}-changelog" for t in tables] + [f"{app_id}-__assignor-__leader"]


def names_of(s: Settings) -> tuple[list[str], list[str]]:
    topics = [s.topic(t) for t in CONTRACT_TOPICS] + faust_internal(s.faust_app_id)
    return topics, [s.index(i) for i in CONTRACT_INDICES]


def test_names_carry_the_session_prefix_and_are_unique() -> None:
    a, b = resource_name("topo"), resource_name("topo")
    assert a != b
    assert a.startswith(f"{SESSION_PREFIX}topo-")
    assert SESSION_PREFIX.startswith("pytest-")
    assert SESSION_PREFIX.endswith("-")
    with pytest.raises(ValueError, match="lower-case"):
        resource_name("Upper")  # index names are lower case


def test_the_developers_own_topics_and_indices_are_never_matched() -> None:
    developer = Settings(topic_prefix="", elasticsearch_index_prefix="", faust_app_id="arbitrage")
    topics, indices = names_of(developer)
    assert Owned.session().topics(topics) == []
    assert Owned.session().indices(indices) == []
    with pytest.raises(ValueError, match="not under this session's prefix"):
        Owned.of(developer)
    with pytest.raises(ValueError, match=r"'keepa\.'"):
        Owned(("keepa.",), ())
    with pytest.raises(ValueError, match="refusing"):
        Owned.indices_under("")


def test_a_workers_names_are_matched_and_its_neighbours_are_not(tmp_path: Path) -> None:
    name = resource_name("run")
    run = isolated_settings(Settings(), name, tmp_path)
    sibling = isolated_settings(Settings(), f"{name}x", tmp_path)  # same start, another run
    other_session = isolated_settings(Settings(), f"pytest-00000000-run-{name[-8:]}", tmp_path)
    topics, indices = names_of(run)
    others = [names_of(s) for s in (sibling, other_session)]
    other_topics = [t for ts, _ in others for t in ts]
    other_indices = [i for _, is_ in others for i in is_]

    owned = Owned.of(run)
    assert owned.topics(topics + other_topics) == sorted(topics)
    assert owned.indices(indices + other_indices) == sorted(indices)
    session = Owned.session()  # the session's cleanup takes the run and its sibling
    assert session.topics(topics + other_topics) == sorted(topics + names_of(sibling)[0])
    assert session.indices(indices + other_indices) == sorted(indices + names_of(sibling)[1])
