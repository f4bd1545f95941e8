"""`walkai-jobs dev` as a subprocess, and the processes that belong to its data directory."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.api.operations import CREATE_JOB, RUN, job_input

SLEEPING = ["sh", "-c", "sleep 300"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def processes_of(data_dir: Path, *, besides: int | None = None) -> dict[int, str]:
    """Live processes whose working directory or command line is in `data_dir` (pid: cmdline),
    except `besides` (a running `dev` itself names its data directory)."""
    root = str(data_dir.resolve())
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in (besides, os.getpid()):
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            try:
                cwd = os.readlink(entry / "cwd")
            except OSError:
                cwd = ""
        except OSError:
            continue  # gone meanwhile
        if state not in ("Z", "X") and (cwd.startswith(root) or root in cmdline):
            found[int(entry.name)] = cmdline
    return found


async def poll(check: Any, *, timeout: float = 20.0, every: float = 0.1) -> Any:
    """The first truthy result of `check()` (sync or async); fails after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(every)


@dataclass
class Dev:
    """A running `walkai-jobs dev`."""

    process: asyncio.subprocess.Process
    url: str
    data_dir: Path

    @classmethod
    async def start(cls, data_dir: Path) -> Dev:
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            Path(sys.executable).parent / "walkai-jobs",
            "dev",
            "--port",
            str(port),
            "--no-browser",
            "--data-dir",
            str(data_dir),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "WALKAI_DATABASE_URL": ""},
        )
        dev = cls(process, f"http://127.0.0.1:{port}", data_dir)
        await poll(dev._healthy, timeout=30)
        return dev

    async def _healthy(self) -> bool:
        assert self.process.returncode is None, "dev exited"
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                return (await http.get(f"{self.url}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    async def gql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        token = (self.data_dir / "dev-token").read_text().strip()
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(
                f"{self.url}/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {token}"},
            )
        data: dict[str, Any] = response.json()["data"]
        return data

    async def submit_sleeping_job(self) -> str:
        """A Job whose run sleeps for minutes; returns the run id once it is RUNNING."""
        created = await self.gql(CREATE_JOB, {"input": job_input(command=SLEEPING)})
        run_id: str = created["createJob"]["run"]["id"]
        await self.wait_status(run_id, "RUNNING")
        return run_id

    async def run(self, run_id: str) -> dict[str, Any]:
        run: dict[str, Any] = (await self.gql(RUN, {"id": run_id}))["run"]
        return run

    async def wait_status(self, run_id: str, status: str) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            run = await self.run(run_id)
            return run if run["status"] == status else None

        result: dict[str, Any] = await poll(reached)
        return result

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 25.0) -> int:
        """Send `sig` and wait for the exit; returns the exit code."""
        if self.process.returncode is None:
            self.process.send_signal(sig)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout=timeout)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise
