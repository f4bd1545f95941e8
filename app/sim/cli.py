"""`walkai-jobs sim`: run the simulated cluster alone and write a kubeconfig for it.

SIGINT or SIGTERM shuts the node down: every pod is stopped (SIGTERM, its grace period capped at
`--shutdown-grace` seconds, then SIGKILL) and the command returns once no container process is
left. With `--workdir`, a start ends what a previous `sim` on it left when it was killed.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

DEFAULT_SHUTDOWN_GRACE = 5.0


def register(subparsers: Any) -> None:
    """Add the `sim` subcommand to the sub-parsers of the `walkai-jobs` parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sim", help="run the simulated Kubernetes cluster", description=__doc__
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--kubeconfig", type=Path, required=True, help="where to write it")
    parser.add_argument("--config", type=Path, default=None, help="nodes YAML")
    parser.add_argument("--workdir", type=Path, default=None, help="directory for pod files")
    parser.add_argument(
        "--shutdown-grace",
        type=float,
        default=DEFAULT_SHUTDOWN_GRACE,
        help="seconds each pod may take to stop when the command stops (caps its grace period)",
    )
    parser.add_argument(
        "--time-factor",
        type=float,
        default=None,
        help="multiply the cluster's back-off delays (CrashLoopBackOff, Job pod replacement) "
        "by this; default 1 (real time) or the config's timeFactor",
    )
    parser.add_argument(
        "--deny",
        action="append",
        default=[],
        type=_deny_rule,
        metavar="VERB:RESOURCE",
        help="refuse this verb on this resource, as RBAC would (kubectl auth can-i answers no), "
        "e.g. delete:jobs, get:pods/log, '*:secrets'; repeatable",
    )
    parser.set_defaults(handler=run)


def _deny_rule(text: str) -> str:
    from app.sim.access import Rule

    try:
        Rule.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def run(args: argparse.Namespace) -> int:
    """Start the cluster, write the kubeconfig and serve until SIGINT or SIGTERM."""
    asyncio.run(_serve(args))
    return 0


async def _serve(args: argparse.Namespace) -> None:
    from app.sim.cluster import SimCluster
    from app.sim.signals import stop_signals

    stopping = asyncio.Event()
    with stop_signals(lambda _sig: stopping.set()):
        cluster = SimCluster(
            port=args.port, config_path=args.config, workdir=args.workdir,
            time_factor=args.time_factor, denied=args.deny,
        )  # fmt: skip
        await cluster.start()
        try:
            cluster.write_kubeconfig(args.kubeconfig)
            print(
                f"simulated cluster at {cluster.url}; kubeconfig written to {args.kubeconfig}",
                flush=True,
            )
            serving = asyncio.ensure_future(cluster.serve_forever())
            stopped = asyncio.ensure_future(stopping.wait())
            await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
        finally:
            await cluster.stop(grace=max(args.shutdown_grace, 0.0))
