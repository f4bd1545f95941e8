"""Stopping runs: cancel on request, and the Kubernetes side of stopping a Job's pods.

A cancelled run is recorded first (CANCELLED is final, so no later watch event can move it),
then its Kubernetes Job is suspended: the Job controller deletes its pods with their grace
period, the kubelet stops the main container, and the upload sidecar still uploads what the run
wrote. The Job object itself goes later, with the clean-up of finished runs
(app/services/janitor.py).
"""

from __future__ import annotations

import logging

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from app.db.models import Run
from app.domain.errors import ErrorCode, UserError
from app.domain.status import CANCELLED, RunStatus
from app.events.hub import Hub
from app.services.runs import end_run, settle_unstarted

log = logging.getLogger(__name__)


async def suspend_kube_job(api: client.ApiClient, namespace: str, name: str) -> bool:
    """Suspend a run's Kubernetes Job (its pods are stopped gracefully); True when done or the
    Job is gone, False when the cluster could not be told (to be retried)."""
    try:
        await client.BatchV1Api(api).patch_namespaced_job(
            name, namespace, {"spec": {"suspend": True}}
        )
    except ApiException as exc:
        if exc.status == 404:
            return True
        log.warning("suspending Kubernetes Job %s failed: %s %s", name, exc.status, exc.reason)
        return False
    except Exception as exc:
        log.warning("suspending Kubernetes Job %s failed: %r", name, exc)
        return False
    return True


async def cancel_run(
    api: client.ApiClient, hub: Hub[Run], namespace: str, run: Run, *, by: str
) -> UserError | None:
    """Cancel an unfinished run on behalf of `by` (shown on its timeline), then stop its pod;
    an error when the run had already ended."""
    if not await end_run(hub, run, RunStatus.CANCELLED, CANCELLED, f"Cancelled by {by}."):
        return UserError(
            "runId",
            f"The run has already ended ({run.status.value}); there is nothing to cancel.",
            ErrorCode.ALREADY_FINISHED,
        )
    await settle_unstarted(hub, run)
    if not await suspend_kube_job(api, namespace, run.kube_name):
        # Recorded all the same: the clean-up loop stops the pod once the cluster answers.
        log.warning("run %s is cancelled; its pod is stopped by the clean-up loop", run.id)
    return None
