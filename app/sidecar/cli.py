"""`walkai-jobs sidecar upload | fetch-inputs`: what a run's pod runs beside the user's code.

Both read their settings from the environment the manifest gives them: `WALKAI_API_URL` (the
broker), `WALKAI_RUN_TOKEN` (from the run's Secret), `WALKAI_RUN_ID`, and `WALKAI_OUTPUT_DIR`
or `WALKAI_INPUT_DIR`. Flags override them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `sidecar` subcommand to the sub-parsers of the `walkai-jobs` parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sidecar", help="commands run inside a run's pod (outputs, inputs)", description=__doc__
    )
    commands = parser.add_subparsers(dest="sidecar_command", required=True)

    upload = commands.add_parser(
        "upload", help="wait for the main container to end, then upload the output directory"
    )
    _common(upload)
    upload.add_argument("--output-dir", type=Path, default=None, help="default: WALKAI_OUTPUT_DIR")
    upload.add_argument("--run-id", default=None, help="default: WALKAI_RUN_ID")
    upload.add_argument(
        "--no-wait", action="store_true", help="upload at once instead of waiting for SIGTERM"
    )
    upload.add_argument(
        "--stop-file",
        type=Path,
        default=None,
        help="also stop waiting once this file exists (default: WALKAI_STOP_FILE)",
    )
    upload.set_defaults(handler=_upload)

    fetch = commands.add_parser("fetch-inputs", help="download the run's inputs")
    _common(fetch)
    fetch.add_argument("--input-dir", type=Path, default=None, help="default: WALKAI_INPUT_DIR")
    fetch.set_defaults(handler=_fetch)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-url", default=None, help="default: WALKAI_API_URL")
    parser.add_argument("--concurrency", type=int, default=8, help="files at a time")
    parser.add_argument("--retries", type=int, default=4, help="retries per file")
    parser.add_argument(
        "--patience",
        type=float,
        default=300,
        help="seconds a failing file is retried for at least (the API or the store may be"
        " restarting; the outputs' grace period is longer)",
    )


def _quiet() -> None:
    # One line per request would drown the container's log in a large upload.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _setting(value: Any, variable: str) -> str:
    found = value if value is not None else os.environ.get(variable)
    if not found:
        raise SystemExit(f"walkai-jobs sidecar: {variable} is not set")
    return str(found)


def _optional_path(variable: str) -> Path | None:
    value = os.environ.get(variable)
    return Path(value) if value else None


def _upload(args: argparse.Namespace) -> int:
    from app.sidecar.upload import run_upload

    _quiet()
    return asyncio.run(
        run_upload(
            api_url=_setting(args.api_url, "WALKAI_API_URL"),
            token=_setting(None, "WALKAI_RUN_TOKEN"),
            run_id=_setting(args.run_id, "WALKAI_RUN_ID"),
            root=Path(_setting(args.output_dir, "WALKAI_OUTPUT_DIR")),
            wait=not args.no_wait,
            concurrency=args.concurrency,
            retries=args.retries,
            patience=args.patience,
            stop_file=args.stop_file or _optional_path("WALKAI_STOP_FILE"),
        )
    )


def _fetch(args: argparse.Namespace) -> int:
    from app.sidecar.fetch import run_fetch

    _quiet()
    return asyncio.run(
        run_fetch(
            api_url=_setting(args.api_url, "WALKAI_API_URL"),
            token=_setting(None, "WALKAI_RUN_TOKEN"),
            root=Path(_setting(args.input_dir, "WALKAI_INPUT_DIR")),
            concurrency=args.concurrency,
            retries=args.retries,
            patience=args.patience,
        )
    )
