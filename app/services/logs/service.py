"""`LogService`: the parts of run logs in one object, and who follows pods (the logs Lease).

- **Leadership.** Only the holder of the logs Lease (`app.kube.lease`, set by the platform
  through `set_leading`) follows pods and archives: two followers of one pod would number the
  same lines twice. A replica that does not lead serves its subscribers from the database
  (`tail.py`).
- **Stepping down.** A leader that steps down stops its followers, stores and publishes what
  they read, then lets the Lease go; the next one resumes every unfinished stream as after a
  restart (with `sinceTime` and de-duplication, `follow.py`), archives the runs that ended
  meanwhile and ends the subscriptions of runs archived before.
- **Restarts.** The service holds nothing a restart loses: sequence numbers are read back from
  the database, and streams not read whole are resumed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy

from kubernetes_asyncio import client

from app.db.models import Run
from app.events.hub import Hub, Lagged
from app.services.logs.archive import Archiving
from app.services.logs.follow import Following
from app.services.logs.publish import topic_run
from app.services.logs.store import last_seq
from app.services.logs.subscribe import Subscribing
from app.services.logs.tail import Tailing
from app.services.logs.write import Writing
from app.services.runs import ALL_RUNS_TOPIC
from app.services.tracker import RunTracker

# A leader stepping down waits at most this long for its writers and archives (the Lease's
# renew deadline is 10 s, its duration 15 s).
STEP_DOWN_SECONDS = 4.0
# Followers hold one HTTP connection each for as long as their container runs.
FOLLOWER_CONNECTIONS = 1000


class LogService(Subscribing, Archiving, Tailing, Following, Writing):
    """Followers, the line store and the log topics of every run this process follows."""

    # -- lifecycle --------------------------------------------------------------------------

    def start(
        self, api: client.ApiClient, namespace: str, tracker: RunTracker, runs_hub: Hub[Run]
    ) -> None:
        """Follow the pods `tracker` watches; archive runs as `runs_hub` tells their end."""
        configuration = copy.copy(api.configuration)
        configuration.connection_pool_maxsize = FOLLOWER_CONNECTIONS
        self._api = client.ApiClient(configuration=configuration)
        self._namespace = namespace
        self._tracker = tracker
        tracker.pod_listeners.append(self.on_pod)
        self._watch = asyncio.create_task(self._watch_runs(runs_hub), name="logs-runs")

    async def stop(self) -> None:
        """Stop every follower (a restart resumes them from what is stored)."""
        self._stopping = True
        tasks = [*self.followers.values(), *self._tasks]
        if self._watch is not None:
            tasks.append(self._watch)
        # Until nothing is left: a follower ending meanwhile may have spawned an archive task
        # (none may touch the database once it is closed).
        while tasks:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            tasks = [*self.followers.values(), *self._tasks]
        self._stopping = False
        self.followers.clear()
        self._tasks.clear()
        self._tailers.clear()
        # Sequence numbers are read from the database again: an insert may have been cut short.
        self._runs.clear()
        if self._api is not None:
            await self._api.close()
            self._api = None

    # -- leadership and the end of a run ----------------------------------------------------

    async def _watch_runs(self, runs_hub: Hub[Run]) -> None:
        with runs_hub.subscribe(ALL_RUNS_TOPIC) as feed:
            while True:
                try:
                    batch = await feed.next_batch()
                except Lagged:
                    if self.leading:
                        self._spawn(self.sweep())
                    continue
                for run in batch:
                    if run.status.terminal and self.leading:
                        self._spawn(self._maybe_archive(str(run.id)))

    async def set_leading(self, leading: bool) -> None:
        """This replica starts or stops holding the logs Lease (`app.kube.lease`).

        Leading: once the pods are listed, follow every pod's containers (resuming what is
        stored, as after a restart), archive the runs that ended meanwhile, and end the
        subscriptions of runs archived before. No longer leading: stop following (the new
        leader resumes the streams), store what was read and finish archives under way, then
        serve subscribers from the database.
        """
        if leading:
            if self._tracker is not None:
                await self._tracker.wait_synced()
            self.leading = True
            for pod in list(self._pods().values()):
                await self.on_pod("MODIFIED", pod)
            self._spawn(self.sweep())
            for run_id in self._subscribed_runs():
                # Archived by the previous leader: its LogComplete went to its own subscribers.
                await self._publish_complete(run_id, await last_seq(run_id))
            return
        self.leading = False
        followers = list(self.followers.values())
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)
        # What they read is stored and published before the Lease goes (a writer is never cut
        # off inside its INSERT's transaction; one that cannot store drops its lines, which the
        # next leader reads again); archives under way end. Then the numbers are the next
        # leader's.
        for run_id, run in list(self._runs.items()):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained(run_id), STEP_DOWN_SECONDS)
            if run.writer is not None:
                run.writer.cancel()
                await asyncio.gather(run.writer, return_exceptions=True)
        if self._archiving:
            await asyncio.wait(list(self._archiving), timeout=STEP_DOWN_SECONDS)
        self._runs.clear()
        for run_id in self._subscribed_runs():
            self._ensure_tailer(run_id)

    def _subscribed_runs(self) -> list[str]:
        """The runs whose logs have subscribers on this replica."""
        return [run_id for t in self.hub.topics() if (run_id := topic_run(t)) is not None]
