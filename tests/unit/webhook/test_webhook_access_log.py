"""uvicorn's access log lines never show what follows /keepa/ (the secret, or a guess)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from app.webhook.access_log import (
    REDACTED,
    RedactWebhookPath,
    install_access_log_redaction,
)

SECRET = "Zk3q9T7mXbW1rV5sN8cJ2hL6pD4fG0aY-_.~"


@pytest.fixture
def access_logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger like uvicorn's access logger, with a handler formatting as uvicorn does."""
    logger = logging.getLogger("tests.webhook.access")
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield logger, out
    finally:
        logger.removeHandler(handler)
        logger.filters.clear()


def test_the_path_after_keepa_is_redacted_in_uvicorns_format(
    access_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = access_logger
    install_access_log_redaction(logger.name)
    # uvicorn.protocols.http: '%s - "%s %s HTTP/%s" %d' % (client, method, path, version, status)
    fmt = '%s - "%s %s HTTP/%s" %d'
    logger.info(fmt, "127.0.0.1:5000", "POST", f"/keepa/{SECRET}", "1.1", 200)
    logger.info(fmt, "127.0.0.1:5000", "POST", f"/keepa/{SECRET[:-3]}?a=b c", "1.1", 404)
    logger.info(fmt, "127.0.0.1:5000", "GET", "/health", "1.1", 200)
    logger.info(f"POST /keepa/{SECRET} without arguments")
    text = out.getvalue()
    assert SECRET[:-3] not in text
    assert f'"POST {REDACTED} HTTP/1.1" 200' in text
    assert f'"POST {REDACTED} HTTP/1.1" 404' in text
    assert '"GET /health HTTP/1.1" 200' in text
    assert f"POST {REDACTED}" in text.splitlines()[-1]


def test_dict_arguments_are_redacted_too() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "%(path)s", None, None)
    record.args = {"path": f"/keepa/{SECRET}"}
    assert RedactWebhookPath().filter(record)
    assert record.getMessage() == REDACTED


def test_installing_twice_adds_one_filter(
    access_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, _ = access_logger
    install_access_log_redaction(logger.name)
    install_access_log_redaction(logger.name)
    assert sum(isinstance(f, RedactWebhookPath) for f in logger.filters) == 1
