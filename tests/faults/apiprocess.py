"""`walkai-jobs serve` as a process of its own, so it can be killed with SIGKILL: on the session
API's database (Tortoise in this process keeps working on it) and simulated cluster, in a
namespace of its own, on a fixed port so a restarted process is found where the last one was.

Replicas share a storage signing secret, as deployed ones do: a run's credential, issued by
one process, is honoured by the next.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.support.api import Api
from tests.support.graphql import GraphQLHTTP


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ApiProcess:
    """One replica of the API as a subprocess; `kill()` and `start()` again at will."""

    def __init__(
        self,
        api: Api,
        namespace: str,
        work: Path,
        *,
        name: str = "api",
        secret: str = "",
        public_url: str = "",
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.work = work
        self.name = name
        self.kills = 0
        self.process: asyncio.subprocess.Process | None = None
        storage = work / "objects"  # replicas in one `work` share their objects
        self.env = os.environ | {
            "WALKAI_HOST": "127.0.0.1",
            "WALKAI_PORT": str(self.port),
            # Where clients and runs' sidecars reach it (a load balancer's, for replicas).
            "WALKAI_PUBLIC_URL": public_url or self.url,
            "WALKAI_DATABASE_URL": api.platform.settings.resolved_database_url,
            "WALKAI_DATA_DIR": str(work / f"data-{name}"),
            "WALKAI_KUBECONFIG": str(api.kubeconfig),
            "WALKAI_NAMESPACE": namespace,
            "WALKAI_CREATE_NAMESPACE": "true",
            "WALKAI_OUTPUT_VOLUME": "emptyDir",
            "WALKAI_WATCH_TIMEOUT_SECONDS": "30",
            # A killed process's successor takes over after 4 s rather than 15.
            "WALKAI_LEASE_DURATION_SECONDS": "4",
            "WALKAI_STORAGE__BACKEND": "local",
            "WALKAI_STORAGE__LOCAL_ROOT": str(storage),
            "WALKAI_STORAGE__SIGNING_SECRET": secret or uuid.uuid4().hex,
            "WALKAI_LOG_LEVEL": "WARNING",
        }

    async def start(self) -> None:
        """Start the process; returns once it answers /readyz."""
        assert self.process is None or self.process.returncode is not None
        log = (self.work / f"{self.name}-{self.kills}.log").open("ab")
        self.process = await asyncio.create_subprocess_exec(
            Path(sys.executable).parent / "walkai-jobs",
            "serve",
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        async with httpx.AsyncClient(timeout=2) as http:
            for _ in range(600):
                assert self.process.returncode is None, f"serve exited, see {log.name}"
                try:
                    if (await http.get(f"{self.url}/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"serve did not become ready, see {log.name}")

    @property
    def pid(self) -> int | None:
        """The running process's id."""
        return self.process.pid if self.process and self.process.returncode is None else None

    async def kill(self) -> None:
        """SIGKILL: no shutdown, no Lease released, connections cut."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        self.kills += 1

    async def stop(self) -> None:
        """SIGTERM, as on a rollout (SIGKILL if it does not exit)."""
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    def client(self, api: Api) -> Api:
        """`api`'s user, calling this process."""
        return client_of(api, self.url)


def client_of(api: Api, url: str) -> Api:
    """`api`'s user, calling the API at `url`."""
    ws_url = url.replace("http://", "ws://", 1) + "/graphql"
    http = GraphQLHTTP(url, api.token)
    return dataclasses.replace(api, base_url=url, ws_url=ws_url, http=http, clients=[])


@asynccontextmanager
async def api_process(
    api: Api, work: Path, namespace: str, *, name: str = "api", secret: str = ""
) -> AsyncIterator[ApiProcess]:
    """A started `ApiProcess`, stopped on the way out."""
    process = ApiProcess(api, namespace, work, name=name, secret=secret)
    await process.start()
    try:
        yield process
    finally:
        await process.stop()


async def lease_holder_pid(cluster_url: str, namespace: str, lease: str) -> int | None:
    """The process id in the holder identity of a Lease (`<host>-<pid>-<random>`), if held."""
    url = f"{cluster_url}/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{lease}"
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.get(url)
    if response.status_code == 404:
        return None
    holder = response.json().get("spec", {}).get("holderIdentity") or ""
    parts = holder.rsplit("-", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None
