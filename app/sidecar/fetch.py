"""`walkai-jobs sidecar fetch-inputs`: put the run's inputs in the input directory.

Runs as an init container, so the main container starts only once every file is in place:
each input the Job names becomes `<input dir>/<input name>/<its paths>`. Files come down
`concurrency` at a time with retries, each through a presigned URL the broker mints just
before use. A failure fails the init container, and so the run, rather than starting the
user's code on incomplete inputs.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

from app.sidecar.client import BrokerClient, unavailable
from app.storage.base import ObjectInfo
from app.storage.sync import Job, TransferError, run_all

log = logging.getLogger(__name__)


def _download(client: BrokerClient, key: str, target: Path, size: int) -> Job:
    async def run() -> ObjectInfo:
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        await client.download_file(key, target)
        return ObjectInfo(key, size, datetime.now(UTC), None, None)

    return run


async def fetch_inputs(
    client: BrokerClient,
    root: Path,
    *,
    concurrency: int = 8,
    retries: int = 3,
    patience: float = 0.0,
) -> int:
    """Download every file of every input of the run under `root`; returns the byte count."""
    jobs: dict[str, Job] = {}
    for entry in await client.inputs():
        base = root / entry["name"]
        for file in entry["files"]:
            target = base.joinpath(*file["path"].split("/"))
            jobs[file["key"]] = _download(client, file["key"], target, file["size"])
    done = await run_all(
        jobs,
        concurrency=concurrency,
        retries=retries,
        backoff=0.5,
        patience=patience,
        patient=unavailable,
    )
    return sum(info.size for info in done)


async def run_fetch(
    *,
    api_url: str,
    token: str,
    root: Path,
    concurrency: int,
    retries: int,
    patience: float = 0.0,
) -> int:
    """The command: fetch, log, and exit non-zero if any file is missing."""
    root.mkdir(parents=True, exist_ok=True)
    async with BrokerClient(api_url, token) as client:
        try:
            size = await fetch_inputs(
                client, root, concurrency=concurrency, retries=retries, patience=patience
            )
        except TransferError as exc:
            for name, error in exc.failures.items():
                log.error("not fetched: %s (%r)", name, error)
            return 1
    log.info("inputs ready in %s (%d bytes)", root, size)
    return 0
