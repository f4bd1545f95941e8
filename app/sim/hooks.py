"""Container lifecycle hooks on the simulated node: `postStart` with an `exec` handler.

As the kubelet does, a container's postStart hook runs right after its process starts, and the
container is not reported running — nor, for a native sidecar, is the next container started —
until the hook has returned. A hook that fails gets the container killed
(`FailedPostStartHook`). The command runs as an exec in the container would: its environment,
working directory, user and mounted paths. `httpGet` and `sleep` handlers are not simulated
(they are accepted and skipped).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Mapping
from typing import Any

from app.sim.containerproc import StartError, spawn


def post_start_command(container: Mapping[str, Any]) -> list[str] | None:
    """The container's postStart exec command, if it has one."""
    hook = ((container.get("lifecycle") or {}).get("postStart") or {}).get("exec") or {}
    command = hook.get("command")
    return [str(part) for part in command] if command else None


async def run_hook(
    argv: list[str],
    *,
    env: Mapping[str, str],
    cwd: str,
    switch: Mapping[str, Any],
    going_on: Callable[[], bool],
) -> str | None:
    """Run the hook until it ends or `going_on()` turns false (the container ended, the pod is
    being deleted); None if it succeeded or was cut short, else why it failed."""
    try:
        process = await spawn(argv, cwd=cwd, env=env, switch=switch, merged=True)
    except StartError as exc:
        return f"command {argv!r} could not start: {exc}"
    output = asyncio.ensure_future(process.communicate())
    try:
        while not output.done():
            if not going_on():
                return None
            await asyncio.wait({output}, timeout=0.02)
        out, _ = output.result()
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            await output
    if process.returncode == 0:
        return None
    text = out.decode(errors="replace").strip()
    return f"command {argv!r} exited with {process.returncode}: {text}"
