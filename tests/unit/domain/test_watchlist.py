"""The watchlist's entry rules (what every way onto the watchlist applies)."""

from datetime import UTC, datetime

import pytest

from app.domain.watchlist import (
    DEFAULT_MARKETS,
    MAX_PRIORITY,
    WatchlistEntry,
    check_priority,
    merge_entries,
    normalise_entries,
    normalise_markets,
)

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_defaults() -> None:
    entry = WatchlistEntry("B000000001")
    assert DEFAULT_MARKETS == ("DE", "FR", "IT", "ES", "GB")
    assert (entry.markets, entry.priority, entry.source, entry.note, entry.added_at) == (
        ("DE", "FR", "IT", "ES", "GB"), 0, "manual", None, None,
    )  # fmt: skip
    assert MAX_PRIORITY == 10


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("DE|FR", ("DE", "FR")),
        ("gb de", ("DE", "GB")),
        ("FR,DE;FR", ("DE", "FR")),
        ("uk", ("GB",)),
        ("", ("DE", "FR", "IT", "ES", "GB")),
        ([], ("DE", "FR", "IT", "ES", "GB")),
        (["it", "ES"], ("IT", "ES")),
        ((" GB ", "de", "DE"), ("DE", "GB")),
    ],
)
def test_normalise_markets(value: str | list[str], expected: tuple[str, ...]) -> None:
    assert normalise_markets(value) == expected


def test_normalise_markets_rejects_unknown() -> None:
    with pytest.raises(ValueError, match=r"unknown market US, XX \(expected DE\|FR\|IT\|ES\|GB\)"):
        normalise_markets("DE|us|xx")


@pytest.mark.parametrize("value", [0, 5, 10])
def test_priorities(value: int) -> None:
    assert check_priority(value) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [(-1, "outside 0-10"), (11, "outside 0-10"), (True, "not an integer"), ("3", "not an integer")],
)
def test_bad_priorities(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_priority(value)  # type: ignore[arg-type]


def test_normalised_entry() -> None:
    entry = WatchlistEntry(" b000000001 ", ("gb", "de", "GB"), 3, "api", "n", T0)
    assert entry.normalised() == WatchlistEntry("B000000001", ("DE", "GB"), 3, "api", "n", T0)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (WatchlistEntry("NOPE"), "invalid ASIN 'NOPE'"),
        (WatchlistEntry("B000000001", ("DE", "US")), "unknown market US"),
        (WatchlistEntry("B000000001", priority=11), "priority 11 is outside 0-10"),
    ],
)
def test_normalised_refuses_broken_rules(entry: WatchlistEntry, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        entry.normalised()


def test_merge_takes_union_of_markets_higher_priority_and_first_note() -> None:
    first = WatchlistEntry("B000000001", ("FR",), 2, "import", None, T0)
    again = WatchlistEntry("B000000001", ("DE", "FR"), 5, "manual", "later note")
    assert merge_entries(first, again) == WatchlistEntry(
        "B000000001", ("DE", "FR"), 5, "import", "later note", T0
    )
    noted = WatchlistEntry("B000000001", ("GB",), 0, "import", "first note")
    assert merge_entries(noted, again).note == "first note"


def test_normalise_entries_keys_by_asin_and_merges_repeats() -> None:
    wanted = normalise_entries(
        [
            WatchlistEntry("b000000002", ("IT",), 1),
            WatchlistEntry("B000000001", ("DE",), 0),
            WatchlistEntry(" B000000002", ("ES",), 4),
        ]
    )
    assert wanted == {
        "B000000002": WatchlistEntry("B000000002", ("IT", "ES"), 4),
        "B000000001": WatchlistEntry("B000000001", ("DE",), 0),
    }


def test_normalise_entries_refuses_any_broken_entry() -> None:
    with pytest.raises(ValueError, match="invalid ASIN"):
        normalise_entries([WatchlistEntry("B000000001"), WatchlistEntry("B-1")])
