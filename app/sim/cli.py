"""`walkai-jobs sim`: run the simulated cluster alone and write a kubeconfig for it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `sim` subcommand to the sub-parsers of the `walkai-jobs` parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sim", help="run the simulated Kubernetes cluster", description=__doc__
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--kubeconfig", type=Path, required=True, help="where to write it")
    parser.add_argument("--config", type=Path, default=None, help="nodes YAML")
    parser.add_argument("--workdir", type=Path, default=None, help="directory for pod files")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Start the cluster, write the kubeconfig and serve until interrupted."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


async def _serve(args: argparse.Namespace) -> None:
    from app.sim.cluster import SimCluster

    cluster = SimCluster(port=args.port, config_path=args.config, workdir=args.workdir)
    await cluster.start()
    cluster.write_kubeconfig(args.kubeconfig)
    print(
        f"simulated cluster at {cluster.url}; kubeconfig written to {args.kubeconfig}", flush=True
    )
    try:
        await cluster.serve_forever()
    finally:
        await cluster.stop()
