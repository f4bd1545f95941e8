"""Serving subscribers on a replica that does not lead: lines read back from the database.

Only the holder of the logs Lease follows pods (`service.py`). A replica that does not lead
serves its subscribers from the database: while a run has subscribers there, it reads the lines
the leader stored every `TAIL_SECONDS` and publishes them as the writer would (`_tail`), then
the log's completion once the leader archived it. A subscriber that sees a gap in `seq` (lines
stored while leadership moved) reads it from the database before going on (`subscribe.py`).
"""

from __future__ import annotations

import asyncio
import functools
import logging

from app.db.log_models import LogArchive
from app.services.logs.core import LogCore
from app.services.logs.publish import LogComplete, log_topic, publish
from app.services.logs.store import last_seq
from app.services.logs.write import STORE_LINES

log = logging.getLogger(__name__)

# How often a replica that does not lead looks for new lines of a run it has subscribers to.
TAIL_SECONDS = 0.2


class Tailing(LogCore):
    """One tailer per run with subscribers here, while another replica leads."""

    def _ensure_tailer(self, run_id: str) -> None:
        task = self._tailers.get(run_id)
        if not self.leading and (task is None or task.done()) and not self._stopping:
            self._tailers[run_id] = task = asyncio.create_task(self._tail(run_id))
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._tailer_done, run_id))

    def _tailer_done(self, run_id: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._tailers.get(run_id) is task:
            del self._tailers[run_id]

    async def _tail(self, run_id: str) -> None:
        """While another replica leads and this one has subscribers to the run: publish the
        lines the leader stores, as its writer does, then the log's completion once archived.
        Subscribers fill any gap (lines stored before this started) from the database; no
        window is kept here, since what this publishes need not follow on from what it did
        before it last stopped."""
        topic = log_topic(run_id)
        after, delay = None, TAIL_SECONDS
        while not self.leading and self.hub.subscriber_count(topic):
            try:
                if after is None:
                    after = await last_seq(run_id)
                if lines := await self.lines(run_id, after=after, limit=STORE_LINES):
                    after = lines[-1].seq
                    publish(self.hub, run_id, lines, None)
                    continue
                if await self._publish_complete(run_id, after):
                    return
                delay = TAIL_SECONDS
            except Exception:
                log.exception("log %s: reading new lines failed", run_id)
                delay = min(delay * 2, 5.0)
            await asyncio.sleep(delay)

    async def _publish_complete(self, run_id: str, after: int) -> bool:
        """Tell the run's subscribers its log is whole, if it is archived and has nothing
        after `after`."""
        if not await LogArchive.exists(run_id=run_id):
            return False
        if await self.lines(run_id, after=after, limit=1):
            return False
        self.hub.publish(log_topic(run_id), LogComplete(run_id, after))
        return True
