"""Upload throughput of a run's output directory: our concurrent uploader against plain boto3.

    .venv/bin/python bench/artifacts.py [--small 400] [--large 4] [--large-mib 24] [--rounds 2]

Starts moto's S3 server in its own process on a free loopback port, writes a directory of
many small files and a few large ones, then uploads it, alternating in each round:

- ours: `app.storage.sync.upload_directory` on `S3ObjectStore` (files 8 at a time, large
  files in concurrent parts);
- sidecar: what a run's pod runs, `app.sidecar.upload.upload_outputs` — the same directory
  walk, but every object through presigned URLs the API's broker (`app.sidecar.broker`,
  served by uvicorn in a process of its own, on `S3ObjectStore`) hands out — small files' in
  batches, large files in presigned multipart parts — plus the manifest;
- baseline: boto3's `upload_file` for each file in a sequential loop (boto3 still splits a
  large file into threaded parts; the loop is what a simple sidecar would write).

Prints the best MiB/s of each and their ratios to the baseline. moto is CPU-bound and shares the
machine's cores with the client, while real S3 is latency-bound (tens of ms a request),
where concurrency pays more: read the ratio as a lower bound.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import boto3
import httpx
import uvicorn
from botocore.config import Config
from harness import Row, emit
from starlette.applications import Starlette

from app.sidecar.broker import broker_routes
from app.sidecar.client import BrokerClient
from app.sidecar.credentials import RunScope
from app.sidecar.upload import upload_outputs
from app.storage.s3 import MiB, S3ObjectStore
from app.storage.sync import upload_directory

CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    wait_until_up(f"{endpoint}/moto-api/", process)
    return process, endpoint


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    """Poll `url` until the server in `process` answers at all."""
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"{url} did not come up") from None
            time.sleep(0.1)


def make_tree(root: Path, small: int, large: int, large_mib: int) -> list[Path]:
    """Small files of 1-64 KiB spread over a few directories, plus `large` big ones."""
    rng = random.Random(42)
    files = []
    for n in range(small):
        path = root / f"step-{n % 10}" / f"sample-{n}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(rng.randint(1, 64) * 1024))
        files.append(path)
    for n in range(large):
        path = root / "checkpoints" / f"model-{n}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(large_mib * MiB))
        files.append(path)
    return files


def baseline(client: object, bucket: str, root: Path, files: list[Path]) -> None:
    for path in files:
        client.upload_file(str(path), bucket, f"out/{path.relative_to(root).as_posix()}")  # type: ignore[attr-defined]


async def ours(store: S3ObjectStore, root: Path) -> None:
    await upload_directory(store, root, "out/", concurrency=8)


BENCH_RUN = "bench-run"
BENCH_TOKEN = "bench-token"


def serve_broker(endpoint: str, port: int) -> None:
    """The API's broker alone on its own S3 store: run in a process of its own, like the API."""
    store = S3ObjectStore(
        "bench-sidecar",
        endpoint_url=endpoint,
        access_key_id=CREDENTIALS["aws_access_key_id"],
        secret_access_key=CREDENTIALS["aws_secret_access_key"],
        path_style=True,
    )

    async def resolve(token: str) -> RunScope | None:
        return RunScope(run_id=BENCH_RUN) if token == BENCH_TOKEN else None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await store.close()

    app = Starlette(routes=broker_routes(store, resolve), lifespan=lifespan)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


@contextmanager
def broker_server(endpoint: str) -> Iterator[str]:
    """`serve_broker` in a child process; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-broker", str(port), "--endpoint", endpoint]
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/sidecar/v1/inputs", process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


async def sidecar(api_url: str, root: Path) -> None:
    async with BrokerClient(api_url, BENCH_TOKEN) as client:
        report = await upload_outputs(client, BENCH_RUN, root, concurrency=8)
    assert report.failed == 0, report.manifest["failed"]


def empty_bucket(client: object, bucket: str) -> None:
    """Between rounds, so the server's memory does not grow with every round."""
    paginator = client.get_paginator("list_objects_v2")  # type: ignore[attr-defined]
    for page in paginator.paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})  # type: ignore[attr-defined]


async def measure(
    client: object, endpoint: str, api_url: str, root: Path, files: list[Path], rounds: int
) -> dict[str, float]:
    """Best time of each uploader over `rounds` rounds (both clients created and warm)."""
    store = S3ObjectStore(
        "bench-ours",
        endpoint_url=endpoint,
        access_key_id=CREDENTIALS["aws_access_key_id"],
        secret_access_key=CREDENTIALS["aws_secret_access_key"],
        path_style=True,
    )
    best = {"baseline": float("inf"), "ours": float("inf"), "sidecar": float("inf")}
    try:
        await store.ping()
        for round_ in range(1, rounds + 1):
            # The baseline blocks the event loop, which has nothing else to do meanwhile.
            started = time.perf_counter()
            baseline(client, "bench-baseline", root, files)
            best["baseline"] = min(best["baseline"], time.perf_counter() - started)
            empty_bucket(client, "bench-baseline")

            started = time.perf_counter()
            await ours(store, root)
            best["ours"] = min(best["ours"], time.perf_counter() - started)
            empty_bucket(client, "bench-ours")

            started = time.perf_counter()
            await sidecar(api_url, root)
            best["sidecar"] = min(best["sidecar"], time.perf_counter() - started)
            empty_bucket(client, "bench-sidecar")
            print(f"round {round_}       done")
    finally:
        await store.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=400, help="number of 1-64 KiB files")
    parser.add_argument("--large", type=int, default=4, help="number of large files")
    parser.add_argument("--large-mib", type=int, default=24, help="size of each large file")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serve-broker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_broker is not None:
        serve_broker(args.endpoint, args.serve_broker)
        return

    process, endpoint = start_moto()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            files = make_tree(root, args.small, args.large, args.large_mib)
            total = sum(path.stat().st_size for path in files)
            small_bytes = total - args.large * args.large_mib * MiB
            print(f"moto server   {endpoint} (separate process)")
            print(
                f"directory     {len(files)} files, {total / MiB:.1f} MiB: "
                f"{args.small} small ({small_bytes / MiB:.1f} MiB, 1-64 KiB each), "
                f"{args.large} x {args.large_mib} MiB"
            )
            client = boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name="us-east-1",
                config=Config(s3={"addressing_style": "path"}),
                **CREDENTIALS,
            )
            for bucket in ("bench-baseline", "bench-ours", "bench-sidecar"):
                client.create_bucket(Bucket=bucket)

            with broker_server(endpoint) as api_url:
                best = asyncio.run(measure(client, endpoint, api_url, root, files, args.rounds))
            for name, label in (
                ("baseline", "boto3 upload_file, sequential"),
                ("ours", "upload_directory, concurrency 8"),
                ("sidecar", "sidecar upload via broker URLs"),
            ):
                seconds = best[name]
                print(f"{label:<34} {seconds:6.2f} s  {total / MiB / seconds:7.1f} MiB/s")
            for name in ("ours", "sidecar"):
                ratio = best["baseline"] / best[name]
                print(f"ratio ({name} / baseline throughput){'':<{8 - len(name)}} {ratio:.2f}x")
            emit(
                Row(
                    "artifacts: sidecar upload (MiB/s; anchor boto3 upload_file loop)",
                    total / MiB / best["sidecar"],
                    "MiB/s",
                    total / MiB / best["baseline"],
                    best["baseline"] / best["sidecar"],
                )
            )
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
