"""The state a process keeps about run logs, shared by the parts of `LogService`.

`LogService` (`service.py`) is assembled from one class per responsibility: following pods
(`follow.py`), storing and publishing lines (`write.py`), serving a replica that does not lead
(`tail.py`), archiving (`archive.py`) and subscribing (`subscribe.py`). Each works on the state
set up here, in one object, so that they see the same runs, followers and leadership. The few
methods one part calls on another are declared here, so each module reads (and type-checks)
on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from uuid import UUID

from kubernetes_asyncio import client

from app.events.hub import Hub
from app.kube.logfollower import RawLine
from app.services.logs.cap import DEFAULT_MAX_LINES
from app.services.logs.publish import Item, _RunLog
from app.services.logs.store import BACKLOG_BATCH, StoredLine, read_lines
from app.services.tracker import RunTracker
from app.storage.base import ObjectStore

SUBSCRIBER_BUFFER = 64

Obj = dict[str, Any]


class LogCore:
    """The state of every run's log in this process, and the helpers every part uses."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        buffer: int = SUBSCRIBER_BUFFER,
        max_lines: int = DEFAULT_MAX_LINES,
    ) -> None:
        self.store = store
        # Lines stored per run at most (`app.services.logs.cap`).
        self.max_lines = max_lines
        self.hub: Hub[Item] = Hub(buffer)
        # Batches a subscriber may have queued before it counts as lagging.
        self.buffer = buffer
        self._api: client.ApiClient | None = None
        self._namespace = ""
        self._tracker: RunTracker | None = None
        self._runs: dict[str, _RunLog] = {}
        self._run_locks: dict[str, asyncio.Lock] = {}
        # (pod uid, container) -> its follower task; and those known to be read whole.
        self.followers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._ended: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._watch: asyncio.Task[None] | None = None
        self._stopping = False
        # Whether this replica holds the logs Lease: only then does it follow pods and archive
        # (`set_leading`); otherwise its subscribers' lines come from the database (`_tail`).
        self.leading = False
        self._tailers: dict[str, asyncio.Task[None]] = {}
        self._archiving: set[asyncio.Task[Any]] = set()  # archives under way

    def active_followers(self, run_id: UUID | str) -> int:
        """How many containers of the run are being followed now."""
        run = self._runs.get(str(run_id))
        return run.followers if run is not None else 0

    def _run(self, run_id: str) -> _RunLog:
        run = self._runs.get(run_id)
        if run is None:
            run = self._runs[run_id] = _RunLog(next_seq=0)  # 0: not read from the database yet
        return run

    def _spawn(self, coro: Any) -> None:
        if self._stopping:
            coro.close()
            return
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _pods(self) -> Mapping[str, Obj]:
        return self._tracker.pods.cache if self._tracker is not None else {}

    async def lines(
        self,
        run_id: UUID | str,
        *,
        after: int | None = None,
        before: int | None = None,
        container: str | None = None,
        limit: int = BACKLOG_BATCH,
        newest_first: bool = False,
    ) -> list[StoredLine]:
        """Up to `limit` stored lines with `after < seq < before`, oldest first unless asked."""
        return await read_lines(
            run_id,
            after=after,
            before=before,
            container=container,
            limit=limit,
            newest_first=newest_first,
        )

    if TYPE_CHECKING:
        # What the parts call on each other (`LogService` has them all).

        # follow.py
        async def on_pod(self, kind: str, pod: Obj) -> None: ...

        # write.py
        async def _append(
            self, run_id: str, container: str, attempt: int, lines: list[RawLine]
        ) -> None: ...

        async def _drained(self, run_id: str) -> None: ...

        # archive.py
        async def _maybe_archive(self, run_id: str, *, force: bool = False) -> None: ...

        # tail.py
        def _ensure_tailer(self, run_id: str) -> None: ...
