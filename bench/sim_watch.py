"""The simulated cluster's live pod watch: events/s to one kubernetes-asyncio watcher.

    .venv/bin/python bench/sim_watch.py [--events 200000]

The live scenario of `bench/sim_throughput.py` (store writes while one watcher in another
process follows them), against its anchor measured in the same run: `json.dumps` +
`json.loads` of the same objects in one process, the wire format's floor cost. Goal: 1.0x.
"""

from __future__ import annotations

import argparse
import asyncio

from harness import Row, emit
from sim_throughput import watch_baseline, watch_run


async def main(events: int) -> None:
    live, writes = await watch_run(events, "pods", catch_up=False)
    anchor = watch_baseline(min(events, 100_000), "pods")
    rate = float(live["rate"])
    print(f"live watch {rate:,.0f} events/s (store writes {writes:,.0f}/s), anchor {anchor:,.0f}/s")
    emit(
        Row(
            "sim: live pod watch, 1 watcher (events/s; anchor json dumps+loads)",
            rate,
            "events/s",
            anchor,
            rate / anchor,
            ">= 1.0x",
            rate / anchor >= 1.0,
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    asyncio.run(main(parser.parse_args().events))
