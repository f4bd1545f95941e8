"""The issue's check: a fresh clone, the README's first command, then its kubectl command and its
GraphQL walkthrough.

This is the one test that installs a virtualenv (`scripts/bootstrap.sh dev` in the clone; pip's
cache is reused), so it is left out of the default run (pyproject's `addopts`): run it with
`pytest -m fresh_clone`.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.dev.devprocess import free_port, poll
from tests.newcomer.readme import Walkthrough, blocks, commands

REPO = Path(__file__).resolve().parents[2]


def first_command() -> str:
    """The README's first command: the one that installs and starts the platform."""
    return next(commands(blocks("bash")[0]))


@pytest.mark.fresh_clone
@pytest.mark.timeout(1200)
async def test_a_fresh_clone_runs_the_readme(tmp_path: Path) -> None:
    clone, data, port = tmp_path / "walkai-jobs", tmp_path / "data", free_port()
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    assert first_command() == "bash scripts/dev.sh"
    log = (tmp_path / "dev.log").open("wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "WALKAI_"))}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if "/.venv/" not in p
    )
    args = ["--no-browser", "--port", str(port), "--data-dir", str(data)]
    process = await asyncio.create_subprocess_exec(
        *first_command().split(), *args, cwd=clone, stdout=log, stderr=log, env=env
    )
    url = f"http://127.0.0.1:{port}"

    async def up() -> bool:
        assert process.returncode is None, (tmp_path / "dev.log").read_text()
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                return (await http.get(f"{url}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    try:
        await poll(up, timeout=900, every=1)
        token = (data / "dev-token").read_text().strip()
        walk = Walkthrough(url, token)
        await walk.run()
        assert walk.first("runStatus")[-1]["runStatus"]["status"] == "COMPLETED"

        # The README's shell commands, with this run's port and data directory.
        for command in commands("\n".join(blocks("bash")[1:])):
            if "kubectl get" not in command and "curl" not in command:
                continue
            command = command.replace(".walkai", str(data)).replace(":8000", f":{port}")
            done = subprocess.run(
                command, shell=True, cwd=clone, capture_output=True, text=True, env=env
            )
            assert done.returncode == 0, (command, done.stderr)
            assert re.search(r"run-\w+|admin@walkai\.dev", done.stdout), (command, done.stdout)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 60)
        log.close()
