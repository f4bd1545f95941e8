"""Following pods: one upstream log stream per (pod, container), whatever the subscribers.

- **Followers.** Started from the pod watch for every container (init containers and sidecars
  included) that runs or ran, one per (pod, container) whatever the number of subscribers, zero
  included: logs are kept when nobody watches. A preempted run's next pod is the next
  `attempt`; earlier attempts' lines stay. A stream read whole is recorded (`LogStream.ended`),
  so a restart resumes only unfinished ones, with `sinceTime` and de-duplication.
- **Handing lines over.** A follower hands what each read returned to the run's writer
  (`write.py`) and reads on; its stream counts as read whole only once those lines are stored.
  When a follower ends, the run may be due for its archive (`archive.py`).
- **Only the leader follows** (`service.py`): two followers of one pod would number the same
  lines twice.
"""

from __future__ import annotations

import asyncio
import functools
import logging

from app.db.log_models import LogStream
from app.kube.labels import RUN_ID
from app.kube.logfollower import Dedup, LogFollower, RawLine
from app.services.logs.core import LogCore, Obj
from app.services.logs.publish import MAX_BATCH
from app.services.logs.store import stored_tail, stream_row

log = logging.getLogger(__name__)


def _container_names(pod: Obj) -> list[tuple[str, bool]]:
    """(name, ran-or-runs) for every init container, sidecar and container of a pod."""
    status = pod.get("status") or {}
    found = []
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        started = "running" in state or "terminated" in state or bool(cs.get("lastState"))
        found.append((cs["name"], started))
    return found


def _terminated(pod: Obj, container: str) -> bool:
    status = pod.get("status") or {}
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        if cs.get("name") == container:
            return "terminated" in (cs.get("state") or {})
    return False


class Following(LogCore):
    """The followers of every pod's containers (while this replica leads)."""

    async def on_pod(self, kind: str, pod: Obj) -> None:
        """Pod watch handler: start a follower for each container that runs or ran."""
        meta = pod.get("metadata") or {}
        run_id = (meta.get("labels") or {}).get(RUN_ID)
        uid = meta.get("uid")
        if run_id is None or uid is None or self._api is None or not self.leading:
            return
        for container, started in _container_names(pod):
            key = (uid, container)
            if kind == "DELETED":
                self._ended.discard(key)
                continue
            if started and key not in self.followers and key not in self._ended:
                task = asyncio.create_task(
                    self._follow(run_id, pod, container), name=f"log-{meta.get('name')}-{container}"
                )
                self.followers[key] = task
                self._run(run_id).followers += 1
                task.add_done_callback(functools.partial(self._follower_done, key, run_id))

    def _follower_done(self, key: tuple[str, str], run_id: str, _: object) -> None:
        task = self.followers.pop(key, None)
        self._run(run_id).followers -= 1
        if task is not None and not task.cancelled():
            if task.exception() is None:
                self._ended.add(key)
            else:
                log.error("log follower %s failed", key, exc_info=task.exception())
            self._spawn(self._maybe_archive(run_id))

    async def _follow(self, run_id: str, pod: Obj, container: str) -> None:
        meta = pod["metadata"]
        uid, name = meta["uid"], meta["name"]
        stream = await self._stream_row(run_id, uid, name, container)
        if stream.ended:
            return
        last, at_last = await stored_tail(run_id, container, stream.attempt)

        async def sink(lines: list[RawLine]) -> None:
            await self._append(run_id, container, stream.attempt, lines)

        def finished() -> bool:
            current = self._pods().get(name)
            if current is None or current["metadata"].get("uid") != uid:
                return True
            return _terminated(current, container)

        assert self._api is not None
        follower = LogFollower(
            self._api,
            self._namespace,
            name,
            container,
            sink,
            finished,
            Dedup(last, at_last),
            max_batch=MAX_BATCH,
        )
        await follower.run()
        await self._drained(run_id)
        await LogStream.filter(id=stream.id).update(ended=True)

    async def _stream_row(self, run_id: str, uid: str, name: str, container: str) -> LogStream:
        """The stream's record; a pod seen for the first time is the run's next attempt."""
        lock = self._run_locks.setdefault(run_id, asyncio.Lock())
        async with lock:
            return await stream_row(run_id, uid, name, container)
