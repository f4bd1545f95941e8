"""The `walkai-jobs` command line: one argparse parser, each area registers its subcommands."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.config import load_settings
    from app.observability.logs import configure_logging
    from app.server import create_app
    from app.serving import server_config, tune_gc

    configure_logging()  # JSON lines with request ids (WALKAI_LOG_FORMAT=text for people)
    settings = load_settings()
    config = server_config(
        create_app(settings),
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_config=None,
        access_log=False,
    )
    tune_gc()
    uvicorn.Server(config).run()
    return 0


def _dev(args: argparse.Namespace) -> int:
    from app.dev import run_dev

    return run_dev(
        data_dir=args.data_dir,
        port=args.port,
        open_browser=not args.no_browser,
        shutdown_grace=args.shutdown_grace,
    )


def _migrate(args: argparse.Namespace) -> int:
    from app.config import load_settings
    from app.db.setup import migrate_database

    url = load_settings().resolved_database_url
    asyncio.run(migrate_database(url))
    print(f"database is up to date ({url.split('://', 1)[0]})")
    return 0


def _export_schema(args: argparse.Namespace) -> int:
    from app.graphql.schema import export_schema

    sdl = export_schema()
    if args.output is None:
        sys.stdout.write(sdl)
    else:
        args.output.write_text(sdl)
    return 0


def _register_core(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the API (production)")
    serve.add_argument("--host", default=None, help="bind address (default: WALKAI_HOST)")
    serve.add_argument("--port", type=int, default=None, help="port (default: WALKAI_PORT)")
    serve.set_defaults(handler=_serve)

    dev = commands.add_parser(
        "dev", help="run the whole platform locally: SQLite, simulated cluster, GraphiQL"
    )
    dev.add_argument("--data-dir", type=Path, default=Path(".walkai"), help="state directory")
    dev.add_argument("--port", type=int, default=8000, help="API port on 127.0.0.1")
    dev.add_argument("--no-browser", action="store_true", help="do not open GraphiQL")
    dev.add_argument(
        "--shutdown-grace",
        type=float,
        default=3.0,
        help="seconds each pod may take to stop when dev stops (caps its grace period)",
    )
    dev.set_defaults(handler=_dev)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(handler=_migrate)

    export = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.add_argument("--output", type=Path, default=None, help="write to a file instead")
    export.set_defaults(handler=_export_schema)


def build_parser() -> argparse.ArgumentParser:
    """Assemble the parser; each subcommand lives next to the code it drives."""
    from app.auth import cli as auth_cli
    from app.sidecar import cli as sidecar_cli
    from app.sim import cli as sim_cli

    parser = argparse.ArgumentParser(prog="walkai-jobs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    _register_core(commands)
    sim_cli.register(commands)
    auth_cli.register(commands)
    sidecar_cli.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result
