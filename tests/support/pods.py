"""What holds the cluster's GPUs, for failure messages: pods of the API's namespace that have not
ended, as the API sees them and as the simulated kubelet runs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

FINISHED = ("Succeeded", "Failed")


def unfinished(api: Any) -> list[dict[str, Any]]:
    """Each pod the API tracks that has not ended: its name, run, phase and containers' states,
    and the kubelet's side (whether its task ended, whether it is stopping, its processes)."""
    tracker = api.platform.tracker
    pods = tracker.pods.cache.values() if tracker is not None else ()
    controllers = getattr(api.cluster, "controllers", None)
    workers = controllers.kubelet.workers if controllers is not None else {}
    found = []
    for pod in pods:
        status = pod.get("status") or {}
        if status.get("phase") in FINISHED:
            continue
        meta = pod["metadata"]
        states = {
            c["name"]: next(iter(c.get("state") or {}), None)
            for c in (status.get("initContainerStatuses") or [])
            + (status.get("containerStatuses") or [])
        }
        entry: dict[str, Any] = {
            "pod": meta["name"],
            "run": (meta.get("labels") or {}).get("walkai.io/run-id"),
            "created": meta.get("creationTimestamp"),
            "deleting": meta.get("deletionTimestamp"),
            "phase": status.get("phase"),
            "containers": states,
        }
        worker = workers.get(meta.get("uid"))
        if worker is not None:
            entry["kubelet"] = {
                "task_done": worker.task.done() if worker.task is not None else None,
                "terminating": worker.terminating.is_set(),
                "mains_done": worker._mains_done,
                "processes": {
                    c.name: (c.process.pid, c.process.returncode) if c.process else None
                    for c in worker.inits + worker.mains
                },
                "reapers": len(worker._reapers),
                "log_tails": {
                    c.name: _tail(c.logs[-1]) for c in worker.inits + worker.mains if c.logs
                },
            }
        found.append(entry)
    return found


def _tail(path: Path, lines: int = 5) -> list[str]:
    """The last lines a container wrote (CRI format: time, stream, tag, text)."""
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError as exc:
        return [repr(exc)]
