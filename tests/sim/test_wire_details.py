"""Wire details a client sees: error bodies, 415 messages, JSON-patch test failures, streams."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from app.sim.cluster import SimCluster
from tests.sim.conftest import pod_manifest
from tests.sim.kubectl_cli import run_kubectl

PATCH_TYPES = (
    "application/json-patch+json, application/merge-patch+json, "
    "application/strategic-merge-patch+json"
)


async def test_error_bodies_end_with_a_newline_like_go_json(
    api_cluster: SimCluster, namespace: str
) -> None:
    url = f"{api_cluster.url}/api/v1/namespaces/{namespace}/pods/missing"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as response:
            raw = await response.read()
        assert response.status == 404
        assert raw.endswith(b"}\n")
        assert json.loads(raw)["message"] == 'pods "missing" not found'
        async with http.get(f"{api_cluster.url}/no/such/path") as response:
            raw = await response.read()
    assert response.status == 404 and raw.endswith(b"}\n")
    assert json.loads(raw)["message"] == "the server could not find the requested resource"


@pytest.mark.parametrize(
    ("method", "suffix", "content_type", "accepted"),
    [
        ("PATCH", "/p", "application/apply-patch+yaml", PATCH_TYPES),
        ("PATCH", "/p", "application/json", PATCH_TYPES),
        ("POST", "", "application/vnd.kubernetes.protobuf", "application/json, application/yaml"),
        ("PUT", "/p", "text/plain", "application/json, application/yaml"),
    ],
    ids=["apply-patch", "json-as-patch", "protobuf-create", "text-update"],
)
async def test_415_lists_the_media_types_the_verb_accepts(
    api_cluster: SimCluster, namespace: str, method: str, suffix: str, content_type: str,
    accepted: str,
) -> None:  # fmt: skip
    api_cluster.store.create("pods", namespace, pod_manifest("p"))
    url = f"{api_cluster.url}/api/v1/namespaces/{namespace}/pods{suffix}"
    headers = {"Content-Type": content_type}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, data=b"{}", headers=headers) as response,
    ):
        body = await response.json(content_type=None)
    assert (response.status, body["reason"]) == (415, "UnsupportedMediaType")
    assert body["message"] == (
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{accepted}"
    )


async def test_failed_json_patch_test_names_the_path_and_values(
    api_cluster: SimCluster, api_kubeconfig: Path, namespace: str
) -> None:
    api_cluster.store.create("pods", namespace, pod_manifest("p", {"colour": "blue"}))
    ops = '[{"op": "test", "path": "/metadata/labels/colour", "value": "green"}]'
    code, _, err = await run_kubectl(
        api_kubeconfig, "patch", "pod", "p", "-n", namespace, "--type=json", "-p", ops
    )
    assert code == 1
    assert err.strip() == (
        'The request is invalid: testing value /metadata/labels/colour failed: found "blue", '
        'expected "green"'
    )
    ops = '[{"op": "remove", "path": "/metadata/labels/size"}]'
    code, _, err = await run_kubectl(
        api_kubeconfig, "patch", "pod", "p", "-n", namespace, "--type=json", "-p", ops
    )
    assert (code, err.strip()) == (
        1, "The request is invalid: remove operation at /metadata/labels/size failed: the path "
        "does not exist"
    )  # fmt: skip


async def test_exec_attach_and_port_forward_are_refused_with_a_status(
    api_cluster: SimCluster, api_kubeconfig: Path, namespace: str
) -> None:
    api_cluster.store.create("pods", namespace, pod_manifest("p"))
    pod = api_cluster.store.peek("pods", namespace, "p")
    assert pod is not None
    api_cluster.store.update(
        "pods", namespace, "p", {**pod, "status": {"phase": "Running"}}, subresource="status"
    )
    for args, what in [
        (("exec", "p", "--", "ls"), "exec into"),
        (("attach", "p"), "attach to"),
        (("port-forward", "p", "18080:80"), "forward ports of"),
    ]:
        code, _, err = await run_kubectl(api_kubeconfig, "-n", namespace, *args)
        assert code == 1
        assert f'unable to {what} pod "p": the simulated cluster runs containers' in err, err
    ws = api_cluster.url.replace("http", "ws", 1)
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{ws}/api/v1/namespaces/{namespace}/pods/p/exec?command=ls"):
            pass
    response = refused.value.response
    status = json.loads(response.body or b"")
    assert (response.status_code, status["kind"], status["code"], status["reason"]) == (
        400, "Status", 400, "BadRequest"
    )  # fmt: skip
    assert status["message"].startswith('unable to exec into pod "p"')
