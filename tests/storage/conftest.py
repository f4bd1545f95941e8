"""Real servers for the storage tests: moto's S3 server, and uvicorn serving the local store's
signed URLs. `store` runs a test once against each store."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from moto.server import ThreadedMotoServer
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from app.storage.base import ObjectStore
from app.storage.local import LocalObjectStore
from app.storage.routes import storage_routes
from app.storage.s3 import MiB, S3ObjectStore

SECRET = b"storage-tests-signing-secret"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 in server mode on a free loopback port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass
class LocalServer:
    """uvicorn serving `storage_routes` of whichever local store the current test mounts."""

    base_url: str
    app: ASGIApp | None = field(default=None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "no store mounted"
        await self.app(scope, receive, send)

    def store(self, root: Path, *, clock: Callable[[], float] = time.time) -> LocalObjectStore:
        """A store on `root` whose URLs point at this server (which serves `root` from now on)."""
        # The server gets its own instance, as another replica of the API would.
        served = LocalObjectStore(root, public_base_url=self.base_url, secret=SECRET)
        self.app = Starlette(routes=storage_routes(served))
        return LocalObjectStore(root, public_base_url=self.base_url, secret=SECRET, clock=clock)


@pytest.fixture(scope="session")
def local_server() -> Iterator[LocalServer]:
    """The server runs in its own thread and event loop, like a separate process would."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    local = LocalServer(base_url=f"http://{host}:{port}")
    server = uvicorn.Server(uvicorn.Config(local, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield local
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def s3_store(endpoint: str, **options: object) -> S3ObjectStore:
    """A store on a fresh bucket of the moto server, with small parts to exercise multipart."""
    settings: dict[str, object] = {
        "endpoint_url": endpoint,
        "access_key_id": "testing",
        "secret_access_key": "testing",
        "path_style": True,
        "create_bucket": True,
        "multipart_threshold": 8 * MiB,
        "part_size": 5 * MiB,
        "max_concurrency": 4,
    }
    settings.update(options)
    return S3ObjectStore(f"test-{uuid.uuid4().hex[:12]}", **settings)  # type: ignore[arg-type]


@pytest.fixture
def local_store_factory(
    local_server: LocalServer,
) -> Callable[..., LocalObjectStore]:
    """`(root, *, clock=time.time) -> LocalObjectStore` whose URLs the test server serves."""
    return local_server.store


@pytest.fixture(params=["local", "s3"])
async def store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    moto_endpoint: str,
    local_server: LocalServer,
) -> AsyncIterator[ObjectStore]:
    """Each store in turn, empty."""
    created: ObjectStore
    if request.param == "local":
        created = local_server.store(tmp_path / "store")
    else:
        created = s3_store(moto_endpoint)
    yield created
    await created.close()
