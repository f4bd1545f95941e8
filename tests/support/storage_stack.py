"""A second API on the same database and cluster, with its objects on S3 (moto's server), so
the outputs and inputs tests run once per store: the session API (local store) and this one.

Tortoise's connections are process-wide and already open (the session API opened them), so
this API's platform neither opens nor closes them: `open_database`/`close_database` are
no-ops while it runs.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from moto.server import ThreadedMotoServer

from app.config import load_settings
from tests.support.api import Api
from tests.support.graphql import GraphQLHTTP
from tests.support.servers import serve


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 in server mode on a free loopback port; yields its endpoint."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@asynccontextmanager
async def s3_api(session_api: Api, endpoint: str, data_dir: Path) -> AsyncIterator[Api]:
    """The API again, storing objects in a fresh bucket of the S3 server at `endpoint`."""
    namespace = f"{session_api.namespace}-s3"
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = load_settings(
        public_url=base_url,
        database_url=session_api.platform.settings.resolved_database_url,
        data_dir=data_dir,
        kubeconfig=session_api.kubeconfig,
        namespace=namespace,
        create_namespace=True,
        output_volume="emptyDir",
        watch_timeout_seconds=30,
        storage={
            "backend": "s3",
            "s3_bucket": "walkai-runs",
            "s3_endpoint_url": endpoint,
            "s3_access_key_id": "testing",
            "s3_secret_access_key": "testing",
            "s3_path_style": True,
            "s3_create_bucket": True,
        },
    )
    try:
        async with serve(settings, sock=sock, share_database=True) as served:
            client = dataclasses.replace(
                session_api,
                base_url=base_url,
                ws_url=served.ws_url,
                http=GraphQLHTTP(base_url, session_api.token),
                platform=served.platform,
                namespace=namespace,
                clients=[],
            )
            try:
                yield client
            finally:
                await client.close()
    finally:
        sock.close()
