"""deploy/ and the Dockerfile: applied with the real kubectl to the simulated cluster, and checked
against what the code needs (routes, labels, the Kubernetes calls it makes, one image)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import yaml

from app.kube.labels import MANAGED_BY, MANAGER
from app.kube.manifests import ManifestSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

# Every Kubernetes call the platform makes (outside app/sim), as the RBAC rule it needs.
# A call that is not listed fails the test: add it here and the verb to deploy/rbac.yaml.
CALLS: dict[str, tuple[str, str, str] | None] = {
    "create_namespaced_job": ("batch", "jobs", "create"),
    "delete_namespaced_job": ("batch", "jobs", "delete"),
    # Suspend (cancel, preempt) and admit (un-suspend, pin to a node) a run's Job.
    "patch_namespaced_job": ("batch", "jobs", "patch"),
    # The admission queue's view of the GPUs (one informer, cluster-wide).
    "list_node": ("", "nodes", "list"),  # + watch
    "list_namespaced_job": ("batch", "jobs", "list"),  # + watch: the informer
    "list_namespaced_pod": ("", "pods", "list"),  # + watch: the informer
    "read_namespaced_pod_log": ("", "pods/log", "get"),
    "create_namespaced_secret": ("", "secrets", "create"),
    "read_namespaced_secret": ("", "secrets", "get"),
    "replace_namespaced_secret": ("", "secrets", "update"),
    "delete_namespaced_secret": ("", "secrets", "delete"),
    "create_priority_class": ("scheduling.k8s.io", "priorityclasses", "create"),
    # The logs Lease (app/kube/lease.py): one replica follows and archives logs.
    "read_namespaced_lease": ("coordination.k8s.io", "leases", "get"),
    "create_namespaced_lease": ("coordination.k8s.io", "leases", "create"),
    "replace_namespaced_lease": ("coordination.k8s.io", "leases", "update"),
    # Only with WALKAI_CREATE_NAMESPACE (dev and tests); production's namespace is deploy/'s.
    "create_namespace": None,
}
# Requests made by URL rather than through a client method.
RAW_PATHS = {"/pods/{name}/log": ("", "pods/log", "get")}
WATCHED = {("batch", "jobs"), ("", "pods"), ("", "nodes")}
_CALL = re.compile(r"\.((?:create|read|replace|patch|delete|list)_\w+)\b")


def documents() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted(DEPLOY.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def one(kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


async def kubectl_result(kubeconfig: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        "kubectl", f"--kubeconfig={kubeconfig}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_kubectl_builds_and_applies_deploy_to_the_simulated_cluster(kubeconfig: Path) -> None:
    code, rendered, err = await kubectl_result(kubeconfig, "kustomize", str(DEPLOY))
    assert code == 0, err
    kinds = {(d["apiVersion"], d["kind"]) for d in yaml.safe_load_all(rendered) if d}
    assert len(list(yaml.safe_load_all(rendered))) == len(documents())

    # Applied with kubectl's validation (the simulator serves every kind's OpenAPI document).
    code, out, err = await kubectl_result(kubeconfig, "apply", "-k", str(DEPLOY))
    assert code == 0, err
    assert "namespace/walkai-jobs" in out
    applied = kinds
    # Applying again changes nothing.
    code, out, err = await kubectl_result(kubeconfig, "apply", "-k", str(DEPLOY))
    assert code == 0, err
    assert all(line.endswith("unchanged") for line in out.splitlines()), out
    # What was applied is there, as kubectl reads it back.
    for _, kind in sorted(applied):
        names = [d["metadata"]["name"] for d in documents() if d["kind"] == kind]
        for name in names:
            namespace = one(kind, name)["metadata"].get("namespace")
            args = ["get", kind.lower(), name, "-o", "name"]
            code, got, err = await kubectl_result(
                kubeconfig, *args, *(["-n", namespace] if namespace else [])
            )
            assert code == 0 and name in got, err


def test_the_deployment_runs_two_non_root_replicas_of_one_image() -> None:
    deployment = one("Deployment", "walkai-jobs-api")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    (api,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in api["env"]}
    # The same image runs the API and every run's init and upload sidecar containers.
    assert env["WALKAI_SIDECAR_IMAGE"] == api["image"]
    assert ManifestSettings.__dataclass_fields__["sidecar_image"].default.startswith(
        api["image"].rsplit(":", 1)[0]
    )
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert api["securityContext"]["readOnlyRootFilesystem"] is True
    assert api["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["serviceAccountName"] == "walkai-jobs-api"
    assert pod["terminationGracePeriodSeconds"] > 20, "longer than uvicorn's graceful timeout"


def test_probes_and_ports_match_the_app() -> None:
    from starlette.routing import Route

    from app.config import load_settings
    from app.server import create_app

    app = create_app(load_settings(data_dir=ROOT / "test-output" / "deploy"))
    paths = {route.path for route in app.routes if isinstance(route, Route)}
    (api,) = one("Deployment", "walkai-jobs-api")["spec"]["template"]["spec"]["containers"]
    kinds = ("startupProbe", "livenessProbe", "readinessProbe")
    probes = {api[kind]["httpGet"]["path"] for kind in kinds}
    assert probes == {"/healthz", "/readyz"} and probes <= paths
    annotations = one("Deployment", "walkai-jobs-api")["spec"]["template"]["metadata"]
    assert annotations["annotations"]["prometheus.io/path"] in paths
    (port,) = api["ports"]
    service = one("Service", "walkai-jobs-api")
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]
    assert (
        service["spec"]["selector"]
        == one("Deployment", "walkai-jobs-api")["spec"]["selector"]["matchLabels"]
    )


def _used_rules() -> set[tuple[str, str, str]]:
    sources = [
        path.read_text()
        for path in (ROOT / "app").rglob("*.py")
        if "sim" not in path.relative_to(ROOT / "app").parts
    ]
    calls = {
        match
        for text in sources
        for match in _CALL.findall(text)
        if "_namespaced_" in match
        or match in ("create_priority_class", "create_namespace", "list_node")
    }
    unknown = calls - set(CALLS)
    assert not unknown, f"Kubernetes calls without an RBAC rule in this test: {unknown}"
    rules = {rule for call in calls if (rule := CALLS[call]) is not None}
    rules |= {rule for path, rule in RAW_PATHS.items() if any(path in text for text in sources)}
    watched = {(group, resource) for group, resource, _ in rules} & WATCHED
    rules |= {(group, resource, "watch") for group, resource in watched}
    return rules


def _granted() -> set[tuple[str, str, str]]:
    granted = set()
    for kind in ("Role", "ClusterRole"):
        for doc in (d for d in documents() if d["kind"] == kind):
            for rule in doc["rules"]:
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        granted |= {(group, resource, verb) for verb in rule["verbs"]}
    return granted


def test_rbac_grants_exactly_the_verbs_the_code_uses() -> None:
    assert _granted() == _used_rules()
    bindings = [d for d in documents() if d["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    assert {s["name"] for b in bindings for s in b["subjects"]} == {"walkai-jobs-api"}


def test_user_pods_get_no_token_and_are_fenced() -> None:
    assert one("ServiceAccount", "walkai-run")["automountServiceAccountToken"] is False
    runs = one("NetworkPolicy", "walkai-runs")["spec"]
    assert runs["podSelector"]["matchLabels"] == {MANAGED_BY: MANAGER}
    assert runs["ingress"] == [] and set(runs["policyTypes"]) == {"Ingress", "Egress"}
    blocked = runs["egress"][-1]["to"][0]["ipBlock"]["except"]
    assert "10.0.0.0/8" in blocked and "169.254.0.0/16" in blocked


def test_dockerfile_is_multi_stage_non_root_and_runs_the_cli() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(stages) >= 3, "node (GraphiQL files), build, runtime"
    final = text.rsplit("\nFROM ", 1)[1]
    assert re.search(r"^USER 10001:10001$", final, re.M)
    assert 'ENTRYPOINT ["walkai-jobs"]' in final
    assert "pip install" not in final and "apt-get" not in final, "the runtime stage only copies"
    assert "app.graphiql" in text, "GraphiQL's files are vendored into the image"
