"""Running the real kubectl (.venv/bin/kubectl) against a simulated cluster from async tests."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

KUBECTL = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "kubectl"


async def run_kubectl(kubeconfig: Path, *args: str, stdin: str = "") -> tuple[int, str, str]:
    """Run kubectl without blocking the loop the server runs on: (exit code, stdout, stderr)."""
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    proc = await asyncio.create_subprocess_exec(
        str(KUBECTL), *args, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def kubectl(kubeconfig: Path, *args: str, stdin: str = "") -> str:
    """Run kubectl, expect success, return its stdout."""
    code, out, err = await run_kubectl(kubeconfig, *args, stdin=stdin)
    assert code == 0, f"kubectl {' '.join(args)} failed: {err}"
    return out
