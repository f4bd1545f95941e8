"""Runs that print numbered lines and write files while faults happen, followed the way clients
follow them, then checked: each run's status, its published transitions, its log lines and its
artifacts, counted against what it printed and wrote.

Every client here reconnects when its connection drops (the API may be killed mid-run): a
`runStatus` client gets a fresh snapshot, a `runLogs` client resumes after its last cursor.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

from tests.api.operations import CREATE_JOB, RUN_STATUS
from tests.faults.report import Report, Size
from tests.support.api import Api

# The order of the state machine; a run's timeline may not go back along it (nor repeat).
ORDER = {"SUBMITTED": 0, "PENDING": 1, "RUNNING": 2, "COMPLETED": 3, "FAILED": 3, "CANCELLED": 3}

TIMELINE = """
query Timeline($id: ID!) {
  run(id: $id) { status exitCode timeline { version status reason } }
}"""

LOGS = """
query Logs($id: ID!, $after: String) {
  run(id: $id) {
    logs(first: 1000, after: $after) {
      edges { node { cursor text } } pageInfo { hasNextPage endCursor }
    }
  }
}"""

RUN_LOGS = """
subscription Follow($runId: ID!, $after: String) {
  runLogs(runId: $runId, after: $after) { endCursor }
}"""

ARTIFACTS = """
query Artifacts($id: ID!, $after: String) {
  run(id: $id) {
    artifacts(first: 100, after: $after) {
      edges { node { path size downloadUrl } } pageInfo { hasNextPage endCursor }
    }
  }
}"""

OUTPUTS = """
query Outputs($id: ID!) {
  run(id: $id) {
    outputsStatus { status message }
    logs(last: 5, container: "outputs") { edges { node { text } } }
  }
}"""

# Connection failures a client rides out by reconnecting.
DROPPED = (websockets.WebSocketException, OSError, httpx.TransportError)


def command(size: Size) -> list[str]:
    """Print `size.lines` numbered lines, `size.pause` apart, then write `size.files` files."""
    script = (
        "import os, sys, time\n"
        f"for i in range({size.lines}):\n"
        "    print('line', i, flush=True)\n"
        f"    time.sleep({size.pause})\n"
        "out = os.environ['WALKAI_OUTPUT_DIR']\n"
        f"for n in range({size.files}):\n"
        "    with open(os.path.join(out, f'file-{n}.bin'), 'wb') as f:\n"
        "        f.write(bytes(n % 256 for n in range(1000 * (n + 1))))\n"
    )
    return ["python", "-c", script]


def printed(size: Size) -> list[str]:
    """The lines `command(size)` prints."""
    return [f"line {i}" for i in range(size.lines)]


def written(size: Size) -> dict[str, int]:
    """The files `command(size)` writes, and their sizes."""
    return {f"file-{n}.bin": 1000 * (n + 1) for n in range(size.files)}


@dataclass
class Followed:
    """One run and what its `runStatus` client saw: one list of (version, status, reason) per
    connection, each starting with the snapshot."""

    id: str
    connections: list[list[tuple[int, str, str | None]]] = field(default_factory=list)
    completed: bool = False
    task: asyncio.Task[None] | None = None

    @property
    def status(self) -> str | None:
        """The last status its client saw."""
        events = [e for c in self.connections for e in c]
        return events[-1][1] if events else None


class Workload:
    """`size.runs` runs of `command(size)`, each followed by a `runStatus` client from its
    creation on. Clients call `api`; when it cannot be reached, the next of `fallback` (as a
    load balancer would send them to another replica)."""

    def __init__(
        self,
        api: Api,
        size: Size,
        name: str,
        timeout: float | None = None,
        fallback: Sequence[Api] = (),
    ) -> None:
        self.targets = [api, *fallback]
        self.api = api
        self.size = size
        self.report = Report(name, size)
        # Under the suite's 120 s per test, so a stuck run is reported rather than timed out.
        timeout = timeout or 45 + 3 * size.lines * size.pause
        self.started = time.monotonic()
        self.deadline = self.started + timeout
        self.runs: list[Followed] = []

    def failover(self, failed: Api) -> None:
        """`failed` could not be reached: clients call the next replica from now on."""
        if self.api is failed:
            self.api = self.targets[(self.targets.index(failed) + 1) % len(self.targets)]

    async def call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """`data` of a query, retried while the API cannot be reached or answers with errors
        (it may be restarting) until the deadline."""
        while True:
            api = self.api
            try:
                body = await api.http.execute(query, variables)
                if not body.get("errors") and body.get("data") is not None:
                    data: dict[str, Any] = body["data"]
                    return data
                problem = str(body.get("errors"))
            except (*DROPPED, ValueError) as exc:
                problem = repr(exc)
                self.failover(api)
            if time.monotonic() > self.deadline:
                raise AssertionError(f"{query.split('(')[0].strip()}: {problem}")
            await asyncio.sleep(0.2)

    async def start(self) -> None:
        """Submit every run and start following it."""
        for _ in range(self.size.runs):
            variables = {"input": _job(self.size)}
            payload = (await self.call(CREATE_JOB, variables))["createJob"]
            assert payload["userErrors"] == [], payload["userErrors"]
            run = Followed(payload["run"]["id"])
            run.task = asyncio.create_task(self._follow_status(run))
            self.runs.append(run)

    async def printing(self, at_least: int = 1) -> None:
        """Until at least `at_least` runs are RUNNING (their containers printing)."""
        while sum(run.status == "RUNNING" for run in self.runs) < at_least:
            assert time.monotonic() < self.deadline, "runs did not start"
            await asyncio.sleep(0.05)

    async def _follow_status(self, run: Followed) -> None:
        while time.monotonic() < self.deadline:
            events: list[tuple[int, str, str | None]] = []
            run.connections.append(events)
            api = self.api
            try:
                async with api.subscribe(RUN_STATUS, {"runId": run.id}) as sub:
                    while True:
                        left = self.deadline - time.monotonic()
                        item = await asyncio.wait_for(sub.next(), max(left, 0.01))
                        if item is None:
                            run.completed = True
                            return
                        event = item["runStatus"]
                        events.append((event["statusVersion"], event["status"], event["reason"]))
            except DROPPED:
                self.failover(api)
                await asyncio.sleep(0.1)
            except TimeoutError:
                return

    async def finish(self) -> Report:
        """Wait for every run to end and its clients to complete; then count everything."""
        await asyncio.gather(*(run.task for run in self.runs if run.task is not None))
        ended = time.monotonic() - self.started
        for run in self.runs:
            await self._check(run)
        self.report.seconds = time.monotonic() - self.started
        self.report.note = f"runs ended after {ended:.1f} s" + (
            f"; {self.report.note}" if self.report.note else ""
        )
        return self.report

    async def _check(self, run: Followed) -> None:
        report, size = self.report, self.size
        if not run.completed:
            report.problems.append(f"{run.id}: runStatus did not complete (last: {run.status})")
        facts = (await self.call(TIMELINE, {"id": run.id}))["run"]
        ok = facts["status"] == "COMPLETED" and facts["exitCode"] == 0
        report.count("runs", 1, int(ok))
        if not ok:
            report.problems.append(f"{run.id}: {facts['status']} (exit {facts['exitCode']})")
        self._check_transitions(run, facts["timeline"])
        lines = await self._lines(run.id)
        want = printed(size)
        report.count("lines", len(want), len(lines))
        if lines != want:
            report.problems.append(
                f"{run.id}: log lines differ from what it printed{_diff(want, lines)}"
            )
        files = await self._artifacts(run.id)
        report.count("artifacts", len(written(size)), len(files))
        if files != written(size):
            why = await self._outputs(run.id)
            report.problems.append(f"{run.id}: artifacts {files} != {written(size)}; {why}")

    def _check_transitions(self, run: Followed, timeline: list[dict[str, Any]]) -> None:
        """The timeline walks the state machine forward from SUBMITTED to COMPLETED, each entry a
        change (of status, or of reason within PENDING); its client was told each entry once,
        in order (a snapshot standing for the entries up to its version)."""
        report = self.report
        steps = [(entry["status"], entry["reason"]) for entry in timeline]
        statuses = [status for status, _ in steps]
        forward = all(
            ORDER[a[0]] < ORDER[b[0]] or (a[0] == b[0] == "PENDING" and a[1] != b[1])
            for a, b in itertools.pairwise(steps)
        )
        if not forward or statuses[-1:] != ["COMPLETED"] or statuses[:1] != ["SUBMITTED"]:
            report.problems.append(f"{run.id}: timeline {steps}")
        seen = 0
        told: set[int] = set()  # timeline versions the client was told of
        entries = {e["version"]: (e["status"], e["reason"]) for e in timeline}
        for events in run.connections:
            last: tuple[str, str | None] | None = None
            for n, (version, *step) in enumerate(events):
                now = (step[0], step[1])
                if n == 0:  # the snapshot: the entries up to its version
                    covered = {v for v in entries if v <= version}
                    seen += len(covered - told)
                    told |= covered
                elif version in entries:  # a transition (its version is a timeline entry's)
                    seen += 1
                    if entries[version] != now:
                        report.problems.append(f"{run.id}: told {now} at v{version}, not that")
                    elif version in told:
                        report.problems.append(f"{run.id}: told {now} (v{version}) twice")
                    told.add(version)
                elif now != last:  # another change (outputs, queue) must not change status
                    report.problems.append(f"{run.id}: told {now} at v{version}, no entry")
                last = now
        missed = [(e["status"], e["reason"]) for e in timeline if e["version"] not in told]
        if missed:
            timeline_ = [(e["version"], e["status"], e["reason"]) for e in timeline]
            report.problems.append(
                f"{run.id}: its client was never told {missed} (timeline {timeline_}; told,"
                f" per connection, {run.connections})"
            )
        if run.status not in ("COMPLETED", "FAILED", "CANCELLED"):
            report.problems.append(f"{run.id}: its client's last status is {run.status}")
        report.count("transitions", len(timeline), seen)

    async def _lines(self, run_id: str) -> list[str]:
        """Every line of the run's `main` log through the `logs` connection, once the run's
        `runLogs` subscription says every line was sent."""
        after: str | None = None
        while time.monotonic() < self.deadline:
            api = self.api
            try:
                async with api.subscribe(RUN_LOGS, {"runId": run_id, "after": after}) as sub:
                    while (batch := await sub.next()) is not None:
                        after = batch["runLogs"]["endCursor"] or after
                break
            except DROPPED:
                self.failover(api)
                await asyncio.sleep(0.1)
        else:
            self.report.problems.append(f"{run_id}: runLogs did not complete")
        texts: list[str] = []
        after = None
        while True:
            data = await self.call(LOGS, {"id": run_id, "after": after})
            page = data["run"]["logs"]
            texts += [edge["node"]["text"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return texts
            after = page["pageInfo"]["endCursor"]

    async def _outputs(self, run_id: str) -> str:
        """What the run says of its outputs, and the upload sidecar's last lines."""
        data = await self.call(OUTPUTS, {"id": run_id})
        tail = [e["node"]["text"] for e in data["run"]["logs"]["edges"]]
        return f"outputs {data['run']['outputsStatus']}, sidecar said {tail}"

    async def _artifacts(self, run_id: str) -> dict[str, int]:
        """Each listed file and the size of what its URL returns."""
        found: dict[str, int] = {}
        after = None
        async with httpx.AsyncClient(timeout=30) as http:
            while True:
                data = await self.call(ARTIFACTS, {"id": run_id, "after": after})
                page = data["run"]["artifacts"]
                for edge in page["edges"]:
                    node = edge["node"]
                    response = await http.get(node["downloadUrl"])
                    size = len(response.content) if response.status_code == 200 else -1
                    if size != node["size"]:
                        self.report.problems.append(
                            f"{run_id}: {node['path']} listed {node['size']} B, got {size} B"
                            f" (HTTP {response.status_code})"
                        )
                    found[node["path"]] = size
                if not page["pageInfo"]["hasNextPage"]:
                    return found
                after = page["pageInfo"]["endCursor"]


def _job(size: Size) -> dict[str, object]:
    return {"image": "python:3.11", "gpu": "1g.10gb", "storageGi": 1, "command": command(size)}


def _diff(want: list[str], got: list[str]) -> str:
    """Where two lists of lines part: lost, duplicated, first difference."""
    lost = len(set(want) - set(got))
    duplicated = len(got) - len(set(got))
    first = next((i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b), None)
    return f" ({lost} lost, {duplicated} duplicated, first difference at {first})"
