"""`walkai-jobs serve` as a real process: JSON logs with request ids, and a graceful stop."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.contract.contract import operation
from tests.support.graphql import GraphQLHTTP, init_payload

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_ready(url: str, process: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            assert process.returncode is None, "walkai-jobs serve exited early"
            try:
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("walkai-jobs serve never became ready")


@pytest.fixture
async def served(kubeconfig: Path, tmp_path: Path) -> Any:
    port = free_port()
    env = {
        **os.environ,
        "WALKAI_DATABASE_URL": f"sqlite://{tmp_path / 'walkai.db'}",
        "WALKAI_DATA_DIR": str(tmp_path),
        "WALKAI_KUBECONFIG": str(kubeconfig),
        "WALKAI_NAMESPACE": "walkai-shutdown",
        "WALKAI_CREATE_NAMESPACE": "true",
        "WALKAI_OUTPUT_VOLUME": "emptyDir",
        "WALKAI_STORAGE__BACKEND": "local",
        "WALKAI_STORAGE__LOCAL_ROOT": str(tmp_path / "objects"),
        "WALKAI_LOG_FORMAT": "json",
    }
    # The installation's first admin, made from the shell as an operator would.
    made = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "admin-token", "ops@example.com",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    token = (await made.communicate())[0].decode().strip()
    assert made.returncode == 0 and token
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await wait_ready(f"http://127.0.0.1:{port}", process)
        yield port, process, token
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_sigterm_closes_subscriptions_and_exits_cleanly(served: Any) -> None:
    port, process, token = served
    http = GraphQLHTTP(f"http://127.0.0.1:{port}", token)
    response = await http.client.post(
        http.url,
        json={"query": operation("CliGpuProfiles")},
        headers={"X-Request-Id": "shutdown-test-1"},
    )
    await http.close()
    assert response.json()["data"]["gpuProfiles"]

    async with websockets.connect(
        f"ws://127.0.0.1:{port}/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": init_payload(token)}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        query = operation("DashboardRunsChanged")
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        await asyncio.sleep(0.2)  # let the server start the subscription
        process.send_signal(signal.SIGTERM)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 30)
    # 1012 "service restart": a client reconnects (to another replica) at once.
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012

    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    # uvicorn finishes its shutdown, then re-raises the signal it caught (exit status -15).
    assert process.returncode in (0, -signal.SIGTERM)
    lines = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    assert lines, stderr.decode()[-2000:]
    mine = [line for line in lines if line.get("request_id") == "shutdown-test-1"]
    assert {line["logger"] for line in mine} >= {"walkai.access", "walkai.graphql"}
    graphql = next(line for line in mine if line["logger"] == "walkai.graphql")
    assert graphql["operation"] == "CliGpuProfiles" and graphql["errors"] is False
    messages = [line["message"] for line in lines]
    assert "shutting down" in messages and messages.index("stopped") > messages.index(
        "shutting down"
    )
    assert next(li for li in lines if li["message"] == "shutting down")["active_subscriptions"] == 0
