"""`walkai-jobs dev`: the whole platform on one machine, for web-app and CLI developers.

SQLite in the data directory, the simulated cluster (with a kubeconfig written next to it, so
`kubectl` can look at what the platform created), and the API with GraphiQL, in one process.

SIGINT, SIGTERM or a normal exit stop the API, then shut the simulated node down (every pod's
processes get SIGTERM, then SIGKILL after its grace period capped at `shutdown_grace` seconds)
and return once none is left. A start first ends what a `dev` that was killed left running.
Runs left unfinished either way end FAILED with reason `NodeShutdown` (see app/sim/runs.py).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import webbrowser
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from app.config import load_settings
from app.dev_isolation import Isolation, isolate
from app.observability.console import configure_dev_logging
from app.server import create_app
from app.serving import run, server_config, tune_gc

log = logging.getLogger(__name__)

DEFAULT_SHUTDOWN_GRACE = 3.0
T = TypeVar("T")


async def _run(data_dir: Path, port: int, open_browser: bool, shutdown_grace: float) -> None:
    from app.sim.cluster import SimCluster
    from app.sim.pidfiles import PidFiles
    from app.sim.runs import LOST, STOPPED
    from app.sim.signals import SignalFreeServer, stop_signals

    configure_dev_logging()
    data_dir.mkdir(parents=True, exist_ok=True)
    workdir, kubeconfig = data_dir / "cluster", data_dir / "kubeconfig"
    # Before anything starts: what a `dev` killed on this data directory left running.
    PidFiles(workdir / "pids").reap()
    settings = load_settings(
        profile="dev",
        data_dir=data_dir,
        kubeconfig=kubeconfig,
        create_namespace=True,
        output_volume="emptyDir",
        port=port,
        storage={"backend": "local", "local_root": data_dir / "storage"},
    )
    database = settings.resolved_database_url
    token = await _prepare_database(database, data_dir, LOST)
    isolation = isolate(data_dir, settings.sidecar_image)
    server: SignalFreeServer | None = None
    stopping: list[int] = []

    def on_stop(sig: int) -> None:
        stopping.append(sig)
        if server is not None:
            server.handle_exit(sig, None)

    with stop_signals(on_stop):
        cluster = SimCluster(port=0, config_path=None, workdir=workdir, run_as=isolation.policy)
        try:
            await cluster.start()
            cluster.write_kubeconfig(kubeconfig)
            configure_dev_logging()  # again: the simulated cluster's uvicorn set up its own
            # The middleware writes the access log (`app.observability.console` keeps it at
            # DEBUG); uvicorn's own, which the simulated cluster's requests would reach, is off.
            config = server_config(
                create_app(settings),
                host="127.0.0.1",
                port=port,
                log_level="info",
                log_config=None,
                access_log=False,
            )
            server = SignalFreeServer(config)
            _announce(settings.namespace, data_dir, database, port, token, isolation, open_browser)
            tune_gc()
            if not stopping:
                await server.serve()
        finally:
            await cluster.stop(grace=max(shutdown_grace, 0.0))
            await _with_database(database, lambda: _fail_unfinished(STOPPED))


def _announce(
    namespace: str,
    data_dir: Path,
    database: str,
    port: int,
    token: str,
    isolation: Isolation,
    open_browser: bool,
) -> None:
    url = f"http://127.0.0.1:{port}/graphql"
    print(
        f"\nwalk:ai Jobs API (dev)\n"
        f"  GraphiQL:   {url}  (opens with a first-run guide and the token)\n"
        f"  token:      {token}  (admin; also in {_shown(data_dir / 'dev-token')})\n"
        f'  headers:    {{"Authorization": "Bearer {token}"}}\n'
        f"  kubectl:    {kubectl_command(data_dir / 'kubeconfig', namespace)}\n"
        f"  database:   {database}\n"
        f"  runs:       {isolation.summary}\n"
        "  mail:       invitation and password-reset links are printed here; they open a page\n"
        "              of this server that completes them\n",
        flush=True,
    )
    if open_browser:
        with contextlib.suppress(Exception):
            webbrowser.open(url)


def kubectl_command(kubeconfig: Path, namespace: str) -> str:
    """The command that lists what the platform made, runnable as printed from the current
    directory: the kubectl installed next to this Python (`.venv/bin/kubectl`), else one on
    PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    found = beside if beside.is_file() else shutil.which("kubectl")
    if found is None:
        return "kubectl is not installed: run `bash scripts/bootstrap.sh dev`"
    return f"KUBECONFIG={_shown(kubeconfig)} {_shown(Path(found))} get jobs,pods -n {namespace}"


def _shown(path: Path) -> str:
    """A path as short as it can be while it still works from the current directory."""
    absolute = path.absolute()
    with contextlib.suppress(ValueError):
        return str(absolute.relative_to(Path.cwd()))
    return str(absolute)


async def _with_database(database_url: str, work: Callable[[], Awaitable[T]]) -> T:
    from app.db.setup import close_database, open_database

    await open_database(database_url)
    try:
        return await work()
    finally:
        await close_database()


async def _fail_unfinished(message: str) -> None:
    from app.sim.runs import fail_unfinished_runs

    if ended := await fail_unfinished_runs(message):
        log.warning("%d unfinished run(s) failed: the simulated node went away", ended)


async def _prepare_database(database_url: str, data_dir: Path, lost: str) -> str:
    """Record the runs a killed `dev` left unfinished; returns the dev admin's token."""

    async def work() -> str:
        await _fail_unfinished(lost)
        return await _dev_token(data_dir)

    return await _with_database(database_url, work)


async def _dev_token(data_dir: Path) -> str:
    """The dev admin's token: the one in `<data dir>/dev-token` while it works, else a new one."""
    from app.auth.sessions import authenticate_token
    from app.services.users import ensure_dev_admin

    path = data_dir / "dev-token"
    if path.exists() and await authenticate_token(path.read_text().strip()):
        return path.read_text().strip()
    return await ensure_dev_admin(data_dir)


def run_dev(
    data_dir: Path,
    port: int,
    open_browser: bool = True,
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE,
) -> int:
    """Run until SIGINT or SIGTERM; returns the exit code once nothing it started is left."""
    with contextlib.suppress(KeyboardInterrupt):
        run(_run(data_dir, port, open_browser, shutdown_grace))
    return 0
