"""A newcomer's first hour with `walkai-jobs dev`: the console, mailed links, cookies, GraphiQL.

One `dev` runs for the module, its console captured; a run that sleeps for a while keeps the
platform busy (the logs Lease renewed, log followers, sidecars) while the checks go on.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.graphiql.guide import FIRST_RUN
from tests.dev.devprocess import free_port, poll
from tests.newcomer.readme import subscription

SLEEPY = ["sh", "-c", "echo started; sleep 6; echo ended"]
CREATE = """mutation($input: CreateJobInput!) { createJob(input: $input) {
  run { id } userErrors { field code } } }"""
STATUS = "query($id: ID!) { run(id: $id) { status } }"
PASSWORD = "a long enough password"
LOGIN = f'mutation {{ login(email: "admin@walkai.dev", password: "{PASSWORD}") {{ csrfToken }} }}'


@dataclass
class Console:
    """A running `dev` and the file its stdout and stderr go to."""

    process: asyncio.subprocess.Process
    url: str
    data_dir: Path
    out: Path

    @property
    def text(self) -> str:
        return self.out.read_text()

    @property
    def token(self) -> str:
        return (self.data_dir / "dev-token").read_text().strip()

    async def gql(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(timeout=30, headers=headers) as http:
            request = {"query": query, "variables": variables or {}, **kw}
            body = (await http.post(f"{self.url}/graphql", json=request)).json()
        return body

    async def link(self, subject: str, after: int) -> str:
        """The newest link mailed with `subject`, printed after console offset `after`."""
        pattern = re.compile(rf"{re.escape(subject)}: (http\S+)")
        found = await poll(lambda: pattern.findall(self.text[after:]))
        link: str = found[-1]
        return link


@pytest.fixture(scope="module")
async def dev(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Console]:
    root = tmp_path_factory.mktemp("first-hour")
    out, port = root / "console.txt", free_port()
    with out.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            Path(sys.executable).parent / "walkai-jobs",
            *("dev", "--port", str(port), "--no-browser", "--data-dir", str(root / "data")),
            stdout=sink,
            stderr=sink,
            cwd=root,
            env={**os.environ, "WALKAI_DATABASE_URL": "", "WALKAI_LOG_LEVEL": "INFO"},
        )
    console = Console(process, f"http://127.0.0.1:{port}", root / "data", out)

    async def up() -> bool:
        assert process.returncode is None, console.text
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                return (await http.get(f"{console.url}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    await poll(up, timeout=60)
    yield console
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)


async def test_the_banner_prints_a_kubectl_command_that_works(dev: Console) -> None:
    line = next(x for x in dev.text.splitlines() if x.strip().startswith("kubectl:"))
    command = line.split("kubectl:", 1)[1].strip()
    assert command.startswith("KUBECONFIG=") and "kubectl get jobs,pods -n walkai-jobs" in command
    kubectl = shlex.split(command)[1]
    assert Path(dev.data_dir.parent, kubectl).resolve().is_file()  # the venv's own kubectl
    shell = await asyncio.create_subprocess_shell(
        command,
        cwd=dev.data_dir.parent,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await shell.communicate()
    assert shell.returncode == 0, stderr.decode()


async def test_an_invitation_link_opens_a_page_that_creates_the_account(dev: Console) -> None:
    mark = len(dev.text)
    invited = await dev.gql(
        'mutation { inviteUser(email: "new@walkai.dev") { userErrors { code } } }'
    )
    assert invited["data"]["inviteUser"]["userErrors"] == []
    link = await dev.link("You are invited to walk:ai", mark)
    assert link.startswith(f"{dev.url}/invite#")
    page, token = link.split("#", 1)
    async with httpx.AsyncClient(timeout=30) as browser:
        html = (await browser.get(page)).text
        # What the page's script sends: its mutation, the fragment's token, the form's fields.
        query = json.loads(re.search(r"const QUERY = (\".*?\");", html)[1])  # type: ignore[index]
        variables = {"token": token, "password": PASSWORD, "name": "New"}
        answer = await browser.post(
            f"{dev.url}/graphql", json={"query": query, "variables": variables}
        )
    assert answer.json()["data"]["acceptInvitation"]["viewer"]["email"] == "new@walkai.dev"


async def test_a_reset_link_sets_the_password_and_a_cookie_jar_signs_in(dev: Console) -> None:
    mark = len(dev.text)
    reset = 'mutation { requestPasswordReset(email: "admin@walkai.dev") { ok } }'
    assert (await dev.gql(reset))["data"]["requestPasswordReset"]["ok"]
    link = await dev.link("Reset your password", mark)
    page, token = link.split("#", 1)
    assert page == f"{dev.url}/reset"
    async with httpx.AsyncClient(timeout=30) as http:
        html = (await http.get(page)).text
        query = json.loads(re.search(r"const QUERY = (\".*?\");", html)[1])  # type: ignore[index]
        done = await http.post(
            f"{dev.url}/graphql",
            json={"query": query, "variables": {"token": token, "password": PASSWORD}},
        )
        assert done.json()["data"]["resetPassword"]["ok"] is True

        # A scripted login over plain http: the jar keeps the cookie and sends it back.
        login = await http.post(
            f"{dev.url}/graphql",
            json={"query": LOGIN},
        )
        assert "secure" not in login.headers["set-cookie"].lower()
        csrf = login.json()["data"]["login"]["csrfToken"]
        viewer = await http.post(
            f"{dev.url}/graphql",
            json={"query": "{ viewer { email } }"},
            headers={"X-CSRF-Token": csrf},
        )
    assert viewer.json()["data"]["viewer"] == {"email": "admin@walkai.dev"}


async def test_graphiql_opens_with_the_guide_and_the_dev_token(dev: Console) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        page = (await http.get(f"{dev.url}/graphql", headers={"accept": "text/html"})).text
        elsewhere = await http.get(
            f"{dev.url}/graphql", headers={"accept": "text/html", "host": "rebound.example"}
        )
    assert f"const GUIDE_QUERY = {json.dumps(FIRST_RUN)};" in page.replace("<\\/", "</")
    headers = json.loads(json.loads(re.search(r"const GUIDE_HEADERS = (\".*?\");", page)[1]))  # type: ignore[index]
    assert headers == {"Authorization": f"Bearer {dev.token}"}
    assert "const GUIDE_HEADERS = null;" in elsewhere.text


async def test_the_guide_runs_from_submit_to_artifacts(dev: Console) -> None:
    submitted = await dev.gql(FIRST_RUN, operationName="SubmitJob")
    run_id = submitted["data"]["createJob"]["run"]["id"]
    token, variables = dev.token, {"runId": run_id}
    statuses = await asyncio.wait_for(
        subscription(dev.url, FIRST_RUN, token, variables=variables, operationName="RunStatus"), 120
    )
    assert statuses[-1]["runStatus"]["status"] == "COMPLETED"
    logs = await subscription(
        dev.url, FIRST_RUN, token, variables=variables, operationName="RunLogs"
    )
    assert "step 3" in [line["text"] for batch in logs for line in batch["runLogs"]["lines"]]
    listed = await dev.gql(FIRST_RUN, variables, operationName="Artifacts")
    edges = listed["data"]["run"]["artifacts"]["edges"]
    assert [edge["node"]["path"] for edge in edges] == ["result.txt"]


async def test_the_console_keeps_routine_traffic_out_of_sight(dev: Console) -> None:
    """Runs last: the whole module's traffic, and a run kept going meanwhile, went by."""
    created = await dev.gql(
        CREATE,
        {"input": {"image": "busybox:1.36", "gpu": "1g.10gb", "storageGi": 1, "command": SLEEPY}},
    )
    run_id = created["data"]["createJob"]["run"]["id"]
    assert (await dev.gql("{ nope }"))["errors"]  # a client's mistake

    async def ended() -> bool:
        status = (await dev.gql(STATUS, {"id": run_id}))["data"]["run"]["status"]
        return status == "COMPLETED"

    await poll(ended, timeout=90, every=0.5)
    dev.process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(dev.process.wait(), 30)

    kinds = Counter(_kind(line) for line in dev.text.splitlines())
    assert kinds["lease"] == 0 and kinds["access"] == 0 and kinds["traceback"] == 0, kinds
    assert kinds["mail"] >= 2 and kinds["banner"] >= 5, kinds
    assert set(kinds) <= {"banner", "mail", "blank", "warning"}, dev.text


def _kind(line: str) -> str:
    """What one console line is, for counting."""
    if not line.strip():
        return "blank"
    if "/leases" in line:
        return "lease"
    if "Traceback" in line:
        return "traceback"
    if re.search(r"\b(GET|POST|PUT|PATCH|DELETE|WEBSOCKET) /", line):
        return "access"
    if " app.auth.mail " in line:
        return "mail"
    if " WARNING " in line or " ERROR " in line:
        return "warning"
    if line.startswith(("walk:ai Jobs API", "  ")):
        return "banner"
    return "other"
