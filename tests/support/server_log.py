"""What the API logged during a test, and requests sent as raw bytes (not via GraphQL)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TypeVar

import httpx

from tests.support.api import Api


class ServerLog(logging.Handler):
    """Every record logged in the process (the API runs in it) while installed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        # Formatted now: an attribute may refer to what is gone by the time a test reads it.
        line = record.getMessage()
        if record.exc_info:
            line += logging.Formatter().formatException(record.exc_info)
        self._lines.append(line + " " + json.dumps(vars(record), default=str))

    def text(self) -> str:
        """Each record's message, traceback and attributes: where a leaked value would show."""
        return "\n".join(self._lines)


H = TypeVar("H", bound=logging.Handler)


@contextmanager
def installed(handler: H, logger: str = "") -> Iterator[H]:
    """`handler` on `logger` (the root by default) at DEBUG, whatever its level was."""
    log = logging.getLogger(logger)
    previous = log.level
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    try:
        yield handler
    finally:
        log.removeHandler(handler)
        log.setLevel(previous)


def captured() -> AbstractContextManager[ServerLog]:
    """Capture every record at DEBUG and above, whatever the loggers' levels were."""
    return installed(ServerLog())


async def post_raw(
    api: Api,
    path: str,
    body: bytes,
    *,
    token: str | None = None,
    content_type: str = "application/json",
) -> httpx.Response:
    """POST `body` as it is to `path` of the API (bodies a GraphQL client would never send)."""
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(timeout=60) as http:
        return await http.post(f"{api.base_url}{path}", content=body, headers=headers)
