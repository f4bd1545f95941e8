"""Subscribing to a run's log: the backlog after the client's cursor, then live batches.

- **Subscriptions without races.** Subscribe to the topic, then read the backlog after the
  client's cursor (window or database), then emit live batches newer than what was sent;
  batches are stored before they are published and published in `seq` order (`write.py`), so a
  line is always in the database or the window, or in the feed.
- **Bounded queues.** Each subscriber buffers at most `SUBSCRIBER_BUFFER` batches. One that
  falls behind is dropped from the live feed (`Lagged`), catches up after its own cursor, and
  its next batch says `lagged`: it never slows the follower or anyone else. It catches up from
  the run's window (`publish.py`) if the window reaches back to its cursor, else from the
  database. Batches from the window are the published objects, so they stay shared (a lagged
  subscriber gets the batch's `lagged` twin, shared as well).
- **Gaps.** A subscriber that sees a gap in `seq` (lines stored while leadership moved) reads
  it from the database before going on.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from uuid import UUID

from app.db.log_models import LogArchive
from app.events.hub import Lagged
from app.services.logs.core import LogCore
from app.services.logs.publish import Item, LogBatch, LogComplete, log_topic
from app.services.logs.store import BACKLOG_BATCH


class Subscribing(LogCore):
    """A run's log as a stream of batches, for each subscriber."""

    async def follow(
        self,
        run_id: UUID | str,
        *,
        after: int = 0,
        container: str | None = None,
        send: Callable[[LogBatch], bool] | None = None,
    ) -> AsyncGenerator[LogBatch, None]:
        """The backlog after `after`, then live batches; ends once the log is whole and sent.

        Published batches are passed on as they are (shared by every subscriber) whenever they
        follow on from what this subscriber has seen; otherwise they are trimmed or re-read.
        Catching up (at first, after falling behind) reads the run's in-memory window when it
        reaches back to the subscriber's cursor, and the database otherwise. With `send`, a
        live batch published while the subscriber waits for one is offered to `send` from the
        publisher's task (True: it took it, and the batch is not yielded).
        """
        run_id = str(run_id)
        with self.hub.subscribe(log_topic(run_id), buffer=self.buffer) as feed:
            self._ensure_tailer(run_id)  # if another replica leads
            complete = await LogArchive.exists(run_id=run_id)
            lagged, catch_up = False, True

            def deliver(item: Item) -> bool:
                nonlocal after, lagged
                if send is None or isinstance(item, LogComplete) or item.lines[0].seq > after + 1:
                    return False  # the end, or a gap: for the subscriber's own task
                if (out := _after(item, after, container, lagged)) is not None:
                    if not send(out):
                        return False
                    lagged = False
                after = max(after, item.last_seq)
                return True

            if send is not None:
                feed.deliver = deliver
            while True:
                while catch_up:
                    run = self._runs.get(run_id)
                    recent = run.since(after) if run is not None and not complete else None
                    if recent is not None:
                        # Every batch published so far; later ones are in the feed.
                        for batch in recent:
                            if (out := _after(batch, after, container, lagged)) is not None:
                                yield out
                                lagged = False
                            after = max(after, batch.last_seq)
                        catch_up = False
                        break
                    # Every container's lines, so that `after` passes the others' too: a live
                    # batch that does not follow on from it is a gap to read (below).
                    page = await self.lines(run_id, after=after)
                    mine = [line for line in page if container in (None, line.container)]
                    if mine:
                        yield LogBatch(run_id, mine, lagged=lagged)
                        lagged = False
                    if page:
                        after = page[-1].seq
                    catch_up = len(page) == BACKLOG_BATCH
                if complete:
                    return
                try:
                    items = await feed.next_batch()
                except Lagged:
                    lagged, catch_up = True, True
                    complete = await LogArchive.exists(run_id=run_id)
                    continue
                for item in items:
                    if isinstance(item, LogComplete):
                        # Whatever this subscriber has not seen yet is in the database.
                        complete, catch_up = True, catch_up or after < item.last_seq
                        continue
                    if catch_up or item.lines[0].seq > after + 1:
                        # A gap: lines stored while another replica led, before this one
                        # published; they (and what follows) are read from the database.
                        catch_up = True
                        continue
                    if (out := _after(item, after, container, lagged)) is not None:
                        yield out
                        lagged = False
                    after = max(after, item.last_seq)


def _after(batch: LogBatch, after: int, container: str | None, lagged: bool) -> LogBatch | None:
    """What a subscriber at `after` (following `container`) gets of a published batch: the
    batch itself, shared, whenever it can (its lagged twin is shared among lagged subscribers)."""
    if batch.last_seq <= after or (container is not None and batch.lines[0].container != container):
        return None
    if batch.lines[0].seq <= after:
        return LogBatch(batch.run_id, [line for line in batch.lines if line.seq > after], lagged)
    if not lagged:
        return batch
    twin = batch.shared.get(_LAGGED)
    if twin is None:
        twin = batch.shared[_LAGGED] = LogBatch(batch.run_id, batch.lines, lagged=True)
    assert isinstance(twin, LogBatch)
    return twin


_LAGGED = "lagged-twin"
