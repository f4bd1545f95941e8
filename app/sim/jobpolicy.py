"""The Job controller's pure rules: which Job owns a pod, pod failure policy, pod tracking,
conditions.

Every Job pod carries the ``batch.kubernetes.io/job-tracking`` finalizer from its creation, as
kube-controller-manager 1.26+ creates them: the pod cannot vanish before the controller has
counted it. The controller removes the finalizer once it has accounted for the pod (terminal, or
deleted before it could run), and from every pod of a Job that is deleted or gone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.sim.conditions import get_condition

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
TERMINAL = ("Succeeded", "Failed")


def parse_time(text: str) -> datetime:
    """An RFC3339 timestamp as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def controller_of(pod: Mapping[str, Any]) -> dict[str, Any] | None:
    """The pod's controlling Job ownerReference, if any."""
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == "Job":
            return dict(ref)
    return None


def _terminated_containers(pod: Mapping[str, Any]) -> list[tuple[str, int]]:
    status = pod.get("status") or {}
    found = []
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or []:
            terminated = (cs.get("state") or {}).get("terminated")
            if terminated is not None:
                found.append((cs["name"], int(terminated.get("exitCode", 0))))
    return found


def match_pod_failure_policy(
    policy: Mapping[str, Any] | None, pod: Mapping[str, Any]
) -> tuple[str, str] | None:
    """The action (Ignore/FailJob/Count/FailIndex) of the first matching rule, and its text."""
    if not policy:
        return None
    pod_name = f"{pod['metadata'].get('namespace')}/{pod['metadata']['name']}"
    for index, rule in enumerate(policy.get("rules") or []):
        action = rule.get("action", "")
        on_codes = rule.get("onExitCodes")
        if on_codes:
            values = set(on_codes.get("values") or [])
            wanted = on_codes.get("containerName")
            for name, code in _terminated_containers(pod):
                if wanted and name != wanted:
                    continue
                inside = code in values
                hit = inside if on_codes.get("operator") == "In" else (not inside and code != 0)
                if hit:
                    return action, (
                        f"Container {name} for pod {pod_name} failed with exit code {code} "
                        f"matching {action} rule at index {index}"
                    )
        for pattern in rule.get("onPodConditions") or []:
            condition = get_condition(dict(pod), pattern.get("type", ""))
            if condition and condition.get("status") == pattern.get("status", "True"):
                return action, (
                    f"Pod {pod_name} has condition {pattern['type']} matching {action} rule "
                    f"at index {index}"
                )
    return None


def is_tracked(pod: Mapping[str, Any]) -> bool:
    """Whether the pod still carries the tracking finalizer."""
    return TRACKING_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or ())


def untrack(pod: dict[str, Any]) -> None:
    """Remove the tracking finalizer (an edit for ``store.mutate``)."""
    meta = pod["metadata"]
    finalizers = [f for f in meta.get("finalizers") or [] if f != TRACKING_FINALIZER]
    if finalizers:
        meta["finalizers"] = finalizers
    else:
        meta.pop("finalizers", None)


def is_finished(pod: Mapping[str, Any]) -> bool:
    """Terminal, or deleted while unbound: no kubelet will ever run it (the pod garbage
    collector would mark it Failed), so it is done as far as the Job is concerned."""
    if (pod.get("status") or {}).get("phase") in TERMINAL or pod.get("_deleted"):
        return True
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    return bool(meta.get("deletionTimestamp")) and not spec.get("nodeName")


def set_job_condition(
    job: dict[str, Any], type_: str, reason: str, message: str, now: str, status: str = "True"
) -> None:
    """Jobs carry lastProbeTime too; both times move when the condition changes."""
    conditions = job.setdefault("status", {}).setdefault("conditions", [])
    for condition in conditions:
        if condition.get("type") == type_:
            if condition.get("status") != status or condition.get("reason") != reason:
                condition.update(
                    status=status,
                    reason=reason,
                    message=message,
                    lastProbeTime=now,
                    lastTransitionTime=now,
                )
            return
    conditions.append(
        {
            "type": type_,
            "status": status,
            "reason": reason,
            "message": message,
            "lastProbeTime": now,
            "lastTransitionTime": now,
        }
    )
