"""A run's outputs: their status (from the upload sidecar's state and manifest) and listing."""

from __future__ import annotations

import json
from typing import Any

from app.domain.outputs import ManifestSummary, OutputsState, derive_outputs, sidecar_state
from app.kube.labels import RUN_ID
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
    store: ObjectStore, tracker: RunTracker | None, run_id: str, finished: bool
) -> OutputsState:
    """The outputs' status of a run (`finished`: its status is final); the manifest is read
    only once the run has ended."""
    manifest = await read_manifest(store, run_id) if finished else None
    return derive_outputs(finished, sidecar_state(_newest_pod(tracker, run_id)), manifest)


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
