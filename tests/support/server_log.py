"""What the API logged during a test, and requests sent as raw bytes (not via GraphQL)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def captured() -> Iterator[ServerLog]:
    """Capture every record at DEBUG and above, whatever the loggers' levels were."""
    handler = ServerLog()
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


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
