"""Directory ↔ prefix transfers: what the run sidecar (outputs) and init container (inputs) do.

Files move `concurrency` at a time through the store's own `upload_file`/`download_file`
(each large file is itself split into parts by the S3 store). A file that fails is retried
with backoff; the others carry on, and the failures are reported together at the end, so
one bad file does not cost the rest of a run's outputs.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import random
import stat
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol, TypeVar

from app.storage.base import InvalidKey, ObjectInfo, ObjectStore, validate_prefix

Job = Callable[[], Awaitable[ObjectInfo]]
T = TypeVar("T")
# Which errors are worth `patience` (an outage), beyond the few retries any error gets.
Patient = Callable[[BaseException], bool]

# The longest wait between two attempts, however many failed.
MAX_BACKOFF = 10.0


class FileUploader(Protocol):
    """What `upload_directory` needs: an `ObjectStore`, or the run sidecar's brokered client."""

    async def upload_file(
        self, key: str, path: Path, *, content_type: str | None = None
    ) -> ObjectInfo:
        """Upload a local file to `key`."""
        ...


# Errors that another attempt cannot fix.
_PERMANENT = (InvalidKey, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


class TransferError(Exception):
    """Some files failed after every retry; `failures` maps each one to its last error."""

    def __init__(self, failures: dict[str, BaseException], done: list[ObjectInfo]) -> None:
        first = next(iter(failures.items()))
        super().__init__(f"{len(failures)} file(s) failed, first {first[0]!r}: {first[1]!r}")
        self.failures = failures
        self.done = done


async def upload_directory(
    store: FileUploader,
    root: Path,
    prefix: str,
    *,
    concurrency: int = 8,
    retries: int = 3,
    backoff: float = 0.2,
    patience: float = 0.0,
    patient: Patient | None = None,
) -> list[ObjectInfo]:
    """Upload every regular file under `root` to `prefix` + its relative path; sorted by key.

    Symbolic links are followed only when they end at a regular file inside `root`: a run
    must not be able to publish files of the container that uploads its outputs. FIFOs,
    sockets and devices are skipped (reading them could block forever).
    Raises `TransferError` when files still fail after `retries` retries, and after
    `patience` seconds if `patient(error)` (an outage can last longer than a few retries).
    """
    base = _as_folder(validate_prefix(prefix))
    files = await asyncio.to_thread(regular_files, root)

    def upload(relative: str, path: Path) -> Job:
        content_type = guess_content_type(path)
        return lambda: store.upload_file(base + relative, path, content_type=content_type)

    done = await run_all(
        {relative: upload(relative, path) for relative, path in files},
        concurrency=concurrency,
        retries=retries,
        backoff=backoff,
        patience=patience,
        patient=patient,
    )
    return sorted(done, key=lambda info: info.key)


async def download_prefix(
    store: ObjectStore,
    prefix: str,
    root: Path,
    *,
    concurrency: int = 8,
    retries: int = 3,
    backoff: float = 0.2,
    patience: float = 0.0,
    patient: Patient | None = None,
) -> list[ObjectInfo]:
    """Download every object under `prefix` to `root` / (key without the prefix).

    Keys cannot hold `..` or absolute segments (see `validate_key`), so every file lands
    under `root`. Raises `TransferError` when objects still fail after `retries` retries (and
    `patience` seconds, as `upload_directory`).
    """
    base = _as_folder(validate_prefix(prefix))
    objects: list[ObjectInfo] = []
    token: str | None = None
    while True:
        page = await store.list(base, token=token)
        objects.extend(page.objects)
        if (token := page.next_token) is None:
            break

    def download(info: ObjectInfo) -> Job:
        target = root.joinpath(*info.key[len(base) :].split("/"))

        async def run() -> ObjectInfo:
            await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
            await store.download_file(info.key, target)
            return info

        return run

    await run_all(
        {info.key: download(info) for info in objects},
        concurrency=concurrency,
        retries=retries,
        backoff=backoff,
        patience=patience,
        patient=patient,
    )
    return objects


async def run_all(
    jobs: dict[str, Job],
    *,
    concurrency: int,
    retries: int,
    backoff: float,
    patience: float = 0.0,
    patient: Patient | None = None,
) -> list[ObjectInfo]:
    """Run every job (named by the file it moves), `concurrency` at a time, each retried with
    backoff (errors `patient` accepts: for `patience` seconds from now at least); raise
    `TransferError` at the end if any still failed."""
    pending = iter(jobs.items())
    done: list[ObjectInfo] = []
    failures: dict[str, BaseException] = {}
    until = time.monotonic() + patience

    async def worker() -> None:
        for name, job in pending:
            try:
                done.append(
                    await retrying(
                        job, retries=retries, backoff=backoff, until=until, patient=patient
                    )
                )
            except Exception as exc:
                failures[name] = exc

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, min(concurrency, len(jobs)))):
            group.create_task(worker())
    if failures:
        raise TransferError(failures, done)
    return done


async def retrying(
    job: Callable[[], Awaitable[T]],
    *,
    retries: int,
    backoff: float,
    until: float = 0.0,
    patient: Patient | None = None,
) -> T:
    """`job()`, tried again after an error another attempt may fix: `retries` times, and after
    an error `patient` accepts until the monotonic time `until`; exponential backoff with full
    jitter, capped at MAX_BACKOFF."""
    attempt = 0
    while True:
        try:
            return await job()
        except _PERMANENT:
            raise
        except Exception as exc:
            waiting = patient is not None and patient(exc) and time.monotonic() < until
            if attempt >= retries and not waiting:
                raise
            # Full jitter, so many workers hitting the same outage do not retry in step.
            delay = min(backoff * 2 ** min(attempt, 16), MAX_BACKOFF)
            await asyncio.sleep(random.uniform(0, delay))
            attempt += 1


def guess_content_type(path: Path) -> str | None:
    """The content type `upload_directory` stores a file with (None: the store's default)."""
    return mimetypes.guess_type(path.name)[0]


def regular_files(root: Path) -> list[tuple[str, Path]]:
    """(relative posix path, path) of the files `upload_directory` uploads, sorted."""
    real_root = root.resolve()
    found = []
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(real_root):
                    continue
            try:
                mode = path.stat().st_mode
            except OSError:
                continue
            if stat.S_ISREG(mode):
                found.append((path.relative_to(root).as_posix(), path))
    return sorted(found)


def _as_folder(prefix: str) -> str:
    """`runs/1/outputs` and `runs/1/outputs/` both mean the folder `runs/1/outputs/`."""
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"
