"""Amazon Standard Identification Numbers: exactly 10 characters ``A-Z`` / ``0-9``.

The one definition of a valid ASIN: Kafka keys and products (:mod:`app.domain.envelope`), the
watchlist, the Keepa client and the API's path and body parameters all use it.
"""

from __future__ import annotations

import re
from typing import Final, TypeGuard

__all__ = ["ASIN_PATTERN", "is_valid_asin", "normalise_asin"]

#: A valid ASIN as a regular expression (for JSON schemas and path parameters).
ASIN_PATTERN: Final = r"^[A-Z0-9]{10}$"

_ASIN_RE: Final = re.compile(ASIN_PATTERN)


def is_valid_asin(value: object) -> TypeGuard[str]:
    """An ASIN is exactly 10 characters of ``A-Z`` / ``0-9`` (upper case, no blanks)."""
    return isinstance(value, str) and _ASIN_RE.fullmatch(value) is not None


def normalise_asin(value: str) -> str:
    """Typed input as an ASIN: trimmed and upper-cased; ``ValueError`` when it is not one."""
    asin = str(value).strip().upper()
    if not is_valid_asin(asin):
        raise ValueError(f"invalid ASIN {asin!r}: expected 10 characters A-Z0-9")
    return asin
