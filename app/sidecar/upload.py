"""`walkai-jobs sidecar upload`: upload the output directory once the main container ends.

It runs as a Kubernetes native sidecar (an init container with `restartPolicy: Always`): it
starts before the main container and the kubelet stops it only after every main container
has exited — whether it succeeded, failed or was OOM-killed — by sending it SIGTERM and,
after the pod's `terminationGracePeriodSeconds`, SIGKILL. That SIGTERM is what this command
waits for: the main container cannot forget to send it, and needs no change to the user's
image. The container's first process is a shell (see `app.kube.manifests`) that traps the
SIGTERM within a millisecond of starting and records it in a stop file this command polls:
a main container that ends before the interpreter is up cannot make the upload miss it.
The upload then gets the grace period (the manifest sets it from configuration); the run
credential itself has no deadline the job can outlive.

Every regular file goes to `runs/<run id>/outputs/<relative path>`, `concurrency` files at a
time with retries (large files in parts on S3). The manifest — every file uploaded, with size,
content type and ETag, and every file that failed — is written last; the exit code is 0 when
nothing failed, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.sidecar.client import BrokerClient, unavailable
from app.sidecar.credentials import outputs_prefix
from app.storage.sync import (
    TransferError,
    guess_content_type,
    regular_files,
    retrying,
    upload_directory,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadReport:
    """What an upload did, as written to the manifest."""

    manifest: dict[str, Any]

    @property
    def failed(self) -> int:
        """How many files could not be uploaded."""
        return len(self.manifest["failed"])


async def wait_for_stop(stop_file: Path | None = None, poll: float = 0.1) -> None:
    """Return on the first SIGTERM or SIGINT, or once `stop_file` exists: the kubelet's word
    that the main container ended (the manifest's shell wrapper turns its SIGTERM into that
    file, so a signal sent before this interpreter is up is not lost)."""
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    while not stopped.is_set():
        if stop_file is not None and await asyncio.to_thread(stop_file.exists):
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopped.wait(), timeout=poll)
    # Later signals must not interrupt the upload; SIGKILL after the grace period still will.
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: log.info("already uploading; signal ignored"))


async def upload_outputs(
    client: BrokerClient,
    run_id: str,
    root: Path,
    *,
    concurrency: int = 8,
    retries: int = 3,
    backoff: float = 0.5,
    patience: float = 0.0,
) -> UploadReport:
    """Upload `root` under the run's outputs prefix, then store and return the manifest.

    Failed transfers are retried for `patience` seconds at least: the API (the broker, and
    the local store) may be restarting, the object store down for a while."""
    started = datetime.now(UTC)
    until = time.monotonic() + patience
    prefix = outputs_prefix(run_id)
    await client.prepare(await asyncio.to_thread(_planned, root, prefix))
    try:
        done = await upload_directory(
            client, root, prefix, concurrency=concurrency, retries=retries, backoff=backoff,
            patience=patience, patient=unavailable,
        )  # fmt: skip
        failed: dict[str, BaseException] = {}
    except TransferError as exc:
        done, failed = sorted(exc.done, key=lambda info: info.key), exc.failures
    manifest = {
        "version": 1,
        "runId": run_id,
        "prefix": prefix,
        "startedAt": started.isoformat(),
        "finishedAt": datetime.now(UTC).isoformat(),
        "files": [
            {
                "path": info.key[len(prefix) :],
                "size": info.size,
                "contentType": info.content_type,
                "etag": info.etag,
            }
            for info in done
        ],
        "bytes": sum(info.size for info in done),
        "failed": [{"path": path, "error": repr(error)} for path, error in sorted(failed.items())],
    }
    body = json.dumps(manifest).encode()
    await retrying(lambda: client.put_manifest(body), retries=retries, backoff=backoff, until=until)
    return UploadReport(manifest)


def _planned(root: Path, prefix: str) -> list[tuple[str, int, str | None]]:
    """(key, size, content type) of the files `upload_directory` is about to send."""
    planned = []
    for relative, path in regular_files(root):
        try:
            size = path.stat().st_size
        except OSError:
            continue  # gone already; upload_directory reports it
        planned.append((prefix + relative, size, guess_content_type(path)))
    return planned


async def run_upload(
    *,
    api_url: str,
    token: str,
    run_id: str,
    root: Path,
    wait: bool,
    concurrency: int,
    retries: int,
    patience: float = 0.0,
    stop_file: Path | None = None,
) -> int:
    """The command: wait for the main container to end (unless told not to), upload, report."""
    if wait:
        log.info("waiting for the main container to end (SIGTERM or %s)", stop_file)
        await wait_for_stop(stop_file)
    started = time.monotonic()
    async with BrokerClient(api_url, token) as client:
        try:
            report = await upload_outputs(
                client, run_id, root, concurrency=concurrency, retries=retries, patience=patience
            )
        except Exception:
            log.exception("the outputs could not be uploaded")
            return 1
    manifest = report.manifest
    log.info(
        "uploaded %d file(s), %d bytes in %.1f s; %d failed",
        len(manifest["files"]),
        manifest["bytes"],
        time.monotonic() - started,
        report.failed,
    )
    for failure in manifest["failed"]:
        log.error("not uploaded: %s (%s)", failure["path"], failure["error"])
    return 1 if report.failed else 0
