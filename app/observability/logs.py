"""Structured JSON logs, each line carrying the id of the request it belongs to.

A request id comes from the client's `X-Request-Id` header when it is sane, or is made up; it is
sent back in the response, and every log line written while the request (or websocket
connection) is served carries it, including lines from tasks the request started.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
HEADER = b"x-request-id"
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# Attributes every LogRecord has; anything else was passed with `extra=` and goes in the line.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

access_log = logging.getLogger("walkai.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and any extras."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            line["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(fmt: str | None = None, level: str | None = None) -> None:
    """Send every logger's records to stderr: JSON (default) or text, per `WALKAI_LOG_FORMAT`."""
    fmt = fmt or os.environ.get("WALKAI_LOG_FORMAT", "json")
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level or os.environ.get("WALKAI_LOG_LEVEL", "INFO"))
    # uvicorn's own loggers keep their records flowing to the root handler above; our
    # middleware writes the access log (with request ids), so uvicorn's is off.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True


class RequestIdMiddleware:
    """Gives every HTTP request and websocket connection an id, and logs each when it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(HEADER, b"").decode("latin-1")
        request_id = given if _SANE.match(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = {"code": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                status["code"] = message.get("status", 101)
                headers = list(message.get("headers") or [])
                headers.append((HEADER, request_id.encode()))
                message = {**message, "headers": headers}
            elif message["type"] == "websocket.close":
                status["close"] = message.get("code", 1000)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if scope.get("path") not in ("/healthz", "/readyz", "/metrics"):
                access_log.info(
                    "%s %s",
                    scope.get("method", "WEBSOCKET"),
                    scope.get("path"),
                    extra={
                        "status": status["code"],
                        "close_code": status.get("close"),
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                        "client": (scope.get("client") or ("", 0))[0],
                    },
                )
            REQUEST_ID.reset(token)
