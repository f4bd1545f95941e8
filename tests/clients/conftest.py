"""Real clients of the API: Python `gql`, node's `graphql-ws`, GraphiQL in headless Chromium.

The JavaScript clients live in tests/clients/node (package.json + package-lock.json); `npm ci`
runs here when node_modules is missing (scripts/test.sh runs it up front).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import Api

NODE_DIR = Path(__file__).parent / "node"
ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "clients"


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing; scripts/test.sh installs it")
    pytest.skip(f"{what} is missing; run scripts/test.sh to install it")


async def run(*command: str, cwd: Path = NODE_DIR, timeout: float = 120) -> str:
    """A command's stdout; fails with its stderr (never blocks the loop the cluster runs in)."""
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode == 0, f"{command[:2]} failed ({process.returncode}): {err.decode()}"
    return out.decode()


@pytest.fixture(scope="session")
async def node_clients() -> Path:
    """tests/clients/node with its packages installed."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        _missing("node/npm")
    if not (NODE_DIR / "node_modules" / "graphql-ws").is_dir():
        await run("npm", "ci", "--no-audit", "--no-fund", "--silent")
    return NODE_DIR


@pytest.fixture(scope="session")
async def graphiql_assets() -> None:
    """GraphiQL's files vendored into the app (scripts/test.sh does it before the suite)."""
    from app.graphiql import vendored

    if not vendored():
        if shutil.which("npm") is None:
            _missing("npm (to vendor GraphiQL)")
        await run(sys.executable, "-m", "app.graphiql", "vendor", cwd=ROOT, timeout=300)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium (playwright-core drives it; it downloads no browser of its own)."""
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not Path(path).exists():
        _missing("chromium")
    return path


def credentials(api: Api) -> tuple[dict[str, str], dict[str, Any]]:
    """HTTP headers and the websocket `connection_init` payload that authenticate as the test
    user: taken from the Api fixture when it carries them (`headers`, `connection_params`)."""
    return dict(getattr(api, "headers", None) or {}), dict(
        getattr(api, "connection_params", None) or {}
    )


def lines(output: str) -> list[dict[str, Any]]:
    """The JSON lines a node client printed."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]
