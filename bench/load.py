"""An HTTP load generator in a process of its own (aiohttp, a few requests in flight), so its
cost lands on the other core rather than on the server measured.

    .venv/bin/python bench/load.py '{"url": ..., "json": ..., "headers": ..., "seconds": ...}'

Prints one JSON object: requests, seconds, requests/s, p50 and p99 latency (ms), errors.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any


async def hammer(
    url: str,
    body: Any,
    headers: dict[str, str],
    seconds: float,
    concurrency: int = 4,
    warmup: float = 1.5,
) -> dict[str, float]:
    """Keep `concurrency` requests in flight for `seconds` (after `warmup`); count them."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:

        async def one() -> bool:
            if body is None:
                async with http.get(url) as response:
                    await response.read()
                    return response.status == 200
            async with http.post(url, json=body) as response:
                payload = await response.json()
                return response.status == 200 and not payload.get("errors")

        async def worker(until: float, record: bool) -> None:
            nonlocal errors
            while (now := time.perf_counter()) < until:
                ok = await one()
                if record:
                    latencies.append(time.perf_counter() - now)
                    errors += not ok

        until = time.perf_counter() + warmup
        await asyncio.gather(*(worker(until, False) for _ in range(concurrency)))
        started = time.perf_counter()
        await asyncio.gather(*(worker(started + seconds, True) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "per_s": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1e3 if latencies else 0.0,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3 if latencies else 0.0,
        "errors": errors,
    }


async def load(
    url: str,
    body: Any,
    headers: dict[str, str],
    seconds: float,
    concurrency: int = 4,
) -> dict[str, float]:
    """`hammer` run in a child process; its figures."""
    spec = {"url": url, "json": body, "headers": headers, "seconds": seconds, "c": concurrency}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, json.dumps(spec), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    return dict(json.loads(out.decode().strip().splitlines()[-1]))


if __name__ == "__main__":
    from app.serving import run

    spec = json.loads(sys.argv[1])
    figures = run(hammer(spec["url"], spec["json"], spec["headers"], spec["seconds"], spec["c"]))
    print(json.dumps(figures), flush=True)
