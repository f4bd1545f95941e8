"""Upload throughput of a run's output directory: our concurrent uploader against plain boto3.

    .venv/bin/python bench/artifacts.py [--small 400] [--large 4] [--large-mib 24] [--rounds 2]

Starts moto's S3 server in its own process on a free loopback port, writes a directory of
many small files and a few large ones, then uploads it, alternating in each round:

- ours: `app.storage.sync.upload_directory` on `S3ObjectStore` (files 8 at a time, large
  files in concurrent parts);
- baseline: boto3's `upload_file` for each file in a sequential loop (boto3 still splits a
  large file into threaded parts; the loop is what a simple sidecar would write).

Prints the best MiB/s of each and their ratio. moto is CPU-bound and shares the
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
from pathlib import Path

import boto3
import httpx
from botocore.config import Config

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
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{endpoint}/moto-api/", timeout=1)
            return process, endpoint
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("moto server did not start") from None
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


def empty_bucket(client: object, bucket: str) -> None:
    """Between rounds, so the server's memory does not grow with every round."""
    paginator = client.get_paginator("list_objects_v2")  # type: ignore[attr-defined]
    for page in paginator.paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})  # type: ignore[attr-defined]


async def measure(
    client: object, endpoint: str, root: Path, files: list[Path], rounds: int
) -> dict[str, float]:
    """Best time of each uploader over `rounds` rounds (both clients created and warm)."""
    store = S3ObjectStore(
        "bench-ours",
        endpoint_url=endpoint,
        access_key_id=CREDENTIALS["aws_access_key_id"],
        secret_access_key=CREDENTIALS["aws_secret_access_key"],
        path_style=True,
    )
    best = {"baseline": float("inf"), "ours": float("inf")}
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
    args = parser.parse_args()

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
            for bucket in ("bench-baseline", "bench-ours"):
                client.create_bucket(Bucket=bucket)

            best = asyncio.run(measure(client, endpoint, root, files, args.rounds))
            for name, label in (
                ("baseline", "boto3 upload_file, sequential"),
                ("ours", "upload_directory, concurrency 8"),
            ):
                seconds = best[name]
                print(f"{label:<34} {seconds:6.2f} s  {total / MiB / seconds:7.1f} MiB/s")
            print(f"ratio (ours / baseline throughput)  {best['baseline'] / best['ours']:.2f}x")
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
