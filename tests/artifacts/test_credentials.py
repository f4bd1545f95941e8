"""A run's credential: it reaches its own outputs and inputs through the broker, and nothing
else — not another run's prefix, not after the run has ended and its grace has passed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.db.models import Run
from app.kube.labels import kube_job_name
from app.kube.manifests import credential_secret_name
from app.sidecar.credentials import outputs_prefix
from tests.artifacts.flows import submit, wait_outputs
from tests.support.api import Api
from tests.support.graphql import node_uuid
from tests.support.kubectl import kubectl


async def broker(
    api: Api, token: str, path: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            f"{api.base_url}/sidecar/v1/{path}",
            json=body or {},
            headers={"Authorization": f"Bearer {token}"},
        )


async def test_a_run_credential_covers_its_own_outputs_only(stack: Api) -> None:
    mine = node_uuid(await submit(stack, "print('a')"))
    other_id = await submit(
        stack, "import os; open(os.environ['WALKAI_OUTPUT_DIR'] + '/x', 'w').write('secret')"
    )
    await wait_outputs(stack, other_id)
    other = node_uuid(other_id)
    token = stack.platform.run_tokens.issue(mine)

    own = await broker(stack, token, "upload", {"key": outputs_prefix(mine) + "r.txt", "size": 1})
    assert own.status_code == 200, own.text

    for action, key in [
        ("upload", outputs_prefix(other) + "x"),
        ("download", outputs_prefix(other) + "x"),
        ("download", outputs_prefix(mine) + "r.txt"),  # outputs are write-only to the run
        ("upload", f"runs/{mine}/manifest.json"),
        ("upload", "inputs/anything/files/a"),
    ]:
        refused = await broker(stack, token, action, {"key": key, "size": 1})
        assert refused.status_code == 403, (action, key, refused.text)

    batch = {"files": [{"key": outputs_prefix(mine) + "ok", "size": 1}]}
    assert (await broker(stack, token, "uploads", batch)).status_code == 200
    batch["files"].append({"key": outputs_prefix(other) + "x", "size": 1})
    assert (await broker(stack, token, "uploads", batch)).status_code == 403

    climbing = await broker(
        stack, token, "upload", {"key": outputs_prefix(mine) + "../../other/outputs/x", "size": 1}
    )
    assert climbing.status_code == 400


async def test_forged_and_foreign_tokens_are_refused(stack: Api, api: Api) -> None:
    run = node_uuid(await submit(stack, "print('a')"))
    key = {"key": outputs_prefix(run) + "a", "size": 1}
    genuine = stack.platform.run_tokens.issue(run)
    forged = genuine[:-4] + ("AAAA" if not genuine.endswith("AAAA") else "BBBB")
    for token in (forged, f"wrt1.{run}.x", "wrt1", "not-a-token"):
        assert (await broker(stack, token, "upload", key)).status_code == 401
    if api is not stack:  # a token another deployment signed names a run, but is not ours
        assert (
            await broker(stack, api.platform.run_tokens.issue(run), "upload", key)
        ).status_code == 401


async def test_the_credential_dies_after_the_run_and_its_grace(stack: Api) -> None:
    run_id = await submit(stack, "print('done')")
    await wait_outputs(stack, run_id)
    run = node_uuid(run_id)
    token = stack.platform.run_tokens.issue(run)
    key = {"key": outputs_prefix(run) + "late.txt", "size": 1}
    assert (await broker(stack, token, "upload", key)).status_code == 200  # within the grace

    grace = stack.platform.settings.upload_grace_seconds
    ended = datetime.now(UTC) - timedelta(seconds=grace + 120)
    await Run.filter(id=run).update(finished_at=ended)
    assert (await broker(stack, token, "upload", key)).status_code == 401


async def test_the_credential_secret_goes_with_the_kubernetes_job(api: Api) -> None:
    run = node_uuid(await submit(api, "print('bye')"))
    secret = credential_secret_name(run)
    listed = await kubectl(api.kubeconfig, "get", "secrets", "-o", "name", namespace=api.namespace)
    assert f"secret/{secret}" in listed.split()
    await kubectl(
        api.kubeconfig, "delete", "job", kube_job_name(run), "--wait=false", namespace=api.namespace
    )
    for _ in range(100):
        listed = await kubectl(
            api.kubeconfig, "get", "secrets", "-o", "name", namespace=api.namespace
        )
        if f"secret/{secret}" not in listed.split():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{secret} outlived its Job")
