"""Table tests of the API server's pure rules: selectors, patches, defaulting, printing."""

from __future__ import annotations

from typing import Any

import pytest

from app.sim import admission
from app.sim.errors import ApiError
from app.sim.patch import apply_patch, merge_patch, strategic_merge
from app.sim.resources import RESOURCES
from app.sim.selectors import (
    labels_match,
    parse_field_selector,
    parse_label_selector,
    selector_from_spec,
)
from app.sim.store import Store
from app.sim.tables import human_duration

LABELS = {"app": "web", "tier": "front", "n": "5"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("app=web", True),
        ("app = web", True),
        ("app==db", False),
        ("app!=db", True),
        ("missing!=x", True),
        ("app in (db, web)", True),
        ("app notin (db,web)", False),
        ("missing notin (x)", True),
        ("app", True),
        ("!app", False),
        ("!missing", True),
        ("n>3,n<9", True),
        ("n>5", False),
        ("app=web,tier in (front),!missing", True),
        ("app=web,tier=back", False),
    ],
)
def test_label_selector(selector: str, matches: bool) -> None:
    assert labels_match(parse_label_selector(selector), LABELS) is matches


@pytest.mark.parametrize("selector", ["a in b", "a=b=c", "in (x)", "a in ()", "=x"])
def test_malformed_label_selector_is_400(selector: str) -> None:
    with pytest.raises(ApiError) as error:
        parse_label_selector(selector)
    assert error.value.code == 400


def test_label_selector_from_a_job_spec() -> None:
    spec = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}],
    }
    assert labels_match(selector_from_spec(spec) or (), LABELS)
    assert not labels_match(selector_from_spec({"matchLabels": {"app": "db"}}) or (), LABELS)


@pytest.mark.parametrize(
    ("resource", "selector", "ok"),
    [
        ("pods", "spec.nodeName=a,status.phase!=Running", True),
        ("pods", "metadata.namespace==x", True),
        ("jobs", "status.phase=Running", False),
        ("secrets", "type=Opaque", True),
        ("pods", "spec.containers=x", False),
    ],
)
def test_field_selector_fields_per_resource(resource: str, selector: str, ok: bool) -> None:
    if ok:
        assert parse_field_selector(selector, resource)
    else:
        with pytest.raises(ApiError, match="field label not supported"):
            parse_field_selector(selector, resource)


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        ({"a": 1, "b": {"c": 2}}, {"b": {"d": 3}}, {"a": 1, "b": {"c": 2, "d": 3}}),
        ({"a": 1, "b": 2}, {"a": None}, {"b": 2}),
        ({"l": [1, 2]}, {"l": [3]}, {"l": [3]}),
        ({"a": {"b": 1}}, {"a": "x"}, {"a": "x"}),
    ],
)
def test_merge_patch(target: Any, patch: Any, expected: Any) -> None:
    assert merge_patch(target, patch) == expected


CONTAINERS = {
    "containers": [
        {"name": "a", "image": "x", "env": [{"name": "E", "value": "1"}]},
        {"name": "b", "image": "y"},
    ]
}


@pytest.mark.parametrize(
    ("type_name", "original", "patch", "expected"),
    [
        # Merge by key: change one item, keep the other.
        ("PodSpec", CONTAINERS, {"containers": [{"name": "b", "image": "z"}]},
         {"containers": [CONTAINERS["containers"][0], {"name": "b", "image": "z"}]}),
        # Nested keyed list (env by name) merges too.
        ("PodSpec", CONTAINERS,
         {"containers": [{"name": "a", "env": [{"name": "F", "value": "2"}]}]},
         {"containers": [{"name": "a", "image": "x", "env": [{"name": "E", "value": "1"},
                                                             {"name": "F", "value": "2"}]},
                         {"name": "b", "image": "y"}]}),
        # $patch: delete removes an item by key.
        ("PodSpec", CONTAINERS, {"containers": [{"name": "a", "$patch": "delete"}]},
         {"containers": [{"name": "b", "image": "y"}]}),
        # $patch: replace on a list item replaces the list.
        ("PodSpec", CONTAINERS, {"containers": [{"name": "c"}, {"$patch": "replace"}]},
         {"containers": [{"name": "c"}]}),
        # Conditions merge by type, ownerReferences by uid.
        ("PodStatus", {"conditions": [{"type": "A", "status": "True"}]},
         {"conditions": [{"type": "B", "status": "False"}]},
         {"conditions": [{"type": "A", "status": "True"}, {"type": "B", "status": "False"}]}),
        ("ObjectMeta", {"ownerReferences": [{"uid": "1", "name": "x"}]},
         {"ownerReferences": [{"uid": "1", "name": "y"}]},
         {"ownerReferences": [{"uid": "1", "name": "y"}]}),
        # Lists without a merge key are replaced; finalizers are a merged set.
        ("Container", {"args": ["a", "b"]}, {"args": ["c"]}, {"args": ["c"]}),
        ("ObjectMeta", {"finalizers": ["a"]}, {"finalizers": ["b", "a"]},
         {"finalizers": ["a", "b"]}),
        ("ObjectMeta", {"finalizers": ["a", "b"]}, {"$deleteFromPrimitiveList/finalizers": ["a"]},
         {"finalizers": ["b"]}),
        # kubectl apply's ordering directive.
        ("PodSpec", CONTAINERS, {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]},
         {"containers": [CONTAINERS["containers"][1], CONTAINERS["containers"][0]]}),
        # null deletes; $retainKeys keeps only the listed keys.
        ("PodSpec", {"a": 1, "b": 2}, {"b": None}, {"a": 1}),
        ("PodSpec", {"a": 1, "b": 2, "c": 3}, {"$retainKeys": ["a", "c"], "c": 4},
         {"a": 1, "c": 4}),
        # The merge key depends on the type: Service ports by port, container ports by
        # containerPort; an undescribed type's lists are replaced.
        ("ServiceSpec", {"ports": [{"port": 80}]}, {"ports": [{"port": 443}]},
         {"ports": [{"port": 80}, {"port": 443}]}),
        ("Container", {"ports": [{"containerPort": 80}]}, {"ports": [{"containerPort": 81}]},
         {"ports": [{"containerPort": 80}, {"containerPort": 81}]}),
        (None, {"ports": [{"port": 80}]}, {"ports": [{"port": 443}]}, {"ports": [{"port": 443}]}),
    ],
)  # fmt: skip
def test_strategic_merge_patch(
    type_name: str | None, original: Any, patch: Any, expected: Any
) -> None:
    assert strategic_merge(original, patch, type_name) == expected


def test_json_patch_and_unknown_content_type() -> None:
    doc = {"metadata": {"labels": {"a": "1"}}}
    ops = [{"op": "add", "path": "/metadata/labels/b", "value": "2"}]
    assert apply_patch("application/json-patch+json", doc, ops)["metadata"]["labels"] == {
        "a": "1",
        "b": "2",
    }
    with pytest.raises(ApiError) as error:
        apply_patch("application/apply-patch+yaml", doc, {})
    assert error.value.code == 415


@pytest.mark.parametrize(
    ("image", "policy"),
    [("busybox", "Always"), ("busybox:latest", "Always"), ("busybox:1.36", "IfNotPresent"),
     ("reg:5000/busybox", "Always"), ("busybox@sha256:abc", "IfNotPresent")],
)  # fmt: skip
def test_image_pull_policy_default(image: str, policy: str) -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "m", "image": image}]}}
    admission.admit_create(RESOURCES["pods"], pod, lambda: [])
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_priority_admission_uses_the_global_default() -> None:
    classes = [{"metadata": {"name": "normal"}, "value": 100, "globalDefault": True}]
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "m", "image": "i"}]}}
    admission.admit_create(RESOURCES["pods"], pod, lambda: classes)
    spec = pod["spec"]
    assert (spec["priorityClassName"], spec["priority"]) == ("normal", 100)
    assert spec["preemptionPolicy"] == "PreemptLowerPriority"


@pytest.mark.parametrize(
    ("policy", "field", "reason"),
    [(None, "spec.template.spec.restartPolicy", "FieldValueRequired"),
     ("Always", "spec.template.spec.restartPolicy", "FieldValueNotSupported")],
)  # fmt: skip
def test_job_restart_policy_is_validated(policy: str | None, field: str, reason: str) -> None:
    spec: dict[str, Any] = {"containers": [{"name": "m", "image": "i"}]}
    if policy:
        spec["restartPolicy"] = policy
    job = {"metadata": {"name": "j", "uid": "u"}, "spec": {"template": {"spec": spec}}}
    with pytest.raises(ApiError) as error:
        admission.admit_create(RESOURCES["jobs"], job, lambda: [])
    causes = (error.value.details or {})["causes"]
    assert [(c["field"], c["reason"]) for c in causes] == [(field, reason)]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(5, "5s"), (119, "119s"), (200, "3m20s"), (600, "10m"), (3 * 3600 + 120, "3h2m"),
     (30 * 3600, "30h"), (3 * 86400 + 4 * 3600, "3d4h"), (90 * 86400, "90d")],
)  # fmt: skip
def test_human_duration(seconds: int, shown: str) -> None:
    assert human_duration(seconds) == shown


async def test_a_slow_watcher_is_closed_without_slowing_the_store() -> None:
    store = Store(watch_queue_size=3)
    watcher, _ = store.watch("secrets", None, since=store.resource_version)
    for i in range(5):
        store.create("secrets", "default", {"metadata": {"name": f"s{i}"}})
    assert watcher.closed and watcher.close_reason == "watcher too slow"
    assert store.open_watches() == {}
    assert len(store.list("secrets", "default")[0]) == 5


async def test_history_eviction_raises_the_resume_floor() -> None:
    store = Store(history_size=2)
    start = store.resource_version
    for i in range(3):
        store.create("secrets", "default", {"metadata": {"name": f"s{i}"}})
    with pytest.raises(ApiError) as error:
        store.watch("secrets", None, since=start)
    assert error.value.code == 410
    _, replay = store.watch("secrets", None, since=start + 1)
    assert [e.object["metadata"]["name"] for e in replay] == ["s1", "s2"]
