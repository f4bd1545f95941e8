"""Fixtures for the controller tests: a store with the controllers running on it."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from app.sim.controllers import Controllers, build_controllers
from app.sim.nodes import SimConfig, default_config
from app.sim.store import Store


class Sim:
    """A store, its controllers, and helpers to wait for what they do."""

    def __init__(self, store: Store, controllers: Controllers) -> None:
        self.store = store
        self.controllers = controllers

    async def wait_for(self, check: Callable[[], Any], timeout: float = 15.0) -> Any:
        """Poll ``check`` until it returns something truthy (its value)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = check()
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {check}: {self.debug()}")
            await asyncio.sleep(0.02)

    def debug(self) -> str:
        """Jobs and pods in short, for timeout messages."""
        jobs = [(j["metadata"]["name"], j.get("status")) for j in self.store.list("jobs")[0]]
        pods = [
            (
                p["metadata"]["name"],
                p["status"].get("phase"),
                p["metadata"].get("deletionTimestamp"),
            )
            for p in self.store.list("pods")[0]
        ]
        return f"jobs={jobs} pods={pods}"

    def pods(self, namespace: str = "default", **labels: str) -> list[dict[str, Any]]:
        """Pods of the namespace (with these labels)."""
        selector = ",".join(f"{k}={v}" for k, v in labels.items()) or None
        return self.store.list("pods", namespace, label_selector=selector)[0]

    def job_pods(self, job: str, namespace: str = "default") -> list[dict[str, Any]]:
        """The pods of a job."""
        return [
            p
            for p in self.store.list("pods", namespace)[0]
            if p["metadata"].get("labels", {}).get("job-name") == job
        ]

    def events(self, name: str, reason: str | None = None) -> list[dict[str, Any]]:
        """Events about the object named ``name``."""
        items = self.store.list("events")[0]
        return [
            e
            for e in items
            if e["involvedObject"]["name"] == name and (reason is None or e["reason"] == reason)
        ]

    def job(self, name: str, namespace: str = "default") -> dict[str, Any]:
        """The job now."""
        return self.store.get("jobs", namespace, name)

    def condition(self, obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
        """A condition of an object that is True."""
        for c in (obj.get("status") or {}).get("conditions") or []:
            if c["type"] == type_ and c["status"] == "True":
                return dict(c)
        return None


def make_job(
    name: str,
    script: str,
    *,
    profile: str | None = "1g.10gb",
    priority_class: str | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A batch/v1 Job running ``sh -c script`` (backoffLimit 0 unless given)."""
    container: dict[str, Any] = {
        "name": "main",
        "image": "busybox",
        "command": ["sh", "-c", script],
    }
    if profile:
        container["resources"] = {"limits": {f"nvidia.com/mig-{profile}": "1"}}
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 2,
        "containers": [container],
    }
    if priority_class:
        pod_spec["priorityClassName"] = priority_class
    for key in ("volumes", "initContainers"):
        if key in spec:
            pod_spec[key] = spec.pop(key)
    for key in ("env", "envFrom", "volumeMounts", "workingDir"):
        if key in spec:
            container[key] = spec.pop(key)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": {"spec": pod_spec}, **spec},
    }


# Back-offs (CrashLoopBackOff, Job pod replacement) at 1/100 of real time: 10 s → 0.1 s.
TIME_FACTOR = 0.01


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Sim]:
    """A fresh store with scheduler, job controller and kubelet (default: 2 x A100), its
    back-offs scaled by TIME_FACTOR."""
    config = dataclasses.replace(default_config(), time_factor=TIME_FACTOR)
    async with running_sim(tmp_path, config) as value:
        yield value


Sim.make_job = staticmethod(make_job)  # type: ignore[attr-defined]


class running_sim:
    """Start a store and controllers for ``config``; stop (killing processes) on exit."""

    def __init__(self, workdir: Path, config: SimConfig) -> None:
        self.store = Store()
        self.controllers = build_controllers(self.store, config, workdir / "sim")

    async def __aenter__(self) -> Sim:
        await self.controllers.start()
        for name, value in (("low", 10), ("high", 1000)):
            self.store.create(
                "priorityclasses",
                None,
                {"metadata": {"name": name}, "value": value},
            )
        return Sim(self.store, self.controllers)

    async def __aexit__(self, *exc: object) -> None:
        await self.controllers.stop()
