"""A container's process on the simulated node: started in a session of its own, its output
pumped into its log, and reaped once, however many wait for it and even if that wait is
cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Mapping
from typing import Any

from app.sim.podlogs import LogWriter


class StartError(Exception):
    """The process could not start; the message is what containerd would say."""


async def spawn(
    argv: list[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    switch: Mapping[str, Any],
    merged: bool = False,
) -> asyncio.subprocess.Process:
    """Start a process in a container (its first, or an exec), in a session of its own, stdout
    and stderr piped (`merged`: both into stdout)."""
    try:
        return await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT if merged else asyncio.subprocess.PIPE,
            start_new_session=True,
            **switch,
        )
    except OSError as exc:
        detail = (
            f'exec: "{argv[0]}": executable file not found in $PATH'
            if isinstance(exc, FileNotFoundError)
            else f'exec: "{argv[0]}": {exc.strerror or exc}'
        )
        raise StartError(
            "failed to create containerd task: failed to create shim task: OCI runtime "
            "create failed: runc create failed: unable to start container process: "
            f"{detail}: unknown"
        ) from exc


async def reap(
    process: asyncio.subprocess.Process, writer: LogWriter, *, killing: Callable[[], None]
) -> int:
    """Until the process has ended and its output is in the log: its exit code (128 + the
    signal that ended it). Cancelled, it kills the container (calling `killing()` first) and
    still finishes: nothing else reaps the process, and its pod must not stay Running with
    nobody watching it."""
    assert process.stdout is not None and process.stderr is not None
    pumps = [
        asyncio.create_task(_pump(process.stdout, writer, b"stdout")),
        asyncio.create_task(_pump(process.stderr, writer, b"stderr")),
    ]
    # asyncio's wait() also waits for the pipes, which a left-over child may hold open: watch
    # the exit status itself.
    waiter = asyncio.ensure_future(process.wait())
    try:
        while process.returncode is None and not waiter.done():
            await asyncio.wait({waiter}, timeout=0.05)
    except asyncio.CancelledError:
        killing()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        await waiter
    code = process.returncode if process.returncode is not None else waiter.result()
    # When a container's first process exits, everything else in it dies too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    await waiter
    await asyncio.gather(*pumps, return_exceptions=True)
    writer.close()
    return code if code >= 0 else 128 - code


async def _pump(stream: asyncio.StreamReader, writer: LogWriter, name: bytes) -> None:
    while True:
        data = await stream.read(1 << 16)
        if not data:
            return
        writer.write(name, data)
