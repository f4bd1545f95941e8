"""What a run's subscribers receive: batches of stored lines, shared, and the window of recent ones.

- **Fan-out.** Stored lines are published in batches of one container (and attempt) and at most
  `MAX_BATCH` lines. One `LogBatch` object goes to every subscriber of the run's topic; its
  GraphQL result is executed and serialized once per selection and shared
  (`app/graphql/execution.py`), and a subscriber waiting for it is handed it in the publisher's
  task (`subscribe.py`, `follow(send=…)`): it is written to the websocket there, without waking
  the subscriber's own task (`app/graphql/streaming.py`).
- **The window.** A run's latest published batches (`WINDOW_LINES` lines, bounded in
  characters too) are kept in memory (`_RunLog`): a subscriber that falls behind, or joins
  late, catches up from the window if it reaches back to its cursor, else from the database:
  with many subscribers on a busy log, falling behind by a few batches costs a few list
  operations, not a query each. Batches from the window are the published objects, so they
  stay shared. The window is dropped once the run is archived.
- **The end.** `LogComplete` is published once the run's log is whole and archived.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from app.events.hub import Hub
from app.kube.logfollower import RawLine
from app.services.logs.store import StoredLine

MAX_BATCH = 500
# The latest published lines of each live run kept in memory: a subscriber that falls behind by
# less than this (or joins late by less) catches up from memory instead of the database.
WINDOW_LINES = 8192
WINDOW_CHARS = 8 * 1024 * 1024

_TOPIC_PREFIX = "logs:"


def log_topic(run_id: UUID | str) -> str:
    """The hub topic carrying one run's log batches."""
    return f"{_TOPIC_PREFIX}{run_id}"


def topic_run(topic: str) -> str | None:
    """The run whose log batches a hub topic carries (None: not a log topic)."""
    return topic.removeprefix(_TOPIC_PREFIX) if topic.startswith(_TOPIC_PREFIX) else None


@dataclass(eq=False)
class LogBatch:
    """Lines of a run in `seq` order, published once and shared by every subscriber."""

    run_id: str
    lines: list[StoredLine]
    # Set on the first batch a subscriber gets after falling behind (and catching up).
    lagged: bool = False
    # Whatever the GraphQL layer derives from the batch, computed once for all subscribers.
    shared: dict[Any, Any] = field(default_factory=dict)

    @property
    def last_seq(self) -> int:
        """The cursor of the batch's last line (0 when empty)."""
        return self.lines[-1].seq if self.lines else 0


@dataclass(frozen=True)
class LogComplete:
    """Published once the run's log is whole and archived: nothing more will come after
    `last_seq`, so a subscriber that has seen it is done without asking the database."""

    run_id: str
    last_seq: int


Item = LogBatch | LogComplete


class _RunLog:
    """A run's log in this process: the next `seq`, the lines waiting for the run's writer (the
    one task that numbers, stores and publishes them, in `seq` order), and the window of the
    latest published batches (where lagged and new subscribers catch up)."""

    def __init__(self, next_seq: int) -> None:
        self.next_seq = next_seq
        self.followers = 0
        # Lines handed over by the run's followers, not stored yet; the task that stores them.
        self.pending: list[tuple[str, int, list[RawLine]]] = []
        self.pending_lines = 0
        self.writer: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()
        self.last_publish = 0.0
        # Published batches, contiguous in `seq`, oldest first; bounded in lines and characters.
        self.window: deque[LogBatch] = deque()
        self._window_lines = 0
        self._window_chars = 0

    def remember(self, batch: LogBatch) -> None:
        """Add a just-published batch; forget the oldest ones beyond the window's bounds."""
        self.window.append(batch)
        self._window_lines += len(batch.lines)
        self._window_chars += sum(len(line.text) for line in batch.lines)
        while len(self.window) > 1 and (
            self._window_lines > WINDOW_LINES or self._window_chars > WINDOW_CHARS
        ):
            old = self.window.popleft()
            self._window_lines -= len(old.lines)
            self._window_chars -= sum(len(line.text) for line in old.lines)

    def forget(self) -> None:
        """Drop the window (the log is archived: nobody lags behind a live log any more)."""
        self.window.clear()
        self._window_lines = self._window_chars = 0

    def since(self, after: int) -> list[LogBatch] | None:
        """Every published batch with lines after `after`, if the window reaches back to it
        (None: older lines are only in the database)."""
        if not self.window or self.window[0].lines[0].seq > after + 1:
            # Nothing published after the cursor (a subscriber at the head): nothing to read.
            return [] if self.next_seq and after >= self.next_seq - 1 else None
        return [batch for batch in self.window if batch.last_seq > after]


def _split(lines: list[StoredLine]) -> list[list[StoredLine]]:
    """Lines in `seq` order as batches: one container and attempt each, at most MAX_BATCH."""
    batches: list[list[StoredLine]] = []
    for line in lines:
        last = batches[-1][-1] if batches else None
        if (
            last is None
            or (last.container, last.attempt) != (line.container, line.attempt)
            or len(batches[-1]) >= MAX_BATCH
        ):
            batches.append([])
        batches[-1].append(line)
    return batches


def publish(hub: Hub[Item], run_id: str, lines: list[StoredLine], window: _RunLog | None) -> None:
    """Publish stored lines in batches of one container and at most MAX_BATCH lines, kept
    in the run's `window` if given."""
    for part in _split(lines):
        batch = LogBatch(run_id, part)
        if window is not None:
            window.remember(batch)
        hub.publish(log_topic(run_id), batch)
