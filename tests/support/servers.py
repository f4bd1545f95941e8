"""Another API in this process (app, platform, uvicorn): a restarted API, a replica, or the API
on another store; and polling until something holds."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

from app.config import Settings
from app.server import create_app
from app.services.platform import Platform


@dataclass(frozen=True)
class Served:
    """A running API: where it listens, and its platform."""

    base_url: str
    ws_url: str
    platform: Platform


# The platforms `serve` started that still run: replicas of the session's API (the S3 stack
# lives as long as the session), which compete for its Lease.
RUNNING: list[Platform] = []


async def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


@asynccontextmanager
async def serve(
    settings: Settings, *, sock: socket.socket | None = None, share_database: bool = False
) -> AsyncIterator[Served]:
    """The API under uvicorn (on `sock`, else a free port), once its platform has listed the
    cluster. With `share_database`, its platform uses the database this process has open
    (Tortoise's connections are process-wide) instead of opening it and closing it."""
    with pytest.MonkeyPatch.context() as patch:
        if share_database:
            patch.setattr("app.services.platform.open_database", _nothing)
            patch.setattr("app.services.platform.close_database", _nothing)
        app = create_app(settings)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", proxy_headers=False
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock] if sock is not None else None))
        try:
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
            platform: Platform = app.state.platform
            assert platform.tracker is not None
            await platform.tracker.wait_synced()
            host, port = server.servers[0].sockets[0].getsockname()[:2]
            RUNNING.append(platform)
            try:
                yield Served(f"http://{host}:{port}", f"ws://{host}:{port}/graphql", platform)
            finally:
                RUNNING.remove(platform)
        finally:
            server.should_exit = True
            await task


async def until(condition: Callable[[], Any], timeout: float = 30) -> float:
    """Seconds until `condition()` holds (polled every 20 ms); fails after `timeout`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "timed out"
        await asyncio.sleep(0.02)
    return time.monotonic() - started
