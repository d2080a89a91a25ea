"""The secret path segment of the webhook URL (``KEEPA_WEBHOOK_SECRET``).

Keepa cannot sign its requests: whoever knows the URL can post notifications, so the URL
holds a random secret. It must be usable (:func:`app.settings.secret_problem`: set, not a
placeholder, at least 32 characters) and URL-safe, so that Keepa's URL and ours agree without
any escaping. A request's segment is compared in constant time; the secret never appears in a
message, a repr or a log.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

from pydantic import SecretStr

from app.settings import Settings, secret_problem

__all__ = ["SecretPath", "webhook_secret_problem"]

_SETTING: Final = "KEEPA_WEBHOOK_SECRET"
#: RFC 3986's unreserved characters: a path segment as they are, never percent-encoded.
_URL_SAFE: Final = re.compile(r"[A-Za-z0-9._~-]+")


def webhook_secret_problem(secret: SecretStr | None) -> str | None:
    """Why ``secret`` cannot guard the webhook, or None when it can (never contains it)."""
    problem = secret_problem(_SETTING, secret)
    if (
        problem is None
        and secret is not None
        and not _URL_SAFE.fullmatch(secret.get_secret_value())
    ):
        return f"{_SETTING} may hold only the characters A-Z a-z 0-9 - _ . ~"
    return problem


class SecretPath:
    """Tells whether a request's path segment is the configured secret."""

    __slots__ = ("_expected",)

    def __init__(self, secret: SecretStr | None) -> None:
        problem = webhook_secret_problem(secret)
        if problem is not None or secret is None:
            raise ValueError(f"the webhook cannot start: {problem}")
        self._expected = secret.get_secret_value().encode()

    @classmethod
    def for_settings(cls, settings: Settings) -> SecretPath:
        return cls(settings.keepa_webhook_secret)

    def matches(self, segment: str) -> bool:
        """Constant time in the segment's content (its length aside)."""
        return secrets.compare_digest(segment.encode("utf-8", "surrogateescape"), self._expected)

    def __repr__(self) -> str:
        return "SecretPath(<secret>)"
