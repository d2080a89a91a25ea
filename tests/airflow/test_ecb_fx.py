"""ECB daily reference rates -> the fx.rates message (pure parsing in app.ingest.fx)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import msgspec
import orjson
import pytest

from app.contracts.fx_rates import rate_from_message
from app.domain.fx import FxRates
from app.ingest.fx import (
    FX_KEY_GBP,
    EcbRatesError,
    eur_per_gbp,
    fx_message,
    fx_value,
    parse_ecb_daily,
)

SAMPLE = (Path(__file__).parent / "data" / "eurofxref-daily.xml").read_bytes()
NOW = datetime(2025, 3, 14, 17, 0, tzinfo=UTC)


def _document(day: str = "2025-03-14", cubes: str = "<Cube currency='GBP' rate='0.84035'/>") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
        'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">'
        "<gesmes:subject>Reference rates</gesmes:subject>"
        f"<Cube><Cube time='{day}'>{cubes}</Cube></Cube></gesmes:Envelope>"
    )


def test_parses_the_daily_document() -> None:
    rates = parse_ecb_daily(SAMPLE)
    assert rates.day == date(2025, 3, 14)
    assert len(rates.per_eur) == 30
    assert rates.per_eur["GBP"] == Decimal("0.84035")
    assert rates.per_eur["USD"] == Decimal("1.0879")
    assert rates.as_of == datetime(2025, 3, 14, 16, 0, tzinfo=UTC)


def test_eur_per_gbp_is_the_inverse_rounded_to_six_places() -> None:
    assert eur_per_gbp(parse_ecb_daily(SAMPLE)) == Decimal("1.189980")
    # 1 / 0.8 = 1.25 exactly; 1 / 0.85 = 1.17647058... -> 1.176471 (half-up)
    assert eur_per_gbp(parse_ecb_daily(_document(cubes="<Cube currency='GBP' rate='0.8'/>"))) == (
        Decimal("1.250000")
    )
    one = parse_ecb_daily(_document(cubes="<Cube currency='GBP' rate='0.85'/>"))
    assert eur_per_gbp(one) == Decimal("1.176471")


def test_message_is_what_the_worker_reads() -> None:
    message = fx_value(parse_ecb_daily(SAMPLE), now=NOW)
    key, payload = fx_message(message)
    assert key == FX_KEY_GBP == b"GBP"
    assert orjson.loads(payload) == {
        "schema_version": 1,
        "currency": "GBP",
        "eur_per_gbp": "1.189980",
        "as_of": "2025-03-14T16:00:00Z",
        "source": "ecb",
    }
    rates = rate_from_message(key, payload).to_rates()  # as the worker's fx agent reads it
    assert rates == FxRates(Decimal("1.189980"), datetime(2025, 3, 14, 16, 0, tzinfo=UTC))
    # the same message as plain JSON values (an Airflow XCom) makes the same bytes
    assert fx_message(msgspec.to_builtins(message)) == (key, payload)


def test_str_input_is_accepted() -> None:
    assert parse_ecb_daily(SAMPLE.decode()).per_eur["GBP"] == Decimal("0.84035")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"", "not well-formed"),
        (b"<html><body>Service unavailable</body></html>", "expected one day"),
        (_document(day="14.03.2025"), "not YYYY-MM-DD"),
        (_document(cubes="<Cube currency='GBP' rate='n/a'/>"), "not a number"),
        (_document(cubes="<Cube currency='GBP' rate='-0.84'/>"), "not positive"),
        (_document(cubes="<Cube currency='GBP' rate='0'/>"), "not positive"),
        (_document(cubes="<Cube currency='GBP' rate='NaN'/>"), "not positive"),
        (
            _document(cubes="<Cube currency='GBP' rate='0.84'/><Cube currency='GBP' rate='0.85'/>"),
            "twice",
        ),
        (_document(cubes=""), "no rates"),
        (
            '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><Cube>&lol;</Cube>',
            "DOCTYPE",
        ),
    ],
)
def test_unusable_documents_are_refused(document: bytes | str, message: str) -> None:
    with pytest.raises(EcbRatesError, match=message):
        parse_ecb_daily(document)


def test_missing_gbp_is_refused_not_invented() -> None:
    rates = parse_ecb_daily(_document(cubes="<Cube currency='USD' rate='1.08'/>"))
    with pytest.raises(EcbRatesError, match="no GBP rate"):
        eur_per_gbp(rates)


@pytest.mark.parametrize("rate", ["84.035", "0.0084035"])
def test_implausible_gbp_rate_is_refused(rate: str) -> None:
    rates = parse_ecb_daily(_document(cubes=f"<Cube currency='GBP' rate='{rate}'/>"))
    with pytest.raises(EcbRatesError, match="plausible"):
        eur_per_gbp(rates)


def test_rates_from_the_future_are_refused() -> None:
    rates = parse_ecb_daily(_document(day="2025-03-20"))
    with pytest.raises(EcbRatesError, match="future"):
        fx_value(rates, now=NOW)
    assert fx_value(rates, now=datetime(2025, 3, 20, 16, 30, tzinfo=UTC)).as_of == (
        datetime(2025, 3, 20, 16, 0, tzinfo=UTC)
    )


def test_message_of_another_currency_is_refused() -> None:
    with pytest.raises(EcbRatesError, match="currency"):
        fx_message({"currency": "USD", "eur_per_gbp": "1", "as_of": "2025-03-14T16:00:00Z"})
    with pytest.raises(EcbRatesError, match="unsupported_version"):
        fx_message({"schema_version": 2, "eur_per_gbp": "1", "as_of": "2025-03-14T16:00:00Z"})
