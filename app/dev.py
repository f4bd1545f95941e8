"""`walkai-jobs dev`: the whole platform on one machine, for web-app and CLI developers.

SQLite in the data directory, the simulated cluster (with a kubeconfig written next to it, so
`kubectl` can look at what the platform created), and the API with GraphiQL, in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import webbrowser
from pathlib import Path

import uvicorn

from app.config import load_settings
from app.server import create_app


async def _run(data_dir: Path, port: int, open_browser: bool) -> None:
    from app.sim.cluster import SimCluster

    data_dir.mkdir(parents=True, exist_ok=True)
    cluster = SimCluster(port=0, config_path=None, workdir=data_dir / "cluster")
    await cluster.start()
    kubeconfig = data_dir / "kubeconfig"
    cluster.write_kubeconfig(kubeconfig)
    settings = load_settings(
        profile="dev",
        data_dir=data_dir,
        kubeconfig=kubeconfig,
        create_namespace=True,
        output_volume="emptyDir",
        port=port,
        storage={"backend": "local", "local_root": data_dir / "storage"},
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="info")
    )
    url = f"http://127.0.0.1:{port}/graphql"
    print(
        f"\nwalk:ai Jobs API (dev)\n  GraphiQL:   {url}\n"
        f"  kubectl:    KUBECONFIG={kubeconfig} kubectl get jobs,pods -n {settings.namespace}\n"
        f"  database:   {settings.resolved_database_url}\n",
        flush=True,
    )
    if open_browser:
        with contextlib.suppress(Exception):
            webbrowser.open(url)
    try:
        await server.serve()
    finally:
        await cluster.stop()


def run_dev(data_dir: Path, port: int, open_browser: bool = True) -> int:
    """Run until interrupted; returns the exit code."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(data_dir, port, open_browser))
    return 0
