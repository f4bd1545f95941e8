"""`kubectl auth can-i` / `whoami` against the simulated cluster, with and without denied pairs."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.sim import cli
from app.sim.cluster import SimCluster
from tests.sim.conftest import job_manifest, pod_manifest
from tests.sim.kubectl_cli import run_kubectl


def sim_args(*argv: str) -> argparse.Namespace:
    """`walkai-jobs sim ARGV` as the command line parser reads it."""
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    return parser.parse_args(["sim", "--kubeconfig", "unused", *argv])


@pytest.fixture(scope="module")
async def denied_kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Path]:
    """A cluster started with `--deny delete:jobs --deny get:pods/log`, and its kubeconfig."""
    args = sim_args("--deny", "delete:jobs", "--deny", "get:pods/log")
    cluster = SimCluster(
        workdir=tmp_path_factory.mktemp("sim-deny"), controllers=False, denied=args.deny
    )
    await cluster.start()
    cluster.store.create("jobs", "default", job_manifest("kept"))
    cluster.store.create("pods", "default", pod_manifest("quiet"))
    try:
        yield cluster.write_kubeconfig(tmp_path_factory.mktemp("kube-deny") / "config")
    finally:
        await cluster.stop()


async def test_can_i_says_yes_to_everything_by_default(api_kubeconfig: Path) -> None:
    assert await run_kubectl(api_kubeconfig, "auth", "can-i", "create", "jobs") == (0, "yes\n", "")
    code, out, _ = await run_kubectl(api_kubeconfig, "auth", "can-i", "delete", "pods/log")
    assert (code, out) == (0, "yes\n")
    code, out, _ = await run_kubectl(api_kubeconfig, "auth", "can-i", "--list")
    rows = [line.split() for line in out.splitlines()]
    assert code == 0 and ["*.*", "[]", "[]", "[*]"] in rows
    code, out, _ = await run_kubectl(api_kubeconfig, "auth", "whoami")
    assert code == 0 and ["Username", "walkai-sim"] in [line.split() for line in out.splitlines()]


async def test_denied_pairs_answer_no_and_are_refused(denied_kubeconfig: Path) -> None:
    kc = denied_kubeconfig
    assert await run_kubectl(kc, "auth", "can-i", "delete", "jobs") == (1, "no\n", "")
    assert (await run_kubectl(kc, "auth", "can-i", "create", "jobs"))[:2] == (0, "yes\n")
    assert (await run_kubectl(kc, "auth", "can-i", "get", "pods", "--subresource=log"))[1] == "no\n"
    code, _, err = await run_kubectl(kc, "delete", "job", "kept")
    assert code == 1
    assert err.strip() == (
        'Error from server (Forbidden): jobs.batch "kept" is forbidden: User "walkai-sim" cannot '
        'delete resource "jobs" in API group "batch" in the namespace "default"'
    )
    code, out, _ = await run_kubectl(kc, "get", "job", "kept", "-o", "name")
    assert (code, out) == (0, "job.batch/kept\n")
    code, _, err = await run_kubectl(kc, "logs", "quiet")
    assert code == 1 and 'cannot get resource "pods/log"' in err
    code, out, _ = await run_kubectl(kc, "auth", "can-i", "--list")
    rows = {line.split()[0]: line.split()[-6:] for line in out.splitlines()[1:] if line[0] != " "}
    assert code == 0 and "*.*" not in rows
    assert rows["jobs.batch"] == ["[create", "get", "list", "patch", "update", "watch]"]
    assert "pods/log" not in rows and "pods" in rows


def test_deny_rules_are_checked_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        sim_args("--deny", "jobs")
    assert "expected VERB:RESOURCE" in capsys.readouterr().err
