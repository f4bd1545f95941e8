"""Fields of the logs domain: the `runLogs` subscription, and `Run.logs` / `Run.logDownloadUrl`.

The schema stays thin: lines come from `app.services.logs.LogService` (`platform.logs`), which
serves a live run and an archived one alike.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated
from uuid import UUID

import strawberry
from strawberry import relay

from app.auth.policy import can_see_run
from app.db.models import Run
from app.domain.status import MAIN_CONTAINER
from app.graphql.context import Info
from app.graphql.errors import PublicError
from app.graphql.logs.types import (
    DEFAULT_LOG_PAGE,
    MAX_LOG_PAGE,
    LogAfter,
    LogBatchType,
    LogContainer,
    LogLineConnection,
    LogLineEdge,
    LogLineType,
    log_cursor,
    parse_log_cursor,
)
from app.graphql.nodes import uuid_of
from app.graphql.streaming import SharedSender, unsent
from app.services.logs import LogBatch


async def _wrapped(batches: AsyncGenerator[LogBatch, None]) -> AsyncGenerator[LogBatchType, None]:
    """Each batch as the API's type (a shared batch is wrapped once, for every subscriber)."""
    try:
        async for batch in batches:
            yield LogBatchType.from_batch(batch)
    finally:
        await batches.aclose()


def _size(value: int, name: str) -> int:
    if not 1 <= value <= MAX_LOG_PAGE:
        raise PublicError(f"`{name}` must be between 1 and {MAX_LOG_PAGE}.")
    return value


async def resolve_logs(
    info: Info,
    run_id: UUID,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    container: str | None,
) -> LogLineConnection:
    """A page of the run's stored lines (the caller has checked the run is visible)."""
    if first is not None and last is not None:
        raise PublicError("Pass `first` or `last`, not both.")
    after_seq, before_seq = parse_log_cursor(after), parse_log_cursor(before)
    logs = info.context.platform.logs
    backwards = last is not None
    size = _size(last, "last") if last is not None else _size(first or DEFAULT_LOG_PAGE, "first")
    rows = await logs.lines(
        run_id,
        after=after_seq,
        before=before_seq,
        container=container or MAIN_CONTAINER,
        limit=size + 1,
        newest_first=backwards,
    )
    more = len(rows) > size
    page = rows[:size]
    if backwards:
        page.reverse()
    edges = [LogLineEdge(cursor=log_cursor(r.seq), node=LogLineType.from_line(r)) for r in page]
    return LogLineConnection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=more if not backwards else before_seq is not None,
            has_previous_page=more if backwards else after_seq is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


async def resolve_download_url(info: Info, run_id: UUID, container: str | None) -> str | None:
    """A URL to the container's archived log (the caller has checked the run is visible)."""
    return await info.context.platform.logs.download_url(run_id, container or MAIN_CONTAINER)


@strawberry.type
class LogSubscriptions:
    """Live logs."""

    @strawberry.subscription(
        description=(
            "The run's log after `after` (the backlog in batches of up to 500 lines), then live "
            "lines in batches as they come; completes once the run has ended and every line "
            "was sent. Reconnect with the last `endCursor` to get exactly the lines missed."
        )
    )
    async def run_logs(
        self,
        info: Info,
        run_id: Annotated[strawberry.ID, strawberry.argument(description="The run's id.")],
        after: LogAfter = None,
        container: LogContainer = None,
    ) -> AsyncGenerator[LogBatchType, None]:
        run_uuid = uuid_of(run_id, "Run")
        run = await Run.get_or_none(id=run_uuid) if run_uuid is not None else None
        if run is None or not can_see_run(info.context.viewer, run):
            raise PublicError("No run with this id.")
        # Shared batches are sent by the sender, most of them straight from the log's publisher
        # (app.graphql.streaming); the others are yielded, as any subscription's events.
        sender = SharedSender.current()
        batches = info.context.platform.logs.follow(
            run.id,
            after=parse_log_cursor(after) or 0,
            container=container or MAIN_CONTAINER,
            send=(lambda b: sender.send_now(LogBatchType.from_batch(b))) if sender else None,
        )
        async with aclosing(unsent(sender, _wrapped(batches))) as events:
            async for event in events:
                yield event
