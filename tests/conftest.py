"""Fixtures that start real parts: the simulated cluster, a database, and the API under uvicorn.

The database backend is WALKAI_TEST_DB: `sqlite` (default) or `postgres`, whose server URL
`scripts/test.sh` exports as WALKAI_TEST_POSTGRES_URL. Tortoise binds its SQL dialect per
process, so each backend is a pytest run of its own: `scripts/test.sh` runs the whole suite on
SQLite, then every test marked `database` (all that use the API) on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from app.config import load_settings
from app.server import create_app
from app.services.platform import Platform
from tests.support.api import Api, QueryCounter, new_account
from tests.support.graphql import GraphQLHTTP
from tests.support.server_log import installed
from tests.support.storage_stack import moto_server, s3_api

BACKEND = os.environ.get("WALKAI_TEST_DB", "sqlite")


@pytest.fixture(scope="session")
async def sim_cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """One simulated cluster (default: 2 nodes, 1 A100-80GB each) for the session."""
    from app.sim.cluster import SimCluster

    cluster = SimCluster(port=0, config_path=None, workdir=tmp_path_factory.mktemp("sim"))
    await cluster.start()
    try:
        yield cluster
    finally:
        await cluster.stop()


@pytest.fixture(scope="session")
def kubeconfig(sim_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kubeconfig for the simulated cluster (kubectl and kubernetes-asyncio)."""
    path = tmp_path_factory.mktemp("kube") / "config"
    sim_cluster.write_kubeconfig(path)
    return path


async def _postgres_database(base_url: str) -> tuple[str, str]:
    import asyncpg

    name = f"walkai_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(base_url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base_url.rsplit("/", 1)[0] + f"/{name}", name


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs a database, so the PostgreSQL run can select them."""
    for item in items:
        if "database" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.database)


@pytest.fixture(scope="session")
async def database(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, str]]:
    """(backend, URL) of a fresh, empty database."""
    backend = BACKEND
    if backend == "sqlite":
        yield backend, f"sqlite://{tmp_path_factory.mktemp('db') / 'walkai.db'}"
        return
    base = os.environ.get("WALKAI_TEST_POSTGRES_URL")
    if not base:
        if os.environ.get("CI"):
            pytest.fail("CI needs WALKAI_TEST_POSTGRES_URL (scripts/test.sh starts PostgreSQL)")
        pytest.skip("no PostgreSQL: run scripts/test.sh, or set WALKAI_TEST_POSTGRES_URL")
    url, _ = await _postgres_database(base)
    yield backend, url


@pytest.fixture(scope="session")
async def api(
    database: tuple[str, str],
    sim_cluster: Any,
    kubeconfig: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Api]:
    """The API under uvicorn on a free port, on the simulated cluster, one per backend."""
    backend, url = database
    namespace = f"walkai-{backend}"
    # Bound first, so the API knows its own URL: runs' pods and presigned URLs point there.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    settings = load_settings(
        public_url=f"http://127.0.0.1:{sock.getsockname()[1]}",
        database_url=url,
        data_dir=tmp_path_factory.mktemp(f"data-{backend}"),
        kubeconfig=kubeconfig,
        namespace=namespace,
        create_namespace=True,
        output_volume="emptyDir",
        watch_timeout_seconds=30,
        # Runs that just started may be preempted (the default protects them for 60 s).
        preemption_min_runtime_seconds=1,
        eviction_backoff_seconds=2,
        storage={"backend": "local", "local_root": tmp_path_factory.mktemp(f"objects-{backend}")},
    )
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", proxy_headers=False
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    platform: Platform = app.state.platform
    assert platform.tracker is not None
    await platform.tracker.wait_synced()
    # Every request of `api` is authenticated as this member (see Api.as_new_user, .anonymous).
    user, token = await new_account("MEMBER", f"tester-{backend}@example.com")
    http = GraphQLHTTP(f"http://127.0.0.1:{port}", token)
    client = Api(
        backend=backend,
        base_url=f"http://127.0.0.1:{port}",
        ws_url=f"ws://127.0.0.1:{port}/graphql",
        http=http,
        platform=platform,
        kubeconfig=kubeconfig,
        namespace=namespace,
        cluster=sim_cluster,
        token=token,
        user=user,
    )
    try:
        yield client
    finally:
        await client.close()
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
def sql_queries() -> Iterator[QueryCounter]:
    """Collects SQL statements run while the test body runs."""
    with installed(QueryCounter(), "tortoise.db_client") as counter:
        yield counter


# Objects on moto's S3 server: tests of stored outputs and inputs run on both stores.


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 in server mode."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
async def s3_stack(
    api: Api, moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    """The API with its objects on S3."""
    async with s3_api(api, moto_endpoint, tmp_path_factory.mktemp("s3-api")) as client:
        yield client


@pytest.fixture(params=["local", "s3"])
def stack(request: pytest.FixtureRequest, api: Api) -> Api:
    """The API on each store in turn."""
    if request.param == "local":
        return api
    s3: Api = request.getfixturevalue("s3_stack")
    return s3
