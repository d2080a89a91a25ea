"""The ECB's daily euro reference rates -> the ``fx.rates`` message (pure, no I/O).

The ECB publishes, on TARGET working days around 16:00 CET, how much of each currency one
euro buys (``eurofxref-daily.xml``)::

    <gesmes:Envelope xmlns:gesmes="..." xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
      <Cube>
        <Cube time="2025-03-14">
          <Cube currency="GBP" rate="0.84035"/>
          ...

1 EUR = 0.84035 GBP, so EUR per GBP is 1 / 0.84035 = 1.189980 (6 decimals, half-up). The
message is an :class:`app.contracts.fx_rates.FxRate`; a rate that cannot be parsed or is
implausible raises :class:`EcbRatesError` and nothing is published (a rate is never invented:
the worker keeps the last known one).

Reading the topic back is one function for every reader:
:func:`app.contracts.fx_rates.rate_from_message` turns one ``fx.rates`` message into the rate
it carries (the worker's ``fx`` agent, which dead-letters what it cannot read), and
:func:`latest_rate` folds a whole topic the same way (the scheduler, which has no Faust:
:mod:`app.ingest.fx_topic`). The last usable rate stays in force.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

from app.contracts.base import ContractError
from app.contracts.fx_rates import FX_KEY_GBP, FX_RATE, FxRate, rate_from_message
from app.domain.fx import FxRates

__all__ = [
    "ECB_DAILY_URL",
    "ECB_PUBLICATION_TIME_UTC",
    "FX_KEY_GBP",
    "FX_RATES_TOPIC",
    "GBP_PER_EUR_PLAUSIBLE",
    "EcbRatesError",
    "EcbReferenceRates",
    "eur_per_gbp",
    "fx_message",
    "fx_value",
    "latest_rate",
    "parse_ecb_daily",
]

ECB_DAILY_URL: Final = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"
_ECB_NS: Final = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"

#: The reference rates are set at 14:10 CET and published around 16:00; the message carries
#: the ECB date at 16:00 UTC (the contract of the ``fx.rates`` topic).
ECB_PUBLICATION_TIME_UTC: Final = time(16, 0, tzinfo=UTC)

#: The topic of the rates, before ``TOPIC_PREFIX`` (compacted, one partition).
FX_RATES_TOPIC: Final = "fx.rates"

#: GBP per EUR outside this band is a parsing or publication error, not a market move (the
#: rate has stayed within 0.69-0.98 since the euro's introduction).
GBP_PER_EUR_PLAUSIBLE: Final = (Decimal("0.5"), Decimal("1.5"))

_SIX_PLACES: Final = Decimal("0.000001")


class EcbRatesError(ValueError):
    """The ECB document cannot be used (malformed, incomplete or implausible)."""


@dataclass(frozen=True, slots=True)
class EcbReferenceRates:
    """One day of ECB reference rates: units of each currency per 1 EUR."""

    day: date
    per_eur: Mapping[str, Decimal]

    @property
    def as_of(self) -> datetime:
        """The rates' timestamp: the ECB date at 16:00 UTC."""
        return datetime.combine(self.day, ECB_PUBLICATION_TIME_UTC)


def parse_ecb_daily(document: bytes | str) -> EcbReferenceRates:
    """Parse ``eurofxref-daily.xml``; :class:`EcbRatesError` if it is not a usable one.

    Documents with a DOCTYPE are refused before parsing (the ECB sends none; refusing them
    rules out entity expansion attacks), so the standard library's parser is safe here.
    """
    raw = document.encode("utf-8") if isinstance(document, str) else document
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise EcbRatesError("ECB rates document has a DOCTYPE/ENTITY declaration; refused")
    try:
        root = ET.fromstring(raw)  # noqa: S314 - DTDs refused above
    except ET.ParseError as exc:
        raise EcbRatesError(f"ECB rates document is not well-formed XML: {exc}") from None

    days = [cube for cube in root.iter(f"{_ECB_NS}Cube") if cube.get("time") is not None]
    if len(days) != 1:
        raise EcbRatesError(f"expected one day of rates in the ECB document, found {len(days)}")
    day_cube = days[0]
    day_text = day_cube.get("time", "")
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise EcbRatesError(f"ECB rates date {day_text!r} is not YYYY-MM-DD") from None

    per_eur: dict[str, Decimal] = {}
    for cube in day_cube.iter(f"{_ECB_NS}Cube"):
        currency = cube.get("currency")
        if currency is None:
            continue
        rate_text = cube.get("rate", "")
        try:
            rate = Decimal(rate_text)
        except InvalidOperation:
            raise EcbRatesError(f"ECB rate of {currency} is not a number: {rate_text!r}") from None
        if not rate.is_finite() or rate <= 0:
            raise EcbRatesError(f"ECB rate of {currency} is not positive: {rate_text!r}")
        if currency in per_eur:
            raise EcbRatesError(f"ECB document lists {currency} twice")
        per_eur[currency] = rate
    if not per_eur:
        raise EcbRatesError(f"ECB document has no rates for {day.isoformat()}")
    return EcbReferenceRates(day=day, per_eur=per_eur)


def eur_per_gbp(rates: EcbReferenceRates) -> Decimal:
    """EUR per 1 GBP (1 / GBP per EUR), 6 decimal places, half-up."""
    gbp = rates.per_eur.get("GBP")
    if gbp is None:
        raise EcbRatesError(f"ECB rates of {rates.day.isoformat()} have no GBP rate")
    low, high = GBP_PER_EUR_PLAUSIBLE
    if not low <= gbp <= high:
        raise EcbRatesError(
            f"ECB GBP rate {gbp} per EUR is outside the plausible range {low}-{high}; refused"
        )
    return (Decimal(1) / gbp).quantize(_SIX_PLACES, rounding=ROUND_HALF_UP)


def fx_value(rates: EcbReferenceRates, *, now: datetime | None = None) -> FxRate:
    """The EUR/GBP message on ``fx.rates`` (``source`` ``ecb``).

    With ``now`` (aware), rates dated more than a day after ``now`` are refused.
    """
    if now is not None and rates.day > now.astimezone(UTC).date() + timedelta(days=1):
        raise EcbRatesError(f"ECB rates are dated {rates.day.isoformat()}, in the future")
    return FxRate.from_rates(FxRates(eur_per_gbp=eur_per_gbp(rates), as_of=rates.as_of))


def fx_message(value: FxRate | Mapping[str, Any]) -> tuple[bytes, bytes]:
    """Key and value bytes of an ``fx.rates`` message: an :class:`FxRate`, or one as decoded
    JSON (an Airflow XCom value); :class:`EcbRatesError` when it is not one."""
    try:
        message = FX_RATE.convert(value)
    except ContractError as exc:
        raise EcbRatesError(f"not an fx.rates message: {exc}") from None
    return FX_KEY_GBP, FX_RATE.encode(message)


def latest_rate(messages: Iterable[tuple[bytes | None, bytes | None]]) -> FxRates | None:
    """The rate in force after ``messages`` (``(key, value)`` in offset order): the last one
    :func:`app.contracts.fx_rates.rate_from_message` reads, exactly as the worker's
    ``fx-rates`` table would hold it; ``None`` if none is usable (then the configured
    ``FX_GBP_EUR`` applies)."""
    rate: FxRates | None = None
    for key, value in messages:
        try:
            rate = rate_from_message(key, value).to_rates()
        except ContractError:
            continue
    return rate
