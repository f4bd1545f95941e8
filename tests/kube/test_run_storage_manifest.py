"""The storage side of a run's pod: who sees the credential, what runs first, what is mounted."""

from __future__ import annotations

from app.kube.manifests import (
    CREDENTIAL_KEY,
    ManifestSettings,
    credential_secret,
    credential_secret_name,
    run_job,
)
from tests.kube.test_manifests import REF, SPEC

SETTINGS = ManifestSettings(
    namespace="walkai", sidecar_image="registry.example/walkai:1.2", api_url="http://api:8000"
)


def test_inputs_come_first_and_the_upload_sidecar_keeps_running() -> None:
    pod = run_job(SPEC, REF, SETTINGS, with_inputs=True)["spec"]["template"]["spec"]
    fetch, upload = pod["initContainers"]
    assert (fetch["name"], upload["name"]) == ("inputs", "outputs")
    assert fetch["command"] == ["walkai-jobs", "sidecar", "fetch-inputs"]
    assert "restartPolicy" not in fetch
    assert upload["restartPolicy"] == "Always"  # a native sidecar
    assert "walkai-jobs sidecar upload" in upload["command"][-1]
    assert {c["image"] for c in (fetch, upload)} == {"registry.example/walkai:1.2"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["terminationGracePeriodSeconds"] == SETTINGS.upload_grace_seconds


def test_only_the_storage_containers_see_the_credential() -> None:
    pod = run_job(SPEC, REF, SETTINGS, with_inputs=True)["spec"]["template"]["spec"]
    (main,) = pod["containers"]
    assert "valueFrom" not in str(main.get("env")) and "envFrom" not in main
    for container in pod["initContainers"]:
        (ref,) = [e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e]
        assert ref == {"name": credential_secret_name(REF.run_id), "key": CREDENTIAL_KEY}


def test_inputs_are_read_only_to_the_main_container() -> None:
    pod = run_job(SPEC, REF, SETTINGS)["spec"]["template"]["spec"]
    (main,) = pod["containers"]
    mounts = {m["mountPath"]: m for m in main["volumeMounts"]}
    assert mounts["/walkai/inputs"]["readOnly"] is True
    env = {e["name"]: e.get("value") for e in main["env"]}
    assert (env["WALKAI_OUTPUT_DIR"], env["WALKAI_INPUT_DIR"]) == (
        "/walkai/output",
        "/walkai/inputs",
    )
    assert [c["name"] for c in pod["initContainers"]] == ["outputs"]  # no inputs, no fetch


def test_the_secret_is_owned_by_the_job() -> None:
    secret = credential_secret(REF, "wrt1.x.y", "job-uid-1", "walkai")
    (owner,) = secret["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["name"]) == (
        "Job",
        "job-uid-1",
        run_job(SPEC, REF, SETTINGS)["metadata"]["name"],
    )
    assert secret["stringData"] == {CREDENTIAL_KEY: "wrt1.x.y"}
