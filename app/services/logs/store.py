"""Where a run's log lines live: the database, one row per line, each with its cursor.

- **Where lines live.** In the database, one row per line (`app.db.log_models.LogLine`), inserted
  in batches as they arrive and kept after the run ends. An API restart loses nothing, paging is
  a keyset query on `(run, seq)` that never reads a log whole, and a live run pages exactly like
  an archived one. At the end the log is also written to object storage (`archive.py`).
- **Cursors.** A per-run sequence number (`seq`, from 1, across containers and attempts),
  opaque to clients. One writer task per run allocates it, stores and publishes (`write.py`), so
  every subscriber sees a run's lines in one order, the order of `seq`; a filtered subscriber
  simply sees gaps. Restarted, the service continues after the highest stored `seq`.
- **Streams.** Each followed (pod, container) has a `LogStream` row: its attempt (a pod seen for
  the first time is the run's next one) and whether it was read whole, so that a restart
  resumes only unfinished streams, after the lines already stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from app.db.log_models import LogLine, LogStream

BACKLOG_BATCH = 500


@dataclass(frozen=True, slots=True)
class StoredLine:
    """A stored line: its per-run sequence number (the cursor), origin, timestamp and text."""

    seq: int
    container: str
    attempt: int
    ts: str
    text: str


async def last_seq(run_id: str) -> int:
    """The run's highest stored `seq` (0 before its first line)."""
    newest = LogLine.filter(run_id=run_id).order_by("-seq").first()
    seq: Any = await newest.values_list("seq", flat=True)
    return int(seq) if seq is not None else 0


async def insert_lines(run_id: str, lines: list[StoredLine]) -> None:
    """One INSERT of many rows (`executemany`, in one transaction): no model object per row."""
    db = LogLine._meta.db
    columns = ("run_id", "seq", "container", "attempt", "ts", "text")
    if db.capabilities.dialect == "postgres":
        marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    else:
        marks = ", ".join("?" * len(columns))
    sql = f"INSERT INTO log_line ({', '.join(columns)}) VALUES ({marks})"
    await db.execute_many(
        sql, [[run_id, s.seq, s.container, s.attempt, s.ts, s.text] for s in lines]
    )


async def read_lines(
    run_id: UUID | str,
    *,
    after: int | None = None,
    before: int | None = None,
    container: str | None = None,
    limit: int = BACKLOG_BATCH,
    newest_first: bool = False,
) -> list[StoredLine]:
    """Up to `limit` stored lines with `after < seq < before`, oldest first unless asked."""
    query = LogLine.filter(run_id=run_id)
    if after is not None:
        query = query.filter(seq__gt=after)
    if before is not None:
        query = query.filter(seq__lt=before)
    if container is not None:
        query = query.filter(container=container)
    rows = await (
        query.order_by("-seq" if newest_first else "seq")
        .limit(limit)
        .values_list("seq", "container", "attempt", "ts", "text")
    )
    return [StoredLine(*row) for row in rows]


async def stream_row(run_id: str, uid: str, name: str, container: str) -> LogStream:
    """The stream's record; a pod seen for the first time is the run's next attempt (the
    caller holds the run's lock)."""
    row = await LogStream.get_or_none(run_id=run_id, pod_uid=uid, container=container)
    if row is not None:
        return row
    same_pod = LogStream.filter(run_id=run_id, pod_uid=uid)
    attempt = await same_pod.first().values_list("attempt", flat=True)
    if attempt is None:
        pods = await LogStream.filter(run_id=run_id).distinct().values_list("pod_uid")
        attempt = len(pods) + 1
    return await LogStream.create(
        run_id=run_id, pod_uid=uid, pod_name=name, container=container, attempt=attempt
    )


async def stored_tail(run_id: str, container: str, attempt: int) -> tuple[str | None, list[str]]:
    """The timestamp of a stream's last stored line (None before its first) and the texts
    stored at that timestamp, in order: where a resumed follow drops what it already has."""
    last = await (
        LogLine.filter(run_id=run_id, container=container, attempt=attempt)
        .order_by("-seq")
        .first()
        .values_list("ts", flat=True)
    )
    at_last: list[str] = []
    if last is not None:
        at_last = [
            str(text)
            for text in await LogLine.filter(
                run_id=run_id, container=container, attempt=attempt, ts=last
            )
            .order_by("seq")
            .values_list("text", flat=True)
        ]
    return (str(last) if last is not None else None), at_last
