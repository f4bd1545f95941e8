"""Every benchmark, or one by name, each in a fresh process; one table at the end.

    .venv/bin/python bench/run.py [NAME ...] [--quick] [--markdown]

Each figure is printed next to an anchor measured in the same run on the same machine, and the
ratio between them, so that a regression shows the day it lands whatever the machine. A fresh
process per measurement: nothing one leaves behind (tasks, sockets, memory, a warm cache) is
measured by the next. `--quick` runs every measurement at small sizes: a check that it works,
not a figure to record. Nothing here asserts a timing; a missed goal is printed as missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULT_PREFIX = "BENCH-RESULT "


@dataclass(frozen=True)
class Measurement:
    """A script under bench/ and its arguments at full and at quick sizes."""

    script: str
    full: list[str] = field(default_factory=list)
    quick: list[str] = field(default_factory=list)
    what: str = ""


MEASUREMENTS: dict[str, Measurement] = {
    "status": Measurement(
        "status_latency.py",
        quick=["--subscribers", "50", "--runs", "1"],
        what="pod phase change -> runStatus client, 1,000 subscribers",
    ),
    "memory": Measurement(
        "memory.py",
        quick=["--connections", "200"],
        what="server RSS per websocket subscribed to runStatus + runLogs, 10,000",
    ),
    "jobs-page": Measurement(
        "jobs_page.py",
        quick=["--jobs", "60", "--seconds", "2"],
        what="a page of 50 Jobs with runs and artifacts: requests/s, SQL per request",
    ),
    "jobs-scale": Measurement(
        "jobs_scale.py",
        quick=["--small", "200", "--large", "5000", "--seconds", "2"],
        what="jobs(first: 50) p50 at 1,000 vs 100,000 runs",
    ),
    "create-job": Measurement(
        "create_job.py",
        quick=["--seconds", "2", "--rounds", "1"],
        what="createJob mutations/s, SQLite and PostgreSQL",
    ),
    "log-ingest": Measurement(
        "log_ingest.py",
        quick=["--pods", "10", "--lines", "500"],
        what="100 pods printing at once: lines/s stored on PostgreSQL, 10 subscribers each",
    ),
    "fanout": Measurement(
        "logs_fanout.py",
        full=["--subscribers", "1000", "--paced", "1000"],
        quick=["--subscribers", "100", "--paced", "--lines", "2000"],
        what="live log fan-out to 1,000 runLogs subscribers",
    ),
    "sim-watch": Measurement(
        "sim_watch.py",
        quick=["--events", "20000"],
        what="simulated cluster: live pod watch events/s to one watcher",
    ),
    "admission": Measurement(
        "admission.py",
        quick=["--queued", "1000", "--rounds", "3"],
        what="one admission pass over 10,000 queued runs",
    ),
    "artifacts": Measurement(
        "artifacts.py",
        quick=["--small", "40", "--large", "1", "--large-mib", "4", "--rounds", "1"],
        what="a run's outputs uploaded by the sidecar, on moto's S3",
    ),
    # Counts, not timings: its rows carry `counts` and go to a table of their own.
    "faults": Measurement(
        "faults.py",
        quick=["--quick"],
        what="fault scenarios: runs, transitions, log lines, artifacts expected vs seen",
    ),
}


def run_one(name: str, quick: bool, timeout: float) -> list[dict[str, object]]:
    """Run one measurement in a process of its own; its rows (a failure is a row too)."""
    spec = MEASUREMENTS[name]
    argv = [sys.executable, str(BENCH / spec.script), *(spec.quick if quick else spec.full)]
    print(f"== {name}: {' '.join(argv[1:])}", file=sys.stderr, flush=True)
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    rows: list[dict[str, object]] = []
    with subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, bufsize=1
    ) as proc:
        assert proc.stdout is not None
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            for line in proc.stdout:
                if line.startswith(RESULT_PREFIX):
                    rows.append(json.loads(line[len(RESULT_PREFIX) :]))
                else:
                    print(f"   {line}", end="", file=sys.stderr, flush=True)
            code = proc.wait()
        except KeyboardInterrupt:
            proc.kill()
            raise
        finally:
            timer.cancel()
    if code != 0 or not rows:
        rows.append({"name": name, "figure": None, "note": f"failed: exit {code}"})
    return rows


def _number(value: object, unit: str = "") -> str:
    if not isinstance(value, int | float):
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".strip()


def table(rows: list[dict[str, object]], markdown: bool) -> str:
    """The rows as aligned text, or as a Markdown table."""
    header = ["measurement", "figure", "anchor", "ratio", "goal", "met"]
    lines = []
    for row in rows:
        unit = str(row.get("unit") or "")
        met = row.get("met")
        verdict = "met" if met is True else "MISSED" if met is False else "—"
        note = str(row.get("note") or "")
        lines.append(
            [
                str(row["name"]),
                _number(row.get("figure"), unit),
                _number(row.get("anchor"), unit),
                f"{row['ratio']:.2f}x" if isinstance(row.get("ratio"), int | float) else "—",
                str(row.get("goal") or "—"),
                verdict + (f" ({note})" if note else ""),
            ]
        )
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(cells) + " |" for cells in lines]
        return "\n".join(out)
    widths = [max(len(c[i]) for c in [header, *lines]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)).rstrip()
        for cells in [header, *lines]
    )


def counts_table(rows: list[dict[str, object]], markdown: bool) -> str:
    """Rows of counts (fault scenarios): seen/expected per count, and whether it held."""
    names = ["runs", "transitions", "lines", "artifacts"]
    header = ["scenario", *[f"{n} seen/expected" for n in names], "faults", "s", "held"]
    lines = []
    for row in rows:
        counts = row.get("counts")
        found = counts if isinstance(counts, dict) else {}
        cells = [str(row["name"])]
        for name in names:
            expected, seen = found.get(name, (None, None))
            cells.append(f"{seen:,}/{expected:,}" if isinstance(expected, int) else "—")
        note = str(row.get("note") or "")
        held = "held" if row.get("held") is True else "NOT HELD"
        cells += [str(row.get("faults", "—")), str(row.get("seconds", "—"))]
        cells.append(held + (f" ({note})" if note and row.get("held") is not True else ""))
        lines.append(cells)
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(cells) + " |" for cells in lines]
        return "\n".join(out)
    widths = [max(len(c[i]) for c in [header, *lines]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)).rstrip()
        for cells in [header, *lines]
    )


def machine() -> str:
    """nproc, memory, Python, date and load: what the figures were measured on."""
    memory = next(
        line.split()[1]
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return (
        f"{os.cpu_count()} CPUs, {int(memory) / 2**20:.1f} GiB, "
        f"Python {platform.python_version()} ({platform.machine()}), "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {load}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(MEASUREMENTS))
    parser.add_argument("--quick", action="store_true", help="small sizes: a check, not figures")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per measurement")
    args = parser.parse_args()
    unknown = [n for n in args.names if n not in MEASUREMENTS]
    if unknown:
        parser.error(f"unknown {', '.join(unknown)}; known: {', '.join(MEASUREMENTS)}")
    rows: list[dict[str, object]] = []
    for name in args.names or list(MEASUREMENTS):
        rows += run_one(name, args.quick, args.timeout)
    print(f"\n{machine()}{' — QUICK sizes, not figures to record' if args.quick else ''}")
    figures = [row for row in rows if "counts" not in row]
    counts = [row for row in rows if "counts" in row]
    if figures:
        print(table(figures, args.markdown))
    if counts:
        print(("\n" if figures else "") + counts_table(counts, args.markdown))


if __name__ == "__main__":
    main()
