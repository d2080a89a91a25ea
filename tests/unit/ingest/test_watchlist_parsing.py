"""Parsing of watchlist files (plain text and CSV)."""

from __future__ import annotations

from app.domain.watchlist import DEFAULT_MARKETS, WatchlistEntry
from app.ingest.watchlist import LineError, parse_watchlist, parse_watchlist_report


def test_plain_text_with_comments_blank_lines_and_lower_case() -> None:
    text = "# my list\nB000000001\n\n  b000000002  \nB000000003  # inline comment\n"
    entries, errors = parse_watchlist(text)
    assert errors == []
    assert [e.asin for e in entries] == ["B000000001", "B000000002", "B000000003"]
    assert all(e.markets == DEFAULT_MARKETS and e.priority == 0 for e in entries)
    assert all(e.source == "import" for e in entries)


def test_bad_lines_are_reported_with_line_numbers_and_good_ones_kept() -> None:
    text = "B000000001\nB00000001\nB0000000012\nB00000000!\nB000000002\nB000000003 B000000004\n"
    entries, errors = parse_watchlist(text)
    assert [e.asin for e in entries] == ["B000000001", "B000000002"]
    assert [(e.line, e.text) for e in errors] == [
        (2, "B00000001"),
        (3, "B0000000012"),
        (4, "B00000000!"),
        (6, "B000000003 B000000004"),
    ]
    assert "10 characters" in errors[0].reason
    assert errors[3].reason == "expected one ASIN per line"


def test_csv_with_markets_priority_and_note() -> None:
    text = (
        "asin,markets,priority,note\n"
        "B000000001,DE|FR,3,headphones\n"
        "B000000002,gb it,,\n"
        'B000000003,,10,"note, with comma"\n'
    )
    entries, errors = parse_watchlist(text)
    assert errors == []
    assert entries == [
        WatchlistEntry("B000000001", ("DE", "FR"), 3, "import", "headphones"),
        WatchlistEntry("B000000002", ("IT", "GB"), 0, "import", None),
        WatchlistEntry("B000000003", DEFAULT_MARKETS, 10, "import", "note, with comma"),
    ]


def test_csv_semicolon_header_case_and_extra_columns() -> None:
    text = "Title;ASIN;Priority\nSomething;B000000001;2\n"
    entries, errors = parse_watchlist(text)
    assert errors == []
    assert entries == [WatchlistEntry("B000000001", DEFAULT_MARKETS, 2, "import")]


def test_csv_errors_have_line_numbers() -> None:
    text = (
        "# exported list\n"
        "asin,markets,priority\n"
        "B000000001,DE,1\n"
        "B00000000X1,DE,1\n"
        "B000000002,XX,1\n"
        "B000000003,DE,high\n"
        "B000000004,DE,11\n"
        ",DE,1\n"
        "B000000005,DE,1,extra\n"
        "\n"
        "B000000006\n"
    )
    entries, errors = parse_watchlist(text)
    assert [e.asin for e in entries] == ["B000000001", "B000000006"]
    assert [e.line for e in errors] == [4, 5, 6, 7, 8, 9]
    reasons = [e.reason for e in errors]
    assert "invalid ASIN" in reasons[0]
    assert "unknown market XX" in reasons[1]
    assert "not an integer" in reasons[2]
    assert "outside 0-10" in reasons[3]
    assert reasons[4] == "missing ASIN"
    assert "4 fields" in reasons[5]


def test_header_only_asin_column_is_csv() -> None:
    entries, errors = parse_watchlist("asin\nB000000001\n")
    assert (entries[0].asin, errors) == ("B000000001", [])


def test_duplicates_merge_and_are_warnings_not_errors() -> None:
    text = "asin,markets,priority\nB000000001,DE,1\nB000000002,FR,0\nb000000001,GB,4\n"
    result = parse_watchlist_report(text)
    assert result.errors == []
    assert result.entries == [
        WatchlistEntry("B000000001", ("DE", "GB"), 4, "import"),
        WatchlistEntry("B000000002", ("FR",), 0, "import"),
    ]
    assert result.warnings == [
        LineError(4, "b000000001,GB,4", "duplicate of line 2; merged"),
    ]


def test_empty_and_comment_only_files() -> None:
    assert parse_watchlist("") == ([], [])
    assert parse_watchlist("# nothing\n\n") == ([], [])
    assert parse_watchlist("\ufeffB000000001\n")[0][0].asin == "B000000001"
