"""The controllers of the simulated cluster, started and stopped together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.sim.errors import ApiError
from app.sim.jobcontroller import JobController
from app.sim.kubelet import Kubelet
from app.sim.nodes import SimConfig, node_object
from app.sim.scheduler import Scheduler
from app.sim.store import now_rfc3339
from app.sim.timing import Timing


class Controllers:
    """Scheduler, Job controller and kubelet over one store; ``kubelet`` is the LogSource.

    ``timing`` (the time factor of their back-offs) is shared: changing its ``factor`` takes
    effect at the next back-off."""

    def __init__(self, store: Any, config: SimConfig, workdir: Path) -> None:
        self.store = store
        self.config = config
        self.workdir = Path(workdir)
        self.timing = Timing(config.time_factor)
        self.scheduler = Scheduler(store, config)
        self.jobs = JobController(store, self.timing)
        self.kubelet = Kubelet(store, config, self.workdir, self.timing)
        self.started = False

    async def start(self) -> None:
        """Register the nodes (if absent) and start every controller."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        now = now_rfc3339()
        for node in self.config.nodes:
            try:
                self.store.create("nodes", None, node_object(node, self.config, now))
            except ApiError as exc:
                if exc.code != 409:
                    raise
        await self.kubelet.start()
        await self.jobs.start()
        await self.scheduler.start()
        self.started = True

    async def stop(self, grace: float | None = None) -> None:
        """Stop the controllers; every container process is stopped and reaped: at once
        (SIGKILL) without `grace`, else as a node shutdown with pod grace periods capped at
        `grace` seconds."""
        if not self.started:
            return
        self.started = False
        await self.scheduler.stop()
        await self.jobs.stop()
        if grace is None:
            await self.kubelet.stop()
        else:
            await self.kubelet.shutdown(grace)


def build_controllers(store: Any, config: SimConfig, workdir: Path) -> Controllers:
    """The controllers of a simulated cluster working on ``store``."""
    return Controllers(store, config, workdir)
