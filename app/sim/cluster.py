"""`SimCluster`: store, controllers, faults and the HTTP server on 127.0.0.1, as one object."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import socket
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import uvicorn
import yaml

from app.sim.access import Access
from app.sim.faults import Faults
from app.sim.runas import RunAsPolicy
from app.sim.server import ApiServer, LogSource, ServerStats, build_app
from app.sim.signals import SignalFreeServer
from app.sim.store import Store


class Controllers(Protocol):
    """What the cluster needs from the controllers (scheduler, job controller, kubelet)."""

    @property
    def kubelet(self) -> LogSource: ...

    async def start(self) -> None: ...

    async def stop(self, grace: float | None = None) -> None: ...


def _build_controllers(
    store: Store,
    config_path: Path | None,
    workdir: Path,
    time_factor: float | None,
    run_as: RunAsPolicy | None = None,
) -> Controllers | None:
    """The controllers of app.sim.controllers; None where that module is not available."""
    try:
        from app.sim.controllers import build_controllers
        from app.sim.nodes import load_config
    except ImportError:
        return None
    config = load_config(config_path)
    if time_factor is not None:
        config = dataclasses.replace(config, time_factor=time_factor)
    if run_as is not None:
        config = dataclasses.replace(config, run_as=run_as)
    controllers: Controllers = build_controllers(store, config, workdir)
    return controllers


class SimCluster:
    """A simulated Kubernetes cluster serving the real API on 127.0.0.1.

    `restart()` stops and starts the HTTP server on the same port and keeps every object, as an
    API server restart against the same etcd would. `time_factor` (default: the config's, else
    1.0) scales the controllers' back-offs (see app.sim.timing).
    """

    def __init__(
        self,
        *,
        port: int = 0,
        config_path: Path | None = None,
        workdir: Path | None = None,
        controllers: bool = True,
        bookmark_interval: float = 60.0,
        store: Store | None = None,
        denied: Iterable[str] = (),
        time_factor: float | None = None,
        run_as: RunAsPolicy | None = None,
    ) -> None:
        self.port = port
        self.store = store or Store()
        self.faults = Faults(self.store)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="walkai-sim-"))
        self.controllers = (
            _build_controllers(self.store, config_path, self.workdir, time_factor, run_as)
            if controllers
            else None
        )
        log_source = self.controllers.kubelet if self.controllers is not None else None
        self.app = build_app(
            self.store, log_source=log_source, faults=self.faults,
            bookmark_interval=bookmark_interval, access=Access(denied),
        )  # fmt: skip
        self.api: ApiServer = self.app.state.api
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._controllers_started = False

    @property
    def url(self) -> str:
        """Base URL of the API server, e.g. `http://127.0.0.1:38123`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def stats(self) -> ServerStats:
        """Request, watch and log-stream counters."""
        return self.api.stats

    @property
    def access(self) -> Access:
        """The authorizer: every request allowed but the `denied` verb/resource pairs."""
        return self.api.access

    async def start(self) -> None:
        """Start the controllers (once) and the HTTP server; returns when it accepts requests."""
        if self.controllers is not None and not self._controllers_started:
            await self.controllers.start()
            self._controllers_started = True
        await self._start_http()

    async def stop(self, grace: float | None = None) -> None:
        """Stop the HTTP server and the controllers, killing every container process at once;
        with `grace`, the node shuts down first (pods stopped within their grace period capped
        at `grace` seconds, Failed with reason Terminated) while watchers can still see it."""
        if grace is None:
            await self._stop_http()
        if self.controllers is not None and self._controllers_started:
            await self.controllers.stop(grace)
            self._controllers_started = False
        await self._stop_http()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    async def restart(self, downtime: float = 0.0) -> None:
        """Stop and start the HTTP server (open streams end), keeping state and controllers."""
        await self._stop_http()
        if downtime:
            await asyncio.sleep(downtime)
        await self._start_http()

    async def serve_forever(self) -> None:
        """Wait until the HTTP server stops (for the stand-alone command)."""
        if self._task is not None:
            await self._task

    async def _start_http(self) -> None:
        if self._task is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it; without it small responses wait on delayed ACKs.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off",
            access_log=False, timeout_graceful_shutdown=2,
        )  # fmt: skip
        self.api.reopen()
        self._server = SignalFreeServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    async def _stop_http(self) -> None:
        if self._server is None or self._task is None:
            return
        self.api.end_streams()
        self._server.should_exit = True
        await self._task
        self._server, self._task = None, None

    def kubeconfig(self, namespace: str = "default") -> dict[str, Any]:
        """A kubeconfig for this cluster: plain HTTP, a token the server ignores."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "walkai-sim", "cluster": {"server": self.url}}],
            "users": [{"name": "walkai-sim", "user": {"token": "walkai-sim"}}],
            "contexts": [
                {
                    "name": "walkai-sim",
                    "context": {
                        "cluster": "walkai-sim",
                        "user": "walkai-sim",
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": "walkai-sim",
            "preferences": {},
        }

    def write_kubeconfig(self, path: Path | str, namespace: str = "default") -> Path:
        """Write `kubeconfig()` to `path` (kubectl and kubernetes-asyncio read it)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(self.kubeconfig(namespace), sort_keys=False))
        return target
