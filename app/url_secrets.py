"""Which parts of a URL are secret, for redaction: webhook URLs carry tokens and passwords
(alert webhooks, :mod:`app.alerts`) or a secret path (the Keepa webhook receiver's URL,
:mod:`app.keepa.tracking`). Standard library only: the Airflow environment imports it too.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote, urlsplit

__all__ = ["HTTP_SCHEMES", "safe_host", "scheme_of", "secret_fragments"]

HTTP_SCHEMES: Final = frozenset({"http", "https"})

_FRAGMENT_MIN = 6
_PARTS = re.compile(r"(?P<netloc>[^/?#]*)(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?")


def scheme_of(url: str) -> str:
    """The URL's scheme in lower case (``""`` when there is none)."""
    head, sep, _ = url.partition("://")
    return head.lower() if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", head) else ""


def safe_host(url: str) -> str:
    """What logs may show of a URL: the host of an http(s) URL, the scheme of any other (in
    Apprise URLs the "host" is often a token: ``tgram://<bot token>/...``)."""
    scheme = scheme_of(url)
    if scheme in HTTP_SCHEMES:
        try:
            return urlsplit(url).hostname or "?"
        except ValueError:
            return "?"
    return scheme or "?"


def secret_fragments(url: str) -> tuple[str, ...]:
    """Parts of ``url`` that may be secret, longest first, for redaction: the URL itself, its
    user and password, every path segment and query value of at least six characters, and the
    "host" of an Apprise URL when it is not a host name (``tgram://<bot token>/...``)."""
    fragments = {url, url.split("://", 1)[-1]}
    scheme = scheme_of(url)
    parts = _PARTS.match(url.split("://", 1)[-1])
    assert parts is not None  # every group is optional: it always matches
    netloc, path, query = parts["netloc"], parts["path"], parts["query"] or ""
    userinfo, _, host = netloc.rpartition("@")
    pieces = [*userinfo.split(":"), userinfo, *path.split("/")]
    pieces += [value for pair in query.split("&") for value in pair.split("=", 1)[1:]]
    if scheme not in HTTP_SCHEMES and "." not in host:  # a token, not a host name
        pieces += [host, *host.split(":")]
    for piece in pieces:
        for form in (piece, unquote(piece)):
            if len(form) >= _FRAGMENT_MIN:
                fragments.add(form)
    return tuple(sorted((f for f in fragments if f), key=len, reverse=True))
