"""Access logs without the webhook secret: uvicorn logs each request's path, and the path of
a notification is ``/keepa/<secret>``. The filter replaces whatever follows ``/keepa/``
(the right secret or a wrong guess alike) before any handler formats the record."""

from __future__ import annotations

import logging
import re
from typing import Final

__all__ = ["ACCESS_LOGGER", "REDACTED", "RedactWebhookPath", "install_access_log_redaction"]

#: uvicorn's access logger.
ACCESS_LOGGER: Final = "uvicorn.access"
REDACTED: Final = "/keepa/<redacted>"

_SECRET_PATH: Final = re.compile(r"/keepa/.*", re.DOTALL)


def _redact(value: object) -> object:
    return _SECRET_PATH.sub(REDACTED, value) if isinstance(value, str) else value


class RedactWebhookPath(logging.Filter):
    """Rewrites the message and arguments of a record: ``/keepa/...`` to the end of each
    string argument (a path with its query) becomes :data:`REDACTED`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {name: _redact(arg) for name, arg in record.args.items()}
        if isinstance(record.msg, str) and "/keepa/" in record.msg:
            record.msg = _SECRET_PATH.sub(REDACTED, record.msg)
        return True


def install_access_log_redaction(logger_name: str = ACCESS_LOGGER) -> None:
    """Add the filter to the access logger (once)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactWebhookPath) for f in logger.filters):
        logger.addFilter(RedactWebhookPath())
