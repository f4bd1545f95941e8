"""Log throughput of the simulated cluster: one followed pods/log stream over HTTP.

A pod prints numbered lines as fast as it can; one client follows its log through the HTTP
server with the unmodified kubernetes-asyncio client. The baseline, measured in the same run,
reads the same CRI log file directly and strips the CRI prefixes (what the server cannot beat).

    .venv/bin/python bench/sim_logs.py [--lines 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client, config

from app.sim.cluster import SimCluster
from app.sim.podlogs import render


async def main(lines: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="sim-logs-bench-"))
    cluster = SimCluster(port=0, config_path=None, workdir=workdir)
    await cluster.start()
    try:
        script = f"for i in range({lines}): print('line', i)"
        cluster.store.create(
            "pods",
            "default",
            {
                "metadata": {"name": "chatty"},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "main",
                            "image": "python",
                            "command": [sys.executable, "-c", script],
                        }
                    ],
                },
            },
        )
        while cluster.store.get("pods", "default", "chatty")["status"].get("phase") == "Pending":
            await asyncio.sleep(0.01)
        kubeconfig = cluster.write_kubeconfig(workdir / "config")
        configuration = client.Configuration()
        await config.load_kube_config(
            config_file=str(kubeconfig), client_configuration=configuration
        )
        async with client.ApiClient(configuration) as api:
            core = client.CoreV1Api(api)
            started = time.perf_counter()
            response: Any = await core.read_namespaced_pod_log(
                "chatty", "default", follow=True, _preload_content=False
            )
            received = 0
            async for chunk in response.content.iter_any():
                received += chunk.count(b"\n")
            response.release()
            followed = time.perf_counter() - started
        log_file = next(workdir.glob("**/pods/default_chatty_*/logs/main/0.log"))
        started = time.perf_counter()
        baseline_lines = 0
        with log_file.open("rb") as f:
            carry = b""
            while block := f.read(1 << 20):
                block = carry + block
                cut = block.rfind(b"\n") + 1
                carry = block[cut:]
                baseline_lines += render(block[:cut], False).count(b"\n")
        baseline = time.perf_counter() - started
    finally:
        await cluster.stop()
    follow_rate = received / followed
    baseline_rate = baseline_lines / baseline
    print(f"lines printed by the pod:        {lines:,}")
    print(
        f"followed over HTTP:              {received:,} lines in {followed:.2f} s "
        f"= {follow_rate:,.0f} lines/s (includes the pod's own printing time)"
    )
    print(
        f"baseline, file read + render:    {baseline_lines:,} lines in {baseline:.3f} s "
        f"= {baseline_rate:,.0f} lines/s"
    )
    print(f"ratio follow / baseline:         {follow_rate / baseline_rate:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    asyncio.run(main(parser.parse_args().lines))
