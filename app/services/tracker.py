"""Follows every run in the cluster: one Jobs informer and one Pods informer for the process."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from kubernetes_asyncio import client

from app.db.models import Run
from app.domain.outputs import sidecar_state
from app.domain.status import PREEMPTED, Observation, derive
from app.events.hub import Hub
from app.kube.informer import Informer
from app.kube.labels import MANAGED_SELECTOR, RUN_ID, kube_job_name
from app.services.runs import apply_observation

Obj = dict[str, Any]


def _run_id(obj: Obj) -> str | None:
    labels: dict[str, str] = obj.get("metadata", {}).get("labels") or {}
    return labels.get(RUN_ID)


def _newest(pods: list[Obj]) -> Obj | None:
    if not pods:
        return None
    return max(pods, key=_recency)


def _recency(pod: Obj) -> tuple[str, bool, str]:
    """Newest first by creation; within one second, a pod being replaced ranks below the rest."""
    meta = pod["metadata"]
    conditions = pod.get("status", {}).get("conditions") or ()
    leaving = "deletionTimestamp" in meta or any(
        c.get("type") == "DisruptionTarget" and c.get("status") == "True" for c in conditions
    )
    return meta.get("creationTimestamp", ""), not leaving, meta["name"]


class RunTracker:
    """Derives each run's status from its Job and newest pod, whatever event arrives first."""

    def __init__(self, api: client.ApiClient, namespace: str, hub: Hub[Run], timeout: int) -> None:
        self._hub = hub
        self._pods_by_run: defaultdict[str, set[str]] = defaultdict(set)
        self.jobs = Informer(
            "jobs",
            client.BatchV1Api(api).list_namespaced_job,
            namespace=namespace,
            label_selector=MANAGED_SELECTOR,
            handler=self._on_job,
            timeout_seconds=timeout,
        )
        self.pods = Informer(
            "pods",
            client.CoreV1Api(api).list_namespaced_pod,
            namespace=namespace,
            label_selector=MANAGED_SELECTOR,
            handler=self._on_pod,
            timeout_seconds=timeout,
        )
        self._tasks: list[asyncio.Task[None]] = []
        # The last observation per run: pods change often (readiness, restarts) in ways that do
        # not change the run, and those events should not cost a database round trip each.
        self._observed: dict[str, Observation] = {}
        # Told every event of a managed pod before its run is reconciled (log followers).
        self.pod_listeners: list[Callable[[str, Obj], Awaitable[None]]] = []
        # Told when a run's upload sidecar changes state, its pod goes, or the run ends, with
        # its newest pod (None once gone): where its outputs are is recorded from that.
        self.outputs_listener: Callable[[str, Obj | None], Awaitable[None]] | None = None
        self._sidecars: dict[str, tuple[str, str, bool]] = {}
        # Told when the cluster itself took a run's pod away (DisruptionTarget: eviction, node
        # drain, kube-scheduler's preemption): the admission queue requeues the run.
        self.eviction_listener: Callable[[Run], Awaitable[None]] | None = None

    async def start(self) -> None:
        """Start both informers and wait for their first list (so reconciling starts at once)."""
        self._tasks = [
            asyncio.create_task(self.jobs.run(), name="informer-jobs"),
            asyncio.create_task(self.pods.run(), name="informer-pods"),
        ]

    async def wait_synced(self) -> None:
        """Return once both informers have listed the cluster once."""
        await asyncio.gather(self.jobs.synced.wait(), self.pods.synced.wait())

    async def stop(self) -> None:
        """Cancel both informers."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _on_job(self, kind: str, obj: Obj) -> None:
        run_id = _run_id(obj)
        if run_id is not None:
            await self._reconcile(run_id, None if kind == "DELETED" else obj)
            if kind == "DELETED":
                self._observed.pop(run_id, None)
                self._sidecars.pop(run_id, None)

    async def _on_pod(self, kind: str, obj: Obj) -> None:
        run_id = _run_id(obj)
        if run_id is None:
            return
        for listener in self.pod_listeners:
            await listener(kind, obj)
        name = obj["metadata"]["name"]
        if kind == "DELETED":
            self._pods_by_run[run_id].discard(name)
            if not self._pods_by_run[run_id]:
                del self._pods_by_run[run_id]
        else:
            self._pods_by_run[run_id].add(name)
        await self._reconcile(run_id, self.jobs.cache.get(kube_job_name(run_id)), deleted=obj)

    def _cached_pod(self, run_id: str) -> Obj | None:
        """The run's newest pod as the Pods informer has it now."""
        names = self._pods_by_run.get(run_id, ())
        return _newest([self.pods.cache[n] for n in names if n in self.pods.cache])

    async def _reconcile(self, run_id: str, job: Obj | None, deleted: Obj | None = None) -> None:
        pod = self._cached_pod(run_id)
        if (
            pod is None
            and deleted is not None
            and deleted["metadata"]["name"] not in self.pods.cache
        ):
            pod = deleted  # the last word of a pod that is gone still says how it ended
        observation = derive(job, pod)
        if observation is not None and self._observed.get(run_id) != observation:
            self._observed[run_id] = observation
            changed = await apply_observation(self._hub, run_id, observation)
            # Recording the change awaited the database: the other informer may have moved the
            # pod on meanwhile (the upload sidecar ended, its outputs seen while the run was not
            # yet terminal). The outputs are judged from the pod as it is now, never as it was.
            pod = self._cached_pod(run_id) or pod
            if changed is not None and changed.status.terminal and pod is not None:
                await self._outputs(run_id, pod, force=True)
            evicted = changed is not None and changed.reason == PREEMPTED
            if evicted and changed is not None and self.eviction_listener is not None:
                await self.eviction_listener(changed)
        if pod is not None:
            await self._outputs(run_id, pod)

    async def _outputs(self, run_id: str, pod: Obj, *, force: bool = False) -> None:
        """Tell the outputs listener when the upload sidecar's state changes or its pod goes.

        Only a pod seen gone counts as gone: the Jobs watch may report a run's end before the
        Pods watch has shown its pod at all."""
        if self.outputs_listener is None:
            return
        gone = pod["metadata"]["name"] not in self.pods.cache
        state = sidecar_state(pod) or {}
        summary = (pod["metadata"].get("uid", ""), ",".join(state), gone)
        if not force and self._sidecars.get(run_id) == summary:
            return
        self._sidecars[run_id] = summary
        await self.outputs_listener(run_id, None if gone else pod)
