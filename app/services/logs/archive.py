"""Archiving: a run's whole log written to object storage once it can grow no more.

- **Archive.** When the run is terminal and every one of its streams ended, each container's
  log is written to object storage (`runs/<run-id>/logs/<container>.log`, `<timestamp> <text>`
  per line, as `kubectl logs --timestamps` prints), its keys recorded in `LogArchive` (that is
  the download), the run's in-memory window dropped, and subscribers told the log is complete.
  Only the holder of the logs Lease archives (`service.py`).
- **Deleting the Job.** The clean-up loop (`app/services/janitor.py`) deletes a run's
  Kubernetes Job only once `LogArchive` exists, which is written only when no follower of the
  run is active: deleting it earlier would lose the tail of a log. A run whose Job ran a pod
  that the pod watch never showed waits for that pod's lines, until the clean-up loop gives up
  on it (`archive_overdue`) and what is stored is archived.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from uuid import UUID

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Subquery

from app.db.log_models import LogArchive, LogLine, LogStream
from app.db.models import Run
from app.domain.status import TERMINAL
from app.kube.labels import RUN_ID, kube_job_name
from app.services.logs.core import LogCore
from app.services.logs.publish import LogComplete, log_topic

DOWNLOAD_URL_SECONDS = 3600


def archive_key(run_id: UUID | str, container: str) -> str:
    """Where a container's whole log is archived."""
    return f"runs/{run_id}/logs/{container}.log"


class Archiving(LogCore):
    """Archives of runs' logs: writing them (while leading) and handing them out."""

    async def sweep(self) -> None:
        """Archive every terminal run not archived yet (on start, once the pods are listed)."""
        pending = Run.filter(status__in=list(TERMINAL)).exclude(
            id__in=Subquery(LogArchive.all().values("run_id"))
        )
        for run_id in await pending.values_list("id", flat=True):
            await self._maybe_archive(str(run_id))

    async def _maybe_archive(self, run_id: str, *, force: bool = False) -> None:
        """Archive the run's log if it is terminal and every stream of it ended (`force`: even
        if its Job ran a pod that the pod watch never showed)."""
        task = asyncio.current_task()
        assert task is not None
        self._archiving.add(task)  # a leader stepping down lets it finish
        try:
            await self._archive_if_due(run_id, force=force)
        finally:
            self._archiving.discard(task)

    async def archive_overdue(self, run_id: str) -> None:
        """Archive a run that ended long ago whatever its pods showed (the clean-up loop's
        last resort: a pod deleted while no replica led is never seen)."""
        if self.leading:
            await self._maybe_archive(run_id, force=True)

    async def _pod_unseen(self, run_id: str) -> bool:
        """The run's Job ran a pod, but no stream of it was ever followed: the Jobs watch told
        the end before the Pods watch showed the pod, whose lines are still to be read."""
        job = self._tracker.jobs.cache.get(kube_job_name(run_id)) if self._tracker else None
        status = (job or {}).get("status") or {}
        ran = any(status.get(key) for key in ("active", "succeeded", "failed"))
        return ran and not await LogStream.exists(run_id=run_id)

    async def _archive_if_due(self, run_id: str, *, force: bool = False) -> None:
        lock = self._run_locks.setdefault(run_id, asyncio.Lock())
        async with lock:
            if not self.leading or self.active_followers(run_id):
                return
            run = await Run.get_or_none(id=run_id)
            if run is None or not run.status.terminal:
                return
            if await LogArchive.exists(run_id=run_id):
                return
            # The run may have ended before the pod watch showed its containers running.
            for pod in list(self._pods().values()):
                if (pod["metadata"].get("labels") or {}).get(RUN_ID) == run_id:
                    await self.on_pod("MODIFIED", pod)
            if self.active_followers(run_id) or (not force and await self._pod_unseen(run_id)):
                return
            # Streams left unfinished by a pod that is gone now cannot be read any more.
            await LogStream.filter(run_id=run_id, ended=False).update(ended=True)
            objects, total, last_seq, size = await self._write_archive(run_id)
            # Archived already by the other leader of a handover, from the same stored lines.
            with contextlib.suppress(IntegrityError):
                await LogArchive.create(run_id=run_id, objects=objects, lines=total, bytes=size)
            if run_id in self._runs:
                self._runs[run_id].forget()
        self.hub.publish(log_topic(run_id), LogComplete(run_id, last_seq))

    async def _write_archive(self, run_id: str) -> tuple[dict[str, str], int, int, int]:
        """Each container's log written to the store: their keys, the number of lines, the
        run's last `seq` and the bytes written."""
        containers = await (
            LogLine.filter(run_id=run_id).distinct().values_list("container", flat=True)
        )
        objects: dict[str, str] = {}
        read = [0, 0, 0]  # lines, highest seq, bytes
        for container in sorted(str(c) for c in containers):
            key = archive_key(run_id, container)
            await self.store.put(
                key,
                self._archive_chunks(run_id, container, read),
                content_type="text/plain; charset=utf-8",
            )
            objects[container] = key
        return objects, read[0], read[1], read[2]

    async def _archive_chunks(
        self, run_id: str, container: str, read: list[int]
    ) -> AsyncIterator[bytes]:
        after = 0
        while page := await self.lines(run_id, after=after, container=container, limit=5000):
            after = page[-1].seq
            read[0] += len(page)
            read[1] = max(read[1], after)
            chunk = "".join(f"{line.ts} {line.text}\n" for line in page).encode()
            read[2] += len(chunk)
            yield chunk

    # -- handing archives out ---------------------------------------------------------------

    async def archive(self, run_id: UUID | str) -> LogArchive | None:
        """The run's archive record, once its log is whole."""
        return await LogArchive.get_or_none(run_id=run_id)

    async def download_url(self, run_id: UUID | str, container: str) -> str | None:
        """A URL to download a container's whole log; None until the run's log is archived."""
        archive = await self.archive(run_id)
        if archive is None or container not in archive.objects:
            return None
        return await self.store.presign_get(
            archive.objects[container],
            expires_in=DOWNLOAD_URL_SECONDS,
            filename=f"{run_id}-{container}.log",
        )
