"""The one exception raised for a Keepa product that cannot become a quote.

The message around it is checked first, by :mod:`app.contracts.keepa_products` (codes
``malformed_json``, ``not_an_object``, ``unsupported_version``, ``invalid_shape``,
``missing_product``, ``unknown_domain``, ``bad_timestamp`` for ``fetched_at``)."""

from __future__ import annotations

from typing import Literal

__all__ = ["EnvelopeErrorCode", "InvalidEnvelope"]

EnvelopeErrorCode = Literal[
    "missing_asin",  # product.asin absent, null or empty
    "invalid_asin",  # product.asin or the message key is not 10 chars of A-Z0-9
    "asin_mismatch",  # message key and product.asin disagree
    "domain_mismatch",  # envelope "domain" and product.domainId disagree
    "bad_timestamp",  # lastUpdate not Keepa minutes (or out of range)
    "nonsense_price",  # price not an int, negative but not -1/-2, > 10M, or misshaped csv entry
]


class InvalidEnvelope(ValueError):  # noqa: N818 - the name is part of the agreed contract
    """A message that cannot become a :class:`~app.domain.quote.MarketQuote`.

    ``code`` is a short, stable, machine-friendly reason (metrics, dead-letter routing);
    ``message`` is for humans.
    """

    def __init__(self, code: EnvelopeErrorCode, message: str) -> None:
        super().__init__(code, message)
        self.code: EnvelopeErrorCode = code
        self.message = message

    @property
    def reason(self) -> str:
        """Alias of :attr:`code`."""
        return self.code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
