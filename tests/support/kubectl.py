"""Running the real kubectl against the simulated cluster without blocking the test's loop."""

from __future__ import annotations

import asyncio
from pathlib import Path


async def kubectl(kubeconfig: Path, *args: str, namespace: str | None = None) -> str:
    """kubectl's stdout; raises with its stderr if it fails (the cluster runs in this loop)."""
    ns = ["-n", namespace] if namespace else []
    process = await asyncio.create_subprocess_exec(
        "kubectl",
        f"--kubeconfig={kubeconfig}",
        *ns,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    if process.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {err.decode()}")
    return out.decode()
