"""A run's writer: the one task that numbers a run's lines, stores them, then publishes them.

- **Batching.** Followers hand what each read returned to the run's writer and read on; the
  writer stores what is pending (up to `STORE_LINES` at a time) with one `executemany` (no model
  object per row), then publishes it in batches of one container and at most `MAX_BATCH` lines
  (`publish.py`), at most once per `LINGER_SECONDS` unless more is waiting. A quiet log goes out
  line by line at once; a fast one as a few large messages, which is what fan-out to many
  websockets needs (DESIGN.md: per-message cost dominates). The linger counts from when the
  previous batch was taken, so storing and fanning it out is part of it. Followers wait only
  while more than `PENDING_LINES` lines are not stored yet (the database is slow or down).
- **Stored, then published.** Publishing a batch as soon as it has its numbers, with the
  INSERT behind it, would save the INSERT's few milliseconds of latency, but a crash between
  the two would have shown clients lines that were never stored: the restarted follower reads
  them again from Kubernetes and numbers them afresh, and with two containers interleaving the
  numbers can differ, so a client resuming from its cursor would see duplicates or gaps. So a
  batch is published only once stored: whatever a client saw survives any restart, and what
  was pending when the process died was seen by nobody and is simply read again.
- **The cap.** A run stores at most `max_lines` lines (`cap.py`).
"""

from __future__ import annotations

import asyncio
import logging

from app.kube.logfollower import RawLine
from app.services.logs.cap import capped
from app.services.logs.core import LogCore
from app.services.logs.publish import MAX_BATCH, _RunLog, publish
from app.services.logs.store import StoredLine, insert_lines, last_seq

log = logging.getLogger(__name__)

# A run's lines are published at most this often: under load, fewer and larger messages.
LINGER_SECONDS = 0.03
# Lines handed to a run's writer and not stored yet, beyond which its followers wait.
PENDING_LINES = 20_000
# A burst is stored in statements of at most this many lines (about 15 ms on SQLite), each
# published once stored: its first lines go out while the rest is being written.
STORE_LINES = 2000


def _take(
    pending: list[tuple[str, int, list[RawLine]]], limit: int
) -> tuple[list[tuple[str, int, list[RawLine]]], int]:
    """The oldest groups of pending lines, up to `limit` lines (at least one group), removed."""
    taken, count = 0, 0
    while taken < len(pending) and (not taken or count + len(pending[taken][2]) <= limit):
        count += len(pending[taken][2])
        taken += 1
    groups = pending[:taken]
    del pending[:taken]
    return groups, count


class Writing(LogCore):
    """Every run's writer: lines in from the followers, stored and published in `seq` order."""

    async def _append(
        self, run_id: str, container: str, attempt: int, lines: list[RawLine]
    ) -> None:
        """Hand lines to the run's writer (waiting only while it is far behind)."""
        run = self._run(run_id)
        while run.pending_lines >= PENDING_LINES:
            await asyncio.sleep(0.01)  # the database is slow or down: hold the stream
        run.pending.append((container, attempt, lines))
        run.pending_lines += len(lines)
        run.idle.clear()
        if run.writer is None or run.writer.done():
            run.writer = asyncio.create_task(self._write(run_id, run), name=f"logs-{run_id}")
            self._tasks.add(run.writer)
            run.writer.add_done_callback(self._tasks.discard)
        run.wake.set()

    async def _drained(self, run_id: str) -> None:
        """Until every line handed to the run's writer is stored and published."""
        run = self._run(run_id)
        while run.pending_lines or not run.idle.is_set():
            await run.idle.wait()

    async def _write(self, run_id: str, run: _RunLog) -> None:
        """The run's writer: stores what the followers handed over, then publishes it.

        It publishes at most once per `LINGER_SECONDS` (lines arriving meanwhile join the next
        batch), so a fast printer makes a few large messages rather than many small ones, and a
        quiet one gets each line out at once.
        """
        loop = asyncio.get_running_loop()
        delay = 0.1
        while True:
            if not run.pending:
                run.idle.set()
                run.wake.clear()
                await run.wake.wait()
                continue
            wait = run.last_publish + LINGER_SECONDS - loop.time()
            if wait > 0 and run.pending_lines < MAX_BATCH:
                await asyncio.sleep(wait)
            groups, count = _take(run.pending, STORE_LINES)
            run.pending_lines -= count
            started = loop.time()
            try:
                await self._store(run_id, run, groups)
            except Exception:
                log.exception("log %s: storing lines failed", run_id)
                if not self.leading:
                    # Another replica leads (or will): it reads these lines again from the
                    # cluster, under its own numbers.
                    run.pending.clear()
                    run.pending_lines = 0
                    continue
                # Nothing was published: the same lines get the same numbers on the next try.
                run.pending[:0] = groups
                run.pending_lines += count
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.1
            # From when this batch was taken: storing and fanning it out counts as lingering.
            run.last_publish = started

    async def _store(
        self, run_id: str, run: _RunLog, groups: list[tuple[str, int, list[RawLine]]]
    ) -> None:
        """Give lines the next sequence numbers, store them (one INSERT), then publish them in
        batches of one container and at most MAX_BATCH lines."""
        if run.next_seq == 0:
            run.next_seq = await last_seq(run_id) + 1
        seq = run.next_seq
        stored: list[StoredLine] = []
        for container, attempt, lines in groups:
            for line in lines:
                stored.append(StoredLine(seq, container, attempt, line.ts, line.text))
                seq += 1
        stored = capped(stored, self.max_lines)
        if stored:
            await insert_lines(run_id, stored)
        run.next_seq = min(seq, self.max_lines + 1)
        publish(self.hub, run_id, stored, run)
