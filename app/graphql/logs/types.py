"""GraphQL types of run logs: a line, a live batch of lines, and a connection over them."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import strawberry
from strawberry import relay

from app.graphql.errors import PublicError
from app.graphql.pagination import decode_cursor, encode_cursor
from app.services.logs import LogBatch, StoredLine

_CURSOR_KIND = "log"
MAX_LOG_PAGE = 1000
DEFAULT_LOG_PAGE = 100

# The arguments of `Run.logs`, `Run.logDownloadUrl` and `runLogs`.
LogFirst = Annotated[
    int | None, strawberry.argument(description=f"Lines from the start, 1 to {MAX_LOG_PAGE}.")
]
LogLast = Annotated[
    int | None,
    strawberry.argument(description=f"Lines from the end (the tail), 1 to {MAX_LOG_PAGE}."),
]
LogAfter = Annotated[str | None, strawberry.argument(description="Only lines after this cursor.")]
LogBefore = Annotated[str | None, strawberry.argument(description="Only lines before this cursor.")]
LogContainer = Annotated[
    str | None,
    strawberry.argument(
        description="Whose lines: `main` (the default), an init container or the sidecar, "
        "by container name."
    ),
]


def log_cursor(seq: int) -> str:
    """The opaque cursor of a run's line (its per-run sequence number inside)."""
    return encode_cursor(_CURSOR_KIND, seq)


def parse_log_cursor(cursor: str | None) -> int | None:
    """The sequence number inside a log cursor; a PublicError for anything else."""
    if cursor is None:
        return None
    kind, seq = decode_cursor(cursor, 2)
    if kind != _CURSOR_KIND or not isinstance(seq, int) or seq < 0:
        raise PublicError("The cursor is not a log cursor.")
    return seq


@strawberry.type(name="LogLine", description="One line a container of the run printed.")
class LogLineType:
    """A stored line; lines longer than 16 KiB arrive as several lines with one timestamp."""

    cursor: str = strawberry.field(
        description="Where this line is in the run's log: pass it as `after` to resume."
    )
    timestamp: str = strawberry.field(
        description="When the container printed it: RFC 3339 with nanoseconds, UTC."
    )
    text: str = strawberry.field(
        description="The line without its newline; invalid UTF-8 is replaced with U+FFFD."
    )
    stream: str = strawberry.field(
        description=(
            "The container that printed it (`main`, an init container, the sidecar); "
            "Kubernetes merges a container's stdout and stderr into one stream."
        )
    )
    attempt: int = strawberry.field(
        description="Which pod of the run printed it: 1, then 2 after a preemption, and so on."
    )

    @classmethod
    def from_line(cls, line: StoredLine) -> LogLineType:
        """Wrap a stored line."""
        return cls(
            cursor=log_cursor(line.seq),
            timestamp=line.ts,
            text=line.text,
            stream=line.container,
            attempt=line.attempt,
        )


@strawberry.type(name="LogBatch", description="Lines of a run's log, in order, as they came.")
class LogBatchType:
    """One message of the `runLogs` subscription."""

    lines: list[LogLineType] = strawberry.field(description="The lines, oldest first.")
    lagged: bool = strawberry.field(
        description=(
            "True when this subscriber fell behind the live log: the server caught it up from "
            "its last cursor (nothing is missing), and the client may want to re-render."
        )
    )
    end_cursor: str | None = strawberry.field(
        description="The cursor of the last line: reconnect with it as `after` to resume."
    )
    # The batch's `shared` dict: the event's executed, serialized result is kept there, once
    # for every subscriber asking for the same fields (`app.graphql.execution`); not in the schema.
    shared: strawberry.Private[dict[Any, Any]] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_batch(cls, batch: LogBatch) -> LogBatchType:
        """Wrap a batch; a batch shared by many subscribers is wrapped once."""
        wrapped = batch.shared.get(cls)
        if wrapped is None:
            wrapped = batch.shared[cls] = cls(
                lines=[LogLineType.from_line(line) for line in batch.lines],
                lagged=batch.lagged,
                end_cursor=log_cursor(batch.last_seq) if batch.lines else None,
                shared=batch.shared,
            )
        assert isinstance(wrapped, LogBatchType)
        return wrapped


@strawberry.type(name="LogLineEdge", description="A line of a page of log lines.")
class LogLineEdge:
    """An edge of `LogLineConnection`."""

    cursor: str = strawberry.field(description="The line's cursor.")
    node: LogLineType = strawberry.field(description="The line.")


@strawberry.type(name="LogLineConnection", description="A page of a run's log lines.")
class LogLineConnection:
    """Lines in log order (oldest first), whichever direction the page was taken in."""

    edges: list[LogLineEdge] = strawberry.field(description="The lines of this page.")
    page_info: relay.PageInfo = strawberry.field(description="Where this page is in the log.")
