"""Clean-up on the Lease holder: the namespace holds unfinished work plus a short grace.

A finished run's Kubernetes Job (with its pods and credential Secret, which it owns) is deleted
once its log is archived and its outputs are settled, `grace` after it ended; its record, log
and artifacts stay in the API. The same loop finishes what was asked but could not be done at
once: stopping the pod of a run cancelled while the cluster did not answer, settling the outputs
of a run whose pod is gone, removing the data of deleted Jobs, and removing what upload URLs
wrote after their input was finalized or deleted. Every step is idempotent, so
a replica that takes over simply does the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from tortoise.expressions import Q

from app.db.log_models import LogArchive, LogLine, LogStream
from app.db.models import Job, Run, RunEvent
from app.db.storage_models import JobInputLink
from app.domain.errors import ErrorCode, UserError
from app.domain.outputs import SETTLED
from app.domain.status import TERMINAL, UNFINISHED, RunStatus
from app.events.hub import Hub
from app.kube.labels import RUN_ID, kube_job_name
from app.services.control import suspend_kube_job
from app.services.inputs import sweep_stray_uploads
from app.services.leader import LeaderTask
from app.services.logs import LogService
from app.services.outputs import settle_outputs
from app.services.runs import end_run, settle_unstarted
from app.services.tracker import RunTracker
from app.storage.base import ObjectStore

log = logging.getLogger(__name__)

BATCH = 200
JOB_VANISHED = "JobDeleted"
# A run's Job is created right after the run is stored: only older runs can have lost theirs.
VANISHED_AFTER = timedelta(seconds=30)
UNSEEN_VANISHED_AFTER = timedelta(minutes=5)
# A run ended this long ago whose log is not archived had a pod no replica saw: archive what is
# stored (app/services/logs/archive.py waits for such a pod's lines until then).
ARCHIVE_OVERDUE = timedelta(minutes=2)
# Listing the uploads area costs a request per page: often enough for URLs that live an hour.
UPLOADS_SWEEP_INTERVAL = 300.0


class Janitor(LeaderTask):
    """Deletes finished runs' Kubernetes objects and deleted Jobs' data, on the leader only."""

    task_name = "janitor"

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        hub: Hub[Run],
        store: ObjectStore,
        tracker: RunTracker,
        logs: LogService,
        *,
        grace_seconds: float,
        interval_seconds: float,
    ) -> None:
        super().__init__()
        self._batch = client.BatchV1Api(api)
        self._api, self._namespace, self._hub = api, namespace, hub
        self._store, self._tracker, self._logs = store, tracker, logs
        self.grace = timedelta(seconds=grace_seconds)
        self.interval = interval_seconds
        self.vanished_after = VANISHED_AFTER
        self._uploads_swept_at = 0.0

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("clean-up pass failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)

    async def sweep(self) -> None:
        """One pass: stop cancelled pods, settle outputs, clean finished runs, remove Jobs."""
        await self._fail_vanished()
        await self._stop_cancelled()
        await self._clean_finished()
        for job_id in await Job.filter(deleting_at__not_isnull=True).values_list("id", flat=True):
            await self.remove_job(UUID(str(job_id)))
        if time.monotonic() - self._uploads_swept_at >= UPLOADS_SWEEP_INTERVAL:
            await self.sweep_uploads()

    async def sweep_uploads(self) -> int:
        """Remove what upload URLs wrote after their input was finalized or deleted."""
        self._uploads_swept_at = time.monotonic()
        removed = await sweep_stray_uploads(self._store)
        if removed:
            log.info("removed %d upload(s) of finalized or deleted inputs", removed)
        return removed

    async def _fail_vanished(self) -> None:
        """An unfinished run whose Kubernetes Job is gone (deleted by hand, or a cluster that
        lost its state) can never finish: record that, rather than leave it waiting forever."""
        if not (self._tracker.jobs.synced.is_set() and self._tracker.pods.synced.is_set()):
            return
        now = datetime.now(UTC)
        # A run still SUBMITTED has not had its Job seen yet (creation may be slow under load):
        # only a long wait says it is gone. A run seen PENDING or RUNNING had one.
        seen = Q(
            status__in=[RunStatus.PENDING, RunStatus.RUNNING],
            submitted_at__lte=now - self.vanished_after,
        )
        unseen = Q(status=RunStatus.SUBMITTED, submitted_at__lte=now - UNSEEN_VANISHED_AFTER)
        for run in await Run.filter(seen | unseen):
            if run.kube_name in self._tracker.jobs.cache or self._has_pod(str(run.id)):
                continue
            message = "Its Kubernetes Job was deleted outside the platform; rerun the Job."
            if await end_run(self._hub, run, RunStatus.FAILED, JOB_VANISHED, message):
                log.warning("run %s failed: its Kubernetes Job is gone", run.id)
                await settle_unstarted(self._hub, run)

    async def _stop_cancelled(self) -> None:
        """A run that must not run whose Kubernetes Job still runs pods: suspend it (again).
        That is a cancelled run, or one back in the queue (preempted or evicted) whose
        suspension did not reach the cluster when it was requeued."""
        for name, job in list(self._tracker.jobs.cache.items()):
            run_id = (job.get("metadata", {}).get("labels") or {}).get(RUN_ID)
            if run_id is None or job.get("spec", {}).get("suspend"):
                continue
            if job.get("status", {}).get("completionTime") or not job.get("status", {}).get(
                "active"
            ):
                continue
            cancelled = Q(status=RunStatus.CANCELLED)
            queued = Q(status__in=list(UNFINISHED), admitted_at=None)
            if await Run.filter(cancelled | queued, id=run_id).exists():
                await suspend_kube_job(self._api, self._namespace, name)

    async def _clean_finished(self) -> None:
        due = datetime.now(UTC) - self.grace
        overdue = datetime.now(UTC) - ARCHIVE_OVERDUE
        runs = (
            await Run.filter(status__in=list(TERMINAL), cleaned_at=None, finished_at__lte=due)
            .order_by("finished_at")
            .limit(BATCH)
        )
        for run in runs:
            if run.outputs_status not in SETTLED and not self._has_pod(str(run.id)):
                await settle_outputs(self._store, self._hub, str(run.id), None)
                await run.refresh_from_db(fields=["outputs_status", "version"])
            if run.outputs_status not in SETTLED:
                continue  # the upload goes on (the sidecar has the pod's grace period)
            if not await LogArchive.exists(run_id=run.id):
                if run.finished_at is not None and run.finished_at < overdue:
                    await self._logs.archive_overdue(str(run.id))
                continue  # its streams are still read
            if await self._delete_kube_job(run.kube_name):
                await Run.filter(id=run.id).update(cleaned_at=datetime.now(UTC))

    def _has_pod(self, run_id: str) -> bool:
        return any(
            (pod["metadata"].get("labels") or {}).get(RUN_ID) == run_id
            for pod in self._tracker.pods.cache.values()
        )

    async def _delete_kube_job(self, name: str) -> bool:
        """Delete a run's Kubernetes Job with its pods and Secret; True once it is gone."""
        try:
            await self._batch.delete_namespaced_job(
                name, self._namespace, propagation_policy="Background"
            )
        except ApiException as exc:
            if exc.status == 404:
                return True
            log.warning("deleting Kubernetes Job %s failed: %s %s", name, exc.status, exc.reason)
            return False
        return True

    async def remove_job(self, job_id: UUID) -> None:
        """Delete a Job being deleted with everything of its runs: Kubernetes objects, stored
        log lines, archives and outputs in object storage, then the rows."""
        for run_id, cleaned in await Run.filter(job_id=job_id).values_list("id", "cleaned_at"):
            if cleaned is None and not await self._delete_kube_job(kube_job_name(str(run_id))):
                return  # the cluster does not answer: next pass
            await self._store.delete_prefix(f"runs/{run_id}/")
            await LogLine.filter(run_id=run_id).delete()
            await LogStream.filter(run_id=run_id).delete()
            await LogArchive.filter(run_id=run_id).delete()
            await RunEvent.filter(run_id=run_id).delete()
            await Run.filter(id=run_id).delete()
        await JobInputLink.filter(job_id=job_id).delete()
        await Job.filter(id=job_id).delete()
        log.info("job %s deleted with its runs' data", job_id)


async def request_job_deletion(job: Job) -> tuple[int, UserError | None]:
    """Mark a Job for deletion (gone for clients at once; its data goes in the background):
    the number of its runs, or an error while some have not finished."""
    unfinished = await Run.filter(job_id=job.id, status__in=list(UNFINISHED)).count()
    if unfinished:
        return 0, UserError(
            "id",
            f"{unfinished} run(s) of this Job have not finished; cancel them or wait.",
            ErrorCode.IN_USE,
        )
    runs = await Run.filter(job_id=job.id).count()
    await Job.filter(id=job.id, deleting_at=None).update(deleting_at=datetime.now(UTC))
    return runs, None
