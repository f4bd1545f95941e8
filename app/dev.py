"""`walkai-jobs dev`: the whole platform on one machine, for web-app and CLI developers.

SQLite in the data directory, the simulated cluster (with a kubeconfig written next to it, so
`kubectl` can look at what the platform created), and the API with GraphiQL, in one process.
"""

from __future__ import annotations

import contextlib
import webbrowser
from pathlib import Path

import uvicorn

from app.config import load_settings
from app.server import create_app
from app.serving import run, server_config, tune_gc


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
    token = await _dev_token(settings.resolved_database_url, data_dir)
    server = uvicorn.Server(
        server_config(create_app(settings), host="127.0.0.1", port=port, log_level="info")
    )
    url = f"http://127.0.0.1:{port}/graphql"
    print(
        f"\nwalk:ai Jobs API (dev)\n  GraphiQL:   {url}\n"
        f"  token:      {token}  (admin; also in {data_dir / 'dev-token'})\n"
        f'  headers:    {{"Authorization": "Bearer {token}"}}  (GraphiQL: Headers tab)\n'
        f"  kubectl:    KUBECONFIG={kubeconfig} kubectl get jobs,pods -n {settings.namespace}\n"
        f"  database:   {settings.resolved_database_url}\n",
        flush=True,
    )
    if open_browser:
        with contextlib.suppress(Exception):
            webbrowser.open(url)
    tune_gc()
    try:
        await server.serve()
    finally:
        await cluster.stop()


async def _dev_token(database_url: str, data_dir: Path) -> str:
    """The dev admin's token: the one in `<data dir>/dev-token` while it works, else a new one."""
    from app.auth.sessions import authenticate_token
    from app.db.setup import close_database, open_database
    from app.services.users import ensure_dev_admin

    await open_database(database_url)
    try:
        path = data_dir / "dev-token"
        if path.exists() and await authenticate_token(path.read_text().strip()):
            return path.read_text().strip()
        return await ensure_dev_admin(data_dir)
    finally:
        await close_database()


def run_dev(data_dir: Path, port: int, open_browser: bool = True) -> int:
    """Run until interrupted; returns the exit code."""
    with contextlib.suppress(KeyboardInterrupt):
        run(_run(data_dir, port, open_browser))
    return 0
