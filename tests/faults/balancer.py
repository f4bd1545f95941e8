"""A TCP load balancer in front of API replicas, as a Kubernetes Service is: each connection
goes to the first replica that accepts it, and ends when that replica's side ends."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


class Balancer:
    """Listens on a free port; `backends` (ports on 127.0.0.1) are tried in order."""

    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self.server: asyncio.Server | None = None
        self.port = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for port in self.backends:
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                continue
        else:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)


@asynccontextmanager
async def balancer(backends: list[int], port: int = 0) -> AsyncIterator[Balancer]:
    """A started `Balancer` (on `port` if given), stopped on the way out."""
    lb = Balancer(backends)
    lb.port = port
    await lb.start()
    try:
        yield lb
    finally:
        await lb.stop()
