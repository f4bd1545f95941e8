"""Scheduling through the real store and controllers: capacity, messages, preemption."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.sim.conftest_controllers import Sim


IGNORE_DISRUPTION = {
    "rules": [
        {
            "action": "Ignore",
            "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
        }
    ]
}


def _running(sim: Sim, job: str) -> dict | None:
    pods = [p for p in sim.job_pods(job) if p["status"].get("phase") == "Running"]
    return pods[0] if pods else None


async def test_full_cluster_leaves_pod_pending_until_capacity_frees(sim: Sim):
    for name in ("big-1", "big-2"):
        sim.store.create("jobs", "default", sim.make_job(name, "sleep 30", profile="7g.80gb"))
    await sim.wait_for(lambda: _running(sim, "big-1") and _running(sim, "big-2"))
    nodes = {_running(sim, n)["spec"]["nodeName"] for n in ("big-1", "big-2")}
    assert nodes == {"sim-node-1", "sim-node-2"}

    sim.store.create("jobs", "default", sim.make_job("waiting", "echo done", profile="3g.40gb"))
    pod = await sim.wait_for(
        lambda: [p for p in sim.job_pods("waiting") if p["status"].get("conditions")]
    )
    pod = pod[0]
    [scheduled] = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert scheduled["status"] == "False"
    assert scheduled["reason"] == "Unschedulable"
    assert scheduled["message"].startswith(
        "0/2 nodes are available: 2 Insufficient nvidia.com/mig-3g.40gb."
    )
    assert pod["status"]["phase"] == "Pending"
    [event] = sim.events(pod["metadata"]["name"], "FailedScheduling")
    assert event["type"] == "Warning"
    assert event["message"] == scheduled["message"]

    sim.store.delete("jobs", "default", "big-2", propagation_policy="Background")
    job = await sim.wait_for(
        lambda: (j := sim.job("waiting")) and sim.condition(j, "Complete") and j
    )
    assert job["status"]["succeeded"] == 1
    # The message did not change while waiting: one FailedScheduling event, not one per pass.
    assert len(sim.events(pod["metadata"]["name"], "FailedScheduling")) == 1


async def test_mig_slices_share_a_gpu(sim: Sim):
    for name, profile in (("a", "4g.40gb"), ("b", "3g.40gb"), ("c", "4g.40gb")):
        sim.store.create("jobs", "default", sim.make_job(name, "sleep 30", profile=profile))
    pods = await sim.wait_for(lambda: all(_running(sim, n) for n in "abc") and sim.pods())
    placement = {p["metadata"]["labels"]["job-name"]: p["spec"]["nodeName"] for p in pods}
    # 4g + 3g fill the first A100; the second 4g needs the other GPU.
    assert placement == {"a": "sim-node-1", "b": "sim-node-1", "c": "sim-node-2"}
    node = sim.store.get("nodes", None, "sim-node-1")
    assert node["status"]["allocatable"]["nvidia.com/mig-3g.40gb"] == "2"


async def test_higher_priority_preempts_lower(sim: Sim):
    for name in ("low-1", "low-2"):
        sim.store.create(
            "jobs",
            "default",
            sim.make_job(
                name,
                "trap 'exit 143' TERM; sleep 30 & wait",
                profile="7g.80gb",
                priority_class="low",
                podFailurePolicy=IGNORE_DISRUPTION,
                backoffLimit=0,
            ),
        )
    await sim.wait_for(lambda: _running(sim, "low-1") and _running(sim, "low-2"))
    victims_before = {n: _running(sim, n)["metadata"]["name"] for n in ("low-1", "low-2")}

    sim.store.create(
        "jobs",
        "default",
        sim.make_job("urgent", "sleep 30", profile="7g.80gb", priority_class="high"),
    )
    urgent = await sim.wait_for(lambda: _running(sim, "urgent"))
    preempted = [name for name in victims_before.values() if sim.events(name, "Preempted")]
    assert len(preempted) == 1
    [event] = sim.events(preempted[0], "Preempted")
    assert event["message"] == (
        f"Preempted by pod {urgent['metadata']['uid']} on node {urgent['spec']['nodeName']}"
    )
    # The victim's job ignores the disruption: not failed, a replacement waits Pending.
    victim_job = next(n for n, pod in victims_before.items() if pod == preempted[0])
    replacement = await sim.wait_for(
        lambda: [
            p
            for p in sim.job_pods(victim_job)
            if p["metadata"]["name"] != preempted[0]
            and any(
                c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable"
                for c in p["status"].get("conditions") or []
            )
        ]
    )
    assert replacement[0]["status"]["phase"] == "Pending"
    job = sim.job(victim_job)
    assert not job["status"].get("failed")
    assert not sim.condition(job, "Failed")


async def test_preemption_marks_victim_with_disruption_target(sim: Sim):
    sim.store.create(
        "jobs",
        "default",
        sim.make_job(
            "victim",
            "sleep 30",
            profile="7g.80gb",
            priority_class="low",
            parallelism=2,
            completions=2,
        ),
    )
    await sim.wait_for(
        lambda: (
            len([p for p in sim.job_pods("victim") if p["status"].get("phase") == "Running"]) == 2
        )
    )
    seen: list[dict] = []
    subscription = sim.store.subscribe("pods")
    sim.store.create(
        "jobs", "default", sim.make_job("vip", "sleep 30", profile="7g.80gb", priority_class="high")
    )
    async for event in subscription:
        pod = event.object
        if any(c["type"] == "DisruptionTarget" for c in pod["status"].get("conditions") or []):
            seen.append(pod)
            break
    subscription.close()
    [condition] = [c for c in seen[0]["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert condition["reason"] == "PreemptionByScheduler"
    assert condition["status"] == "True"
    vip = await sim.wait_for(
        lambda: [
            p
            for p in sim.job_pods("vip")
            if p["status"].get("nominatedNodeName") or p["spec"].get("nodeName")
        ]
    )
    assert (
        vip[0]["status"].get("nominatedNodeName", vip[0]["spec"].get("nodeName"))
        == seen[0]["spec"]["nodeName"]
    )
    # Without a pod failure policy the preempted pod counts as failed (backoffLimit 0).
    job = await sim.wait_for(lambda: (j := sim.job("victim")) and sim.condition(j, "Failed") and j)
    assert sim.condition(job, "Failed")["reason"] == "BackoffLimitExceeded"
