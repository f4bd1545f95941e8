"""`walkai-jobs dev` as a developer starts it: GraphQL up, runs complete, kubectl sees them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import httpx

from tests.api.operations import CREATE_JOB, RUN, job_input
from tests.support.kubectl import kubectl


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_dev_starts_the_whole_platform(tmp_path: Path) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        Path(sys.executable).parent / "walkai-jobs",
        "dev",
        "--port",
        str(port),
        "--no-browser",
        "--data-dir",
        str(tmp_path),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "WALKAI_DATABASE_URL": ""},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(300):
                try:
                    if (await http.get(f"{url}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            page = await http.get(f"{url}/graphql", headers={"accept": "text/html"})
            assert "GraphiQL" in page.text

            # `dev` wrote its admin's token next to its state, ready for clients to send.
            token = (tmp_path / "dev-token").read_text().strip()

            async def gql(query: str, variables: dict[str, object]) -> dict[str, object]:
                response = await http.post(
                    f"{url}/graphql",
                    json={"query": query, "variables": variables},
                    headers={"Authorization": f"Bearer {token}"},
                )
                data: dict[str, object] = response.json()["data"]
                return data

            created = await gql(CREATE_JOB, {"input": job_input(command=["sh", "-c", "echo hi"])})
            run_id = created["createJob"]["run"]["id"]  # type: ignore[index]
            for _ in range(300):
                run = (await gql(RUN, {"id": run_id}))["run"]
                if run["status"] == "COMPLETED":  # type: ignore[index]
                    break
                await asyncio.sleep(0.1)
            assert run["status"] == "COMPLETED"  # type: ignore[index]

        assert (tmp_path / "walkai.db").exists()
        # The Kubernetes Job succeeds once the pod's upload sidecar has stopped too, a moment
        # after the main container (and so the run) completed.
        for _ in range(100):
            jobs = json.loads(
                await kubectl(
                    tmp_path / "kubeconfig", "get", "jobs", "-o", "json", namespace="walkai-jobs"
                )
            )
            (job,) = jobs["items"]
            if job["status"].get("succeeded") == 1:
                break
            await asyncio.sleep(0.2)
        assert job["status"]["succeeded"] == 1
    finally:
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), timeout=15)
        except TimeoutError:
            process.kill()
            await process.wait()
