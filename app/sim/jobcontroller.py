"""The Job controller (batch/v1): pods from the template, counts, conditions, and clean-up.

Simulated like kube-controller-manager 1.31 for NonIndexed jobs:

- Creates ``parallelism`` pods (capped by the completions still needed) named
  ``<job>-<5 chars>`` from ``spec.template``, with the job's labels, an ownerReference
  (controller, blockOwnerDeletion) and a ``SuccessfulCreate`` event; extra active pods are
  deleted (``SuccessfulDelete``).
- Counts each terminated pod once: status.succeeded / status.failed are cumulative. Pods carry
  the ``batch.kubernetes.io/job-tracking`` finalizer until counted (see jobpolicy); the
  controller remembers the pods it counted, and ``uncountedTerminatedPods`` stays empty.
  A pod deleted before it reached a terminal phase counts as failed, except pods the controller
  itself deleted (suspension, surplus, job failure).
- ``podFailurePolicy`` rules (``onExitCodes`` with In/NotIn, ``onPodConditions``) with actions
  Ignore (not counted; a replacement is created), FailJob (reason PodFailurePolicy) and Count.
  With a podFailurePolicy, replacements wait until the old pod is terminal
  (``podReplacementPolicy: Failed``); otherwise they are created as soon as it is terminating.
- ``backoffLimit`` (failed pods, plus container restarts for ``restartPolicy: OnFailure``) →
  FailureTarget + Failed reason BackoffLimitExceeded; ``activeDeadlineSeconds`` (from startTime) →
  reason DeadlineExceeded. Active pods are deleted and Failed is added once none is left
  running, as 1.31 does.
- Back-off: after ``n`` consecutive counted failures (a success resets it) a replacement waits
  10 s doubling to 6 min from the last failure, times the time factor (app.sim.timing). Failures
  the podFailurePolicy ignores are replaced at once.
- Success: ``completions`` succeeded pods → SuccessCriteriaMet, then Complete and
  ``completionTime`` once no pod is left running.
- ``suspend``: active pods are deleted, condition Suspended=True (JobSuspended); resuming sets
  Suspended=False (JobResumed), resets startTime and creates pods again.
- ``ttlSecondsAfterFinished``: the job is deleted (Background propagation) that many seconds after
  its Complete/Failed condition.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.sim.conditions import condition_is_true, get_condition
from app.sim.errors import ApiError
from app.sim.jobpolicy import (
    TERMINAL,
    TRACKING_FINALIZER,
    controller_of,
    is_finished,
    is_tracked,
    match_pod_failure_policy,
    parse_time,
    set_job_condition,
    untrack,
)
from app.sim.store import now_rfc3339
from app.sim.timing import Timing

log = logging.getLogger(__name__)

COMPONENT = "job-controller"
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"


def _job_key(namespace: str, name: str) -> tuple[str, str]:
    return (namespace, name)


# --- the controller ---------------------------------------------------------------------------


@dataclass
class _Tracking:
    """What the controller remembers about one job's pods (by pod uid)."""

    counted: set[str] = field(default_factory=set)
    deleted_by_us: set[str] = field(default_factory=set)
    last_seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Back-off: failures counted since the last success, and when the last one was (loop time).
    failures: int = 0
    last_failure: float = 0.0


class JobController:
    """Reconciles batch/v1 Jobs against their pods."""

    def __init__(self, store: Any, timing: Timing | None = None) -> None:
        self.store = store
        self.timing = timing or Timing()
        self._dirty: set[tuple[str, str]] = set()
        self._wake = asyncio.Event()
        self._tracking: dict[str, _Tracking] = {}
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start reacting to job and pod changes; existing jobs are reconciled."""
        self._subscription = self.store.subscribe(None)
        jobs, _ = self.store.list("jobs")
        for job in jobs:
            self._enqueue(job["metadata"]["namespace"], job["metadata"]["name"])
        for pod in self.store.scan("pods", None, is_tracked):
            self._release_if_orphan(pod)
        self._tasks = [
            asyncio.create_task(self._listen(), name="sim-jobs-listen"),
            asyncio.create_task(self._work(), name="sim-jobs"),
        ]

    async def stop(self) -> None:
        """Stop the loops and timers."""
        self._subscription.close()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def _enqueue(self, namespace: str, name: str) -> None:
        self._dirty.add(_job_key(namespace, name))
        self._wake.set()

    def _enqueue_at(self, namespace: str, name: str, when: datetime) -> None:
        delay = max(0.0, (when - datetime.now(when.tzinfo)).total_seconds()) + 0.05
        self._enqueue_in(namespace, name, delay)

    def _enqueue_in(self, namespace: str, name: str, delay: float) -> None:
        """Sync the job again in ``delay`` seconds; an earlier pending wake-up is kept (each sync
        asks again for what it still waits on)."""
        key = _job_key(namespace, name)
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        old = self._timers.get(key)
        if old is not None and not old.cancelled() and loop.time() < old.when() <= when:
            return
        if old is not None:
            old.cancel()
        self._timers[key] = loop.call_at(when, self._enqueue, *key)

    async def _listen(self) -> None:
        async for event in self._subscription:
            if event.resource == "jobs":
                meta = event.object["metadata"]
                if event.type == "DELETED":
                    self._tracking.pop(meta.get("uid", ""), None)
                    timer = self._timers.pop(_job_key(meta["namespace"], meta["name"]), None)
                    if timer is not None:
                        timer.cancel()
                    self._release_all(meta["namespace"], meta.get("uid", ""))
                else:
                    self._enqueue(meta["namespace"], meta["name"])
            elif event.resource == "pods":
                ref = controller_of(event.object)
                if ref is None:
                    continue
                if event.type != "DELETED" and self._release_if_orphan(event.object):
                    continue
                tracking = self._tracking.setdefault(ref["uid"], _Tracking())
                pod = event.object
                uid = pod["metadata"].get("uid", "")
                # Keep the last state of every pod: a pod may be removed before a sync sees it.
                if event.type == "DELETED":
                    tracking.last_seen[uid] = {**pod, "_deleted": True}
                else:
                    tracking.last_seen[uid] = pod
                self._enqueue(pod["metadata"]["namespace"], ref["name"])

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._dirty:
                key = self._dirty.pop()
                try:
                    self.sync(*key)
                except Exception:
                    log.exception("job %s/%s sync failed", *key)
            await asyncio.sleep(0)

    def sync(self, namespace: str, name: str) -> None:
        """Reconcile one job (synchronous: the store is in-process)."""
        try:
            job = self.store.get("jobs", namespace, name)
        except ApiError as exc:
            if exc.code == 404:
                return
            raise
        if job["metadata"].get("deletionTimestamp"):
            # The garbage collector is deleting its pods: let them go.
            self._release_all(namespace, job["metadata"]["uid"])
            return
        uid = job["metadata"]["uid"]
        tracking = self._tracking.setdefault(uid, _Tracking())
        spec, status = job["spec"], job.get("status") or {}
        pods = self._pods(job, tracking)
        now = now_rfc3339()

        finished = condition_is_true(job, "Complete") or condition_is_true(job, "Failed")
        if finished:
            self._delete_pods(job, [p for p in pods if self._is_active(p)], tracking)
            self._release(
                p for p in pods if is_finished(p) or p["metadata"].get("deletionTimestamp")
            )
            self._schedule_ttl(job)
            return

        succeeded = int(status.get("succeeded") or 0)
        failed = int(status.get("failed") or 0)
        fail_reason: tuple[str, str] | None = None
        policy = spec.get("podFailurePolicy")
        for pod in pods:
            pod_uid = pod["metadata"]["uid"]
            if pod_uid in tracking.counted:
                continue
            phase = (pod.get("status") or {}).get("phase")
            if not is_finished(pod):
                continue
            tracking.counted.add(pod_uid)
            if phase == "Succeeded":
                succeeded += 1
                tracking.failures = 0
                continue
            if pod_uid in tracking.deleted_by_us:
                continue
            match = match_pod_failure_policy(policy, pod)
            action = match[0] if match else "Count"
            if action == "Ignore":
                continue
            failed += 1
            tracking.failures += 1
            tracking.last_failure = asyncio.get_running_loop().time()
            if action == "FailJob" and match and fail_reason is None:
                fail_reason = ("PodFailurePolicy", match[1])

        self._release(p for p in pods if p["metadata"]["uid"] in tracking.counted)
        live = [p for p in pods if not p.get("_deleted")]
        active = [p for p in live if self._is_active(p)]
        terminating = [
            p
            for p in live
            if p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in TERMINAL
        ]
        suspended = bool(spec.get("suspend"))
        was_suspended = condition_is_true(job, "Suspended")
        start_time = status.get("startTime")
        completions = spec.get("completions")
        events: list[tuple[str, str, str]] = []

        if fail_reason is None and not suspended:
            restarts = 0
            if (spec.get("template", {}).get("spec") or {}).get("restartPolicy") == "OnFailure":
                restarts = sum(
                    int(cs.get("restartCount") or 0)
                    for p in active
                    for cs in (p.get("status") or {}).get("containerStatuses") or []
                )
            deadline = spec.get("activeDeadlineSeconds")
            if failed + restarts > int(spec.get("backoffLimit", 6)):
                fail_reason = (
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                )
            elif (
                deadline is not None
                and start_time
                and parse_time(now) >= parse_time(start_time) + timedelta(seconds=deadline)
            ):
                fail_reason = ("DeadlineExceeded", "Job was active longer than specified deadline")
            elif deadline is not None and start_time:
                self._enqueue_at(
                    namespace, name, parse_time(start_time) + timedelta(seconds=deadline)
                )
        if condition_is_true(job, "FailureTarget") and fail_reason is None:
            target = get_condition(job, "FailureTarget") or {}
            fail_reason = (target.get("reason", ""), target.get("message", ""))
        success = fail_reason is None and (
            (completions is not None and succeeded >= completions)
            or condition_is_true(job, "SuccessCriteriaMet")
        )

        if fail_reason is not None or success:
            self._delete_pods(job, active, tracking)
            active = []
            terminating = [
                p
                for p in self._pods(job, tracking)
                if not p.get("_deleted") and (p.get("status") or {}).get("phase") not in TERMINAL
            ]
        elif suspended:
            if active:
                self._delete_pods(job, active, tracking)
                active = []
            if not was_suspended:
                events.append(("Normal", "Suspended", "Job suspended"))
        else:
            if was_suspended:
                start_time = None
                events.append(("Normal", "Resumed", "Job resumed"))
            if start_time is None:
                start_time = now
                deadline = spec.get("activeDeadlineSeconds")
                if deadline is not None:
                    self._enqueue_at(namespace, name, parse_time(now) + timedelta(seconds=deadline))
            want = int(spec.get("parallelism", 1))
            if completions is not None:
                want = min(want, completions - succeeded)
            # podReplacementPolicy Failed (forced with podFailurePolicy): wait for terminating pods.
            replace_when = spec.get("podReplacementPolicy")
            if policy or replace_when == "Failed":
                want -= len(terminating)
            wait = self._backoff(tracking)
            if len(active) < want and wait > 0:
                self._enqueue_in(namespace, name, wait)
            elif len(active) < want:
                for _ in range(want - len(active)):
                    created = self._create_pod(job)
                    if created is not None:
                        active.append(created)
            elif len(active) > want:
                extra = active[want:] if want >= 0 else active
                self._delete_pods(job, extra, tracking)
                active = active[: max(want, 0)]

        ready = sum(1 for p in active if condition_is_true(p, "Ready"))

        def write(obj: dict[str, Any]) -> None:
            st = obj.setdefault("status", {})
            st["active"] = len(active)
            st["ready"] = ready
            st["succeeded"] = succeeded
            st["failed"] = failed
            st["terminating"] = len(terminating)
            st["uncountedTerminatedPods"] = {}
            for key in ("active", "succeeded", "failed"):
                if not st[key]:
                    st.pop(key)
            if start_time:
                st["startTime"] = start_time
            if fail_reason is not None:
                set_job_condition(obj, "FailureTarget", fail_reason[0], fail_reason[1], now)
                if not terminating:
                    set_job_condition(obj, "Failed", fail_reason[0], fail_reason[1], now)
            elif success:
                message = "Reached expected number of succeeded pods"
                set_job_condition(obj, "SuccessCriteriaMet", "CompletionsReached", message, now)
                if not terminating:
                    set_job_condition(obj, "Complete", "CompletionsReached", message, now)
                    st["completionTime"] = now
            elif suspended:
                set_job_condition(obj, "Suspended", "JobSuspended", "Job suspended", now)
            elif was_suspended:
                set_job_condition(obj, "Suspended", "JobResumed", "Job resumed", now, "False")

        try:
            updated = self.store.mutate("jobs", namespace, name, write)
        except ApiError:
            return
        if fail_reason is not None and condition_is_true(updated, "Failed"):
            if not condition_is_true(job, "Failed"):
                events.append(("Warning", fail_reason[0], fail_reason[1]))
            self._schedule_ttl(updated)
        if success and condition_is_true(updated, "Complete"):
            if not condition_is_true(job, "Complete"):
                events.append(("Normal", "Completed", "Job completed"))
            self._schedule_ttl(updated)
        for type_, reason, message in events:
            self.store.record_event(updated, reason, message, type_=type_, component=COMPONENT)

    # --- helpers ------------------------------------------------------------------------------

    def _pods(self, job: dict[str, Any], tracking: _Tracking) -> list[dict[str, Any]]:
        """Live pods of the job plus the last state of pods removed since the last sync."""
        uid = job["metadata"]["uid"]
        listed, _ = self.store.list(
            "pods", job["metadata"]["namespace"], label_selector=f"{CONTROLLER_UID_LABEL}={uid}"
        )
        pods = {
            p["metadata"]["uid"]: p for p in listed if (controller_of(p) or {}).get("uid") == uid
        }
        for pod_uid, last in list(tracking.last_seen.items()):
            if pod_uid in pods:
                continue
            if pod_uid not in tracking.counted:
                pods[pod_uid] = {**last, "_deleted": True}
            tracking.last_seen.pop(pod_uid, None)
        return list(pods.values())

    def _backoff(self, tracking: _Tracking) -> float:
        """Seconds before a replacement may be created (0: now)."""
        if not tracking.failures:
            return 0.0
        elapsed = asyncio.get_running_loop().time() - tracking.last_failure
        return max(0.0, self.timing.job_backoff(tracking.failures) - elapsed)

    def _release(self, pods: Iterable[Mapping[str, Any]]) -> None:
        """Remove the tracking finalizer from these pods (those that still have it)."""
        for pod in pods:
            if pod.get("_deleted") or not is_tracked(pod):
                continue
            meta = pod["metadata"]
            with contextlib.suppress(ApiError):  # gone meanwhile
                self.store.mutate("pods", meta["namespace"], meta["name"], untrack)

    def _release_all(self, namespace: str, job_uid: str) -> None:
        """Let every pod of a deleted (or deleting) Job go."""
        if not job_uid:
            return
        self._release(
            p
            for p in self.store.scan("pods", namespace, is_tracked)
            if (controller_of(p) or {}).get("uid") == job_uid
        )

    def _release_if_orphan(self, pod: Mapping[str, Any]) -> bool:
        """Release a tracked pod whose Job is gone; True if it was one."""
        ref = controller_of(pod)
        if ref is None or not is_tracked(pod):
            return False
        job = self.store.peek("jobs", pod["metadata"]["namespace"], ref["name"])
        if job is not None and job["metadata"]["uid"] == ref["uid"]:
            return False
        self._release([pod])
        return True

    @staticmethod
    def _is_active(pod: Mapping[str, Any]) -> bool:
        return (
            not pod.get("_deleted")
            and not pod["metadata"].get("deletionTimestamp")
            and (pod.get("status") or {}).get("phase") not in TERMINAL
        )

    def _create_pod(self, job: dict[str, Any]) -> dict[str, Any] | None:
        meta = job["metadata"]
        template = copy.deepcopy(job["spec"].get("template") or {})
        pod_meta = template.get("metadata") or {}
        labels = dict(pod_meta.get("labels") or {})
        for key in (CONTROLLER_UID_LABEL, "controller-uid"):
            labels.setdefault(key, meta["uid"])
        for key in ("batch.kubernetes.io/job-name", "job-name"):
            labels.setdefault(key, meta["name"])
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": f"{meta['name']}-",
                "namespace": meta["namespace"],
                "labels": labels,
                "annotations": dict(pod_meta.get("annotations") or {}),
                "finalizers": [TRACKING_FINALIZER],
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": template.get("spec") or {},
        }
        try:
            created: dict[str, Any] = self.store.create("pods", meta["namespace"], pod)
        except ApiError as exc:
            self.store.record_event(
                job, "FailedCreate", f"Error creating: {exc}", type_="Warning", component=COMPONENT
            )
            return None
        self.store.record_event(
            job,
            "SuccessfulCreate",
            f"Created pod: {created['metadata']['name']}",
            component=COMPONENT,
        )
        return created

    def _delete_pods(
        self, job: dict[str, Any], pods: list[dict[str, Any]], tracking: _Tracking
    ) -> None:
        for pod in pods:
            tracking.deleted_by_us.add(pod["metadata"]["uid"])
            try:
                self.store.delete("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
            except ApiError:
                continue
            self.store.record_event(
                job,
                "SuccessfulDelete",
                f"Deleted pod: {pod['metadata']['name']}",
                component=COMPONENT,
            )

    def _schedule_ttl(self, job: dict[str, Any]) -> None:
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        if ttl is None:
            return
        finished = get_condition(job, "Complete") or get_condition(job, "Failed")
        if not finished or finished.get("status") != "True":
            return
        meta = job["metadata"]
        expires = parse_time(finished["lastTransitionTime"]) + timedelta(seconds=int(ttl))
        if datetime.now(expires.tzinfo) >= expires:
            with contextlib.suppress(ApiError):
                self.store.delete(
                    "jobs", meta["namespace"], meta["name"], propagation_policy="Background"
                )
        else:
            self._enqueue_at(meta["namespace"], meta["name"], expires)
