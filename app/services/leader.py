"""The start/stop of a loop that runs on the Lease holder only (`Platform.leader_loops`)."""

from __future__ import annotations

import asyncio
import contextlib


class LeaderTask:
    """Runs `_loop` while this replica leads; `wake()` asks it to look again now.

    Subclasses set `task_name` and implement `_loop`, which clears `_wake` and waits on it.
    """

    task_name = "leader-loop"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    @property
    def running(self) -> bool:
        """Whether the loop runs (this replica leads)."""
        return self._task is not None

    async def set_leading(self, leading: bool) -> None:
        """Start the loop when this replica leads; stop it when it no longer does."""
        if leading and self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self.task_name)
        elif not leading and self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """Run the loop's next pass now."""
        self._wake.set()

    async def _loop(self) -> None:
        raise NotImplementedError
