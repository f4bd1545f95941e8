"""`walkai-jobs dev`'s console: what a person at the terminal needs, not the platform's chatter.

The platform talks to its (simulated) cluster all the time — the logs Lease is read and renewed
every few seconds, watches restart, the sidecars call the broker — and every request and
operation has an access line. On a console that buries what matters, so in `dev` only these
show at INFO: mailed links (`app.auth.mail`), `dev`'s own lines, and requests that failed on the
server's side (5xx). Every other INFO line counts as DEBUG (`WALKAI_LOG_LEVEL=DEBUG` shows it);
warnings and errors always show.
"""

from __future__ import annotations

import logging
import os

from app.observability.logs import configure_logging

# Loggers whose INFO lines a person at the console needs.
SHOWN_AT_INFO = ("app.auth.mail", "app.dev")


def console_level(record: logging.LogRecord) -> int:
    """The level a record counts as on `dev`'s console."""
    if record.levelno >= logging.WARNING or record.name in SHOWN_AT_INFO:
        return record.levelno
    status = getattr(record, "status", None)
    if record.name == "walkai.access" and isinstance(status, int) and status >= 500:
        return record.levelno
    return min(record.levelno, logging.DEBUG)


class ConsoleFilter(logging.Filter):
    """Lets a record through when the level it counts as reaches the console's."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return console_level(record) >= self.level


def configure_dev_logging() -> None:
    """Text lines on stderr (`WALKAI_LOG_FORMAT=json` for JSON), filtered for a person."""
    configure_logging(
        fmt=os.environ.get("WALKAI_LOG_FORMAT", "text"),
        level=os.environ.get("WALKAI_LOG_LEVEL", "INFO"),
    )
    root = logging.getLogger()
    for handler in root.handlers:
        handler.addFilter(ConsoleFilter(root.getEffectiveLevel()))
