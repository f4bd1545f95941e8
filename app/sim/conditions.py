"""Status conditions as Kubernetes controllers keep them (scheduler, kubelet, jobs)."""

from __future__ import annotations

from typing import Any


def get_condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    """The condition of ``type_`` in ``obj.status.conditions``, if any."""
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == type_:
            return dict(condition)
    return None


def condition_is_true(obj: dict[str, Any], type_: str) -> bool:
    """Whether ``obj`` has condition ``type_`` with status True."""
    condition = get_condition(obj, type_)
    return condition is not None and condition.get("status") == "True"


def set_condition(
    obj: dict[str, Any],
    type_: str,
    status: str,
    now: str,
    *,
    reason: str | None = None,
    message: str | None = None,
    probe: bool = False,
) -> None:
    """Set a condition in place; lastTransitionTime moves only when the status changes.

    ``probe`` adds ``lastProbeTime`` as the pod conditions have it (null, as the kubelet writes).
    Jobs carry ``lastProbeTime`` with the time of the check.
    """
    conditions: list[dict[str, Any]] = obj.setdefault("status", {}).setdefault("conditions", [])
    existing = next((c for c in conditions if c.get("type") == type_), None)
    condition: dict[str, Any] = {"type": type_, "status": status}
    if probe:
        condition["lastProbeTime"] = None
    if existing is not None and existing.get("status") == status:
        condition["lastTransitionTime"] = existing.get("lastTransitionTime", now)
    else:
        condition["lastTransitionTime"] = now
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    if existing is None:
        conditions.append(condition)
    else:
        existing.clear()
        existing.update(condition)
