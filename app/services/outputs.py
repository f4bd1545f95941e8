"""A run's outputs: their status (from the upload sidecar's state and manifest) and listing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from app.db.models import Run
from app.domain.outputs import ManifestSummary, OutputsState, derive_outputs, sidecar_state
from app.events.hub import Hub
from app.kube.labels import RUN_ID
from app.services.runs import MAX_WRITE_ATTEMPTS, publish_if_new, record_outputs
from app.services.tracker import RunTracker
from app.sidecar.credentials import manifest_key, outputs_prefix
from app.storage.base import NotFound, ObjectInfo, ObjectStore, validate_prefix


def _newest_pod(tracker: RunTracker | None, run_id: str) -> dict[str, Any] | None:
    if tracker is None:
        return None
    pods = [
        pod
        for pod in tracker.pods.cache.values()
        if (pod.get("metadata", {}).get("labels") or {}).get(RUN_ID) == run_id
    ]
    if not pods:
        return None
    return max(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""))


async def read_manifest(store: ObjectStore, run_id: str) -> ManifestSummary | None:
    """What the sidecar's manifest says, if it wrote one."""
    try:
        manifest = json.loads(await store.get(manifest_key(run_id)))
    except (NotFound, ValueError):
        return None
    return ManifestSummary(
        files=len(manifest.get("files", [])),
        bytes=int(manifest.get("bytes", 0)),
        failed=len(manifest.get("failed", [])),
    )


async def outputs_state(
    store: ObjectStore,
    tracker: RunTracker | None,
    run_id: str,
    finished: bool,
    *,
    ran: bool = True,
) -> OutputsState:
    """The outputs' status of a run (`finished`: its status is final; `ran`: it had a pod);
    the manifest is read only once the run has ended."""
    if not finished:
        return live_outputs_state(tracker, run_id, ran=ran)
    manifest = await read_manifest(store, run_id)
    pod = _newest_pod(tracker, run_id)
    return derive_outputs(finished, sidecar_state(pod), manifest, ran=ran)


def live_outputs_state(
    tracker: RunTracker | None, run_id: str, *, ran: bool = True
) -> OutputsState:
    """The outputs' status of a run that has not ended: from its pod alone, without I/O."""
    return derive_outputs(False, sidecar_state(_newest_pod(tracker, run_id)), None, ran=ran)


async def settle_outputs(
    store: ObjectStore, hub: Hub[Run], run_id: str, pod: Mapping[str, Any] | None
) -> None:
    """Record where an ended run's outputs are, from its newest pod (None: it has none any
    more) and the manifest; publishes the change, so `runStatus` can end once they settle."""
    sidecar = sidecar_state(pod)
    # The manifest is the sidecar's last act: look once it ended, or when the pod is gone.
    ended = pod is None or (sidecar is not None and "terminated" in sidecar)
    if not ended and not (sidecar and "running" in sidecar):
        return  # the sidecar has yet to start: the pod's next change tells more
    for _ in range(MAX_WRITE_ATTEMPTS):
        run = await Run.get_or_none(id=run_id)
        if run is None or not run.status.terminal:
            return
        if run.outputs_status is not None and run.outputs_status.settled:
            await publish_if_new(hub, run)  # another replica may have settled them: tell ours
            return
        manifest = await read_manifest(store, run_id) if ended else None
        ran = run.started_at is not None or run.exit_code is not None
        state = derive_outputs(True, sidecar, manifest, ran=ran)
        if (run.outputs_status, run.outputs_message) == (state.status, state.message):
            await publish_if_new(hub, run)
            return
        if await record_outputs(hub, run, state):
            return


async def list_artifacts(
    store: ObjectStore, run_id: str, prefix: str, limit: int, after: str | None
) -> tuple[list[ObjectInfo], bool]:
    """Up to `limit` artifacts whose path starts with `prefix`, after path `after`; and
    whether more follow."""
    base = outputs_prefix(run_id)
    page = await store.list(
        base + validate_prefix(prefix),
        limit=limit + 1,
        start_after=base + after if after is not None else None,
    )
    return page.objects[:limit], len(page.objects) > limit
