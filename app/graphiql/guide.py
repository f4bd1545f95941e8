"""The document GraphiQL opens with: a first run from submitting a Job to listing its artifacts.

In `dev` the page also carries the dev admin's token as the Authorization header, so the first
minute needs nothing copied from the console. Only a page asked for by its loopback name
(`127.0.0.1`, `localhost`, `[::1]`) gets it: another site's DNS name pointed at 127.0.0.1
cannot read it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

FIRST_RUN = """# walk:ai Jobs API: a first run.
#
# The document holds four operations; ▶ asks which one to run.
# 1. SubmitJob creates a Job and its first run. Copy run.id from the
#    answer into Variables (below) as "runId".
# 2. RunStatus follows the run: its current state, then every change,
#    until it has ended and its outputs are uploaded.
# 3. RunLogs streams its log lines (the backlog first, then live).
# 4. Artifacts lists what it wrote to $WALKAI_OUTPUT_DIR.
# The Headers tab (below) sends your token: {"Authorization": "Bearer …"}.

mutation SubmitJob {
  createJob(input: {image: "busybox:1.36", gpu: "1g.10gb", storageGi: 1, command: ["sh", "-c",
      "for i in 1 2 3; do echo step $i; sleep 1; done; echo ok > $WALKAI_OUTPUT_DIR/result.txt"]}) {
    job { id name }
    run { id number status }
    userErrors { field message code }
  }
}

subscription RunStatus($runId: ID!) {
  runStatus(runId: $runId) { status reason message exitCode outputsStatus { status } }
}

subscription RunLogs($runId: ID!) {
  runLogs(runId: $runId) { lines { cursor timestamp text } endCursor }
}

query Artifacts($runId: ID!) {
  run(id: $runId) {
    status
    artifacts(first: 20) { edges { node { path size contentType downloadUrl } } }
  }
}
"""

VARIABLES = '{\n  "runId": "paste run.id from SubmitJob here"\n}'
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


@dataclass(frozen=True)
class Guide:
    """What GraphiQL opens with: a document, its variables and, in `dev`, the headers."""

    query: str = FIRST_RUN
    variables: str = VARIABLES
    headers: str | None = None


def dev_headers(token_file: Path, host: str) -> str | None:
    """The Authorization header with the dev token, for a page asked for on a loopback name."""
    name = host.partition("]")[0] + "]" if host.startswith("[") else host.partition(":")[0]
    if name.lower() not in LOOPBACK or not token_file.is_file():
        return None
    token = token_file.read_text().strip()
    return json.dumps({"Authorization": f"Bearer {token}"}, indent=2) if token else None


def guide(profile: str, data_dir: Path, host: str) -> Guide:
    """The first-run guide; with the token in `dev`."""
    if profile != "dev":
        return Guide()
    return Guide(headers=dev_headers(data_dir / "dev-token", host))
