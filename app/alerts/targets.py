"""Where a webhook's notifications go: through Apprise (any Apprise URL), or a plain JSON POST.

How an ``ALERT_WEBHOOKS`` entry is delivered, by its ``format``:

* ``apprise`` (the default for any URL that is not http(s)): the URL is an Apprise URL
  (``slack://``, ``discord://``, ``tgram://``, ``mailto://``, ``ntfys://``, ``pover://``,
  ``workflows://``/Teams, ``json://``, ... ) or a service's own https URL that Apprise
  recognises (``https://hooks.slack.com/services/...``, ``https://discord.com/api/webhooks/...``,
  ``https://ntfy.sh/topic``, ...). Apprise's plugin for that service builds the service's
  message from our title and plain-text body and sends it.
* ``json`` (the default for http(s) URLs, as before Apprise): a plain JSON POST of our
  documented payload (:func:`app.alerts.formats.json_payload`) by :mod:`app.alerts.delivery`.
  Apprise's ``json://`` plugin is not used for it because it posts its own fixed shape
  (``{"version", "title", "message", "attachments", "type"}``) and can only rename those
  keys or add flat string values: it cannot carry the opportunity event as a JSON object.
  A receiver that wants Apprise's shape is given a ``json://``/``jsons://`` URL instead.
* ``slack`` / ``discord`` (configurations written before Apprise): the URL must be one that
  Apprise parses as that service (the https webhook URL or ``slack://``/``discord://``);
  Apprise's Slack or Discord plugin sends it.
* ``telegram`` (likewise): the Bot API URL ``https://api.telegram.org/bot<token>/<method>``
  with the entry's ``chat_id`` becomes ``tgram://<token>/<chat_id>``.

Every Apprise URL is checked when the configuration is loaded (``arbitrage alerts check``):
it must load in Apprise and name exactly one target, because retries, the rate limit and the
dedup record are per entry (a URL with two chats would be re-sent to both when one fails).
Retries are ours (:mod:`app.alerts.retry`): a ``retry=`` option in the URL is overridden.

URLs hold secrets (tokens, passwords): no error or log line here contains one. Apprise's own
logging is silenced while a URL is checked (its errors quote the URL), and the errors raised
name the scheme and Apprise's service name only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from urllib.parse import quote, urlsplit

import apprise
from apprise import AppriseAsset
from apprise.plugins import N_MGR
from apprise.plugins.base import NotifyBase

from app.url_secrets import HTTP_SCHEMES, safe_host, scheme_of, secret_fragments

__all__ = [
    "ASSET",
    "HTTP_SCHEMES",
    "TargetError",
    "WebhookFormat",
    "apprise_url",
    "check_apprise_url",
    "load_notifier",
    "recognised_service",
    "safe_host",
    "scheme_of",
    "secret_fragments",
]

#: How Apprise presents our notifications (User-Agent, Slack footer, Mattermost username...).
ASSET = AppriseAsset(app_id="EU Arbitrage Tracker", app_desc="EU arbitrage tracker alerts")

_TELEGRAM_API = re.compile(r"^/bot(?P<token>[^/]+)/[A-Za-z]+/?$")


class WebhookFormat(StrEnum):
    """How a webhook is delivered (see the module docstring)."""

    JSON = "json"
    APPRISE = "apprise"
    SLACK = "slack"
    DISCORD = "discord"
    TELEGRAM = "telegram"


#: The Apprise scheme and the URLs of the formats written before Apprise.
_SERVICE_URLS = {
    WebhookFormat.SLACK: ("slack", "Slack webhook URL (https://hooks.slack.com/services/...)"),
    WebhookFormat.DISCORD: (
        "discord",
        "Discord webhook URL (https://discord.com/api/webhooks/<id>/<token>)",
    ),
}


class TargetError(ValueError):
    """A webhook URL Apprise cannot use; the message never contains the URL."""


def apprise_url(url: str, fmt: WebhookFormat, chat_id: int | str | None = None) -> str | None:
    """The Apprise URL of a webhook, or ``None`` for a plain JSON webhook; raises
    :class:`TargetError` when the URL does not fit the format."""
    scheme = scheme_of(url)
    if not scheme:
        raise TargetError("url must be a URL with a scheme (an http(s) or an Apprise URL)")
    if fmt is WebhookFormat.JSON:
        if scheme not in HTTP_SCHEMES:
            raise TargetError(
                f'format "json" is a plain JSON POST to an http(s) URL, not {scheme}://; '
                'omit format (or use "apprise") to deliver it through Apprise'
            )
        return None
    if fmt is WebhookFormat.TELEGRAM:
        parts = urlsplit(url)
        match = _TELEGRAM_API.match(parts.path)
        if scheme != "https" or parts.hostname != "api.telegram.org" or match is None:
            raise TargetError(
                'format "telegram" takes the Bot API URL '
                "https://api.telegram.org/bot<token>/sendMessage and a chat_id; for an "
                'Apprise tgram://<token>/<chat_id> URL omit format (or use "apprise")'
            )
        return f"tgram://{match['token']}/{quote(str(chat_id), safe='@-')}"
    return url


_QUIET: ContextVar[bool] = ContextVar("alerts_quiet_apprise", default=False)


@contextmanager
def _quiet_apprise() -> Iterator[None]:
    token = _QUIET.set(True)
    try:
        yield
    finally:
        _QUIET.reset(token)


class _QuietFilter(logging.Filter):
    """Drops Apprise's log records while a URL is being checked (they quote the URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _QUIET.get()


logging.getLogger(apprise.LOGGER_NAME).addFilter(_QuietFilter())


def _instantiate(url: str) -> NotifyBase:
    """The Apprise plugin object of ``url`` (not yet sending anything), or TargetError."""
    scheme = scheme_of(url)
    with _quiet_apprise():
        if scheme not in HTTP_SCHEMES and scheme not in N_MGR:  # N_MGR: plugins by scheme
            raise TargetError(f"{scheme}:// is not a URL scheme Apprise supports")
        try:
            plugin = apprise.Apprise.instantiate(url, asset=ASSET, suppress_exceptions=False)
        except Exception:  # the plugin's message may quote a token: name the service only
            service = N_MGR[scheme].service_name if scheme in N_MGR else scheme
            raise TargetError(
                f"Apprise cannot load this {service} URL (a token, target or option in it "
                "is malformed)"
            ) from None
    if plugin is None:
        if scheme in HTTP_SCHEMES:
            raise TargetError(
                f"Apprise does not recognise this {scheme} URL as a service it knows; a "
                'plain JSON webhook takes format "json"'
            )
        raise TargetError(f"Apprise cannot parse this {scheme}:// URL")
    plugin.retry = 0  # retries are ours (app.alerts.retry), not Apprise's
    return plugin


def check_apprise_url(url: str, fmt: WebhookFormat) -> str:
    """Apprise's service name for ``url`` (e.g. ``Slack``); raises :class:`TargetError` when
    Apprise cannot load it, it is not the service ``fmt`` names, or it has several targets."""
    expected = _SERVICE_URLS.get(fmt)
    try:
        plugin = _instantiate(url)
    except TargetError as exc:
        if expected is None:
            raise
        raise TargetError(f'format "{fmt.value}" needs a {expected[1]}: {exc}') from None
    if expected is not None and not isinstance(plugin, N_MGR[expected[0]]):
        raise TargetError(
            f'format "{fmt.value}" needs a {expected[1]}; this one is {plugin.service_name}. '
            'Other services take their Apprise URL (format "apprise")'
        )
    targets = len(plugin)
    if targets != 1:
        raise TargetError(
            f"this {plugin.service_name} URL names {targets} targets; give each target its own "
            "webhook entry (retries, the rate limit and the dedup record are per entry)"
        )
    return str(plugin.service_name)


def recognised_service(url: str) -> str | None:
    """Apprise's service name for a URL Apprise can load (e.g. a Slack webhook URL given as a
    plain JSON webhook by mistake), else ``None``."""
    try:
        return str(_instantiate(url).service_name)
    except TargetError:
        return None


def load_notifier(url: str, timeout_s: float) -> apprise.Apprise:
    """An :class:`apprise.Apprise` holding the one plugin of ``url``; ``timeout_s`` is its
    connect and read timeout (a ``cto``/``rto`` in the URL is overridden)."""
    plugin = _instantiate(url)
    plugin.socket_connect_timeout = timeout_s
    plugin.socket_read_timeout = timeout_s
    notifier = apprise.Apprise(asset=ASSET)
    notifier.add(plugin)
    return notifier
