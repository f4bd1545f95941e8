"""MIG placement, pod requests, fit messages and preemption victims: the scheduler's pure rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.sim.nodes import (
    MigDevice,
    NodeSpec,
    allocate,
    config_from_dict,
    default_config,
    default_gpu,
    mig_capacity,
    node_object,
    parse_profile,
    parse_quantity,
)
from app.sim.scheduler import (
    Candidate,
    NodeState,
    Request,
    check_fit,
    pick_preemption,
    pod_request,
    select_victims,
    unschedulable_message,
)

CONFIG = default_config()
NODE = NodeSpec(name="n", cpu="4", memory="8Gi", pods=3, gpus=(default_gpu(),))


def _used(*profiles: tuple[str, int]) -> list[MigDevice]:
    return [MigDevice(0, name, start) for name, start in profiles]


@pytest.mark.parametrize(
    ("used", "request_", "expected"),
    [
        ([], {"7g.80gb": 1}, [("7g.80gb", 0)]),
        ([], {"4g.40gb": 1, "3g.40gb": 1}, [("4g.40gb", 0), ("3g.40gb", 4)]),
        ([("4g.40gb", 0)], {"3g.40gb": 1}, [("3g.40gb", 4)]),
        ([("4g.40gb", 0)], {"4g.40gb": 1}, None),
        ([("3g.40gb", 0), ("3g.40gb", 4)], {"1g.10gb": 1}, None),  # memory full
        ([("3g.40gb", 4)], {"2g.20gb": 2}, [("2g.20gb", 0), ("2g.20gb", 2)]),
        ([], {"1g.10gb": 7}, [("1g.10gb", s) for s in range(7)]),
        ([], {"1g.10gb": 8}, None),  # 7 compute slices
        ([("1g.10gb", 0)], {"4g.40gb": 1}, None),  # 4g only starts at 0
        ([("1g.10gb", 0)], {"3g.40gb": 1}, [("3g.40gb", 4)]),
        ([("2g.20gb", 0), ("2g.20gb", 2), ("2g.20gb", 4)], {"1g.10gb": 1}, [("1g.10gb", 6)]),
    ],
)
def test_mig_placement_follows_a100_geometry(used, request_, expected):
    result = allocate(NODE, _used(*used), request_)
    if expected is None:
        assert result is None
    else:
        assert result == _used(*expected)


def test_allocation_spills_to_the_next_gpu():
    node = NodeSpec(name="n", gpus=(default_gpu(), default_gpu()))
    assert allocate(node, [MigDevice(0, "4g.40gb", 0)], {"4g.40gb": 1}) == [
        MigDevice(1, "4g.40gb", 0)
    ]


def test_profile_not_allowed_on_gpu_does_not_fit():
    config = config_from_dict(
        {"nodes": [{"gpus": [{"model": "A100-80GB", "profiles": ["1g.10gb"]}]}]}
    )
    assert allocate(config.nodes[0], [], {"3g.40gb": 1}) is None
    assert mig_capacity(config.nodes[0]) == {"1g.10gb": 7}


def test_profiles_are_checked_against_gpu_memory():
    assert parse_profile("3g.20gb", 40).memory_slices == 4
    with pytest.raises(ValueError, match="does not exist"):
        parse_profile("3g.20gb", 80)
    with pytest.raises(ValueError, match="unknown MIG profile"):
        parse_profile("5g.50gb")


def test_default_config_is_two_nodes_with_one_a100():
    config = default_config()
    assert [n.name for n in config.nodes] == ["sim-node-1", "sim-node-2"]
    assert [g.model for n in config.nodes for g in n.gpus] == ["A100-80GB", "A100-80GB"]


def test_node_object_advertises_mig_capacity():
    node = node_object(CONFIG.nodes[0], CONFIG, "2026-01-01T00:00:00Z")
    capacity = node["status"]["capacity"]
    assert capacity["nvidia.com/mig-1g.10gb"] == "7"
    assert capacity["nvidia.com/mig-2g.20gb"] == "3"
    assert capacity["nvidia.com/mig-3g.40gb"] == "2"
    assert capacity["nvidia.com/mig-7g.80gb"] == "1"
    assert node["status"]["allocatable"] == capacity
    assert node["status"]["conditions"][0] == {
        "type": "Ready",
        "status": "True",
        "reason": "KubeletReady",
        "message": "kubelet is posting ready status",
        "lastHeartbeatTime": "2026-01-01T00:00:00Z",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }


def test_config_yaml_shape(tmp_path):
    from app.sim.nodes import load_config

    path = tmp_path / "nodes.yaml"
    path.write_text(
        "migResourcePrefix: nvidia.com/mig-\n"
        "nodes:\n"
        "  - name: big\n"
        "    cpu: '8'\n"
        "    gpus: [{model: A100-40GB, count: 2}]\n"
    )
    config = load_config(path)
    assert config.nodes[0].name == "big"
    assert len(config.nodes[0].gpus) == 2
    assert "3g.20gb" in config.nodes[0].gpus[0].profiles
    assert config.mig_resource("3g.20gb") == "nvidia.com/mig-3g.20gb"


@pytest.mark.parametrize(
    ("text", "value"),
    [("500m", Decimal("0.5")), ("2", Decimal(2)), ("1Gi", Decimal(2**30)), ("1k", Decimal(1000))],
)
def test_quantities(text, value):
    assert parse_quantity(text) == value


def _pod(containers, init=()):
    return {"spec": {"containers": list(containers), "initContainers": list(init)}}


def _c(limits=None, requests=None, restart=None):
    container = {"resources": {"limits": limits or {}, "requests": requests or {}}}
    if restart:
        container["restartPolicy"] = restart
    return container


def test_pod_request_sums_containers_and_sidecars_and_takes_init_peak():
    pod = _pod(
        [_c({"nvidia.com/mig-3g.40gb": "1", "cpu": "1"}), _c(requests={"cpu": "500m"})],
        init=[_c(requests={"cpu": "3"}), _c(requests={"memory": "1Gi"}, restart="Always")],
    )
    request = pod_request(pod, CONFIG)
    assert request.cpu == Decimal(3)
    assert request.memory == Decimal(2**30)
    assert request.mig == {"3g.40gb": 1}


def _state(spec=NODE, devices=(), cpu="0", pods=0):
    return NodeState(spec, cpu=parse_quantity(cpu), pods=pods, devices=list(devices))


def test_fit_reasons_name_the_missing_resource():
    node = _state(devices=_used(("4g.40gb", 0), ("3g.40gb", 4)), cpu="4", pods=3)
    fit = check_fit(node, Request(cpu=Decimal(1), mig={"3g.40gb": 1}), CONFIG)
    assert fit.devices is None
    assert fit.reasons == (
        "Too many pods",
        "Insufficient cpu",
        "Insufficient nvidia.com/mig-3g.40gb",
    )


def test_unschedulable_message_counts_reasons_like_kube_scheduler():
    full = check_fit(_state(devices=_used(("7g.80gb", 0))), Request(mig={"3g.40gb": 1}), CONFIG)
    message = unschedulable_message(2, [full, full])
    assert message == "0/2 nodes are available: 2 Insufficient nvidia.com/mig-3g.40gb."
    wrong = check_fit(_state(), Request(), CONFIG, {"zone": "b"})
    assert unschedulable_message(2, [full, wrong]) == (
        "0/2 nodes are available: 1 Insufficient nvidia.com/mig-3g.40gb, "
        "1 node(s) didn't match Pod's node affinity/selector."
    )


def _cand(name, priority, profile, start, started="2026-01-01T00:00:00Z"):
    device = MigDevice(0, profile, start)
    return Candidate(name, priority, started, Request(mig={profile: 1}), (device,))


def _node_with(candidates):
    return _state(devices=[d for c in candidates for d in c.devices], pods=len(candidates))


def test_victims_are_the_fewest_lowest_priority_pods():
    low = _cand("low", 1, "3g.40gb", 0)
    mid = _cand("mid", 5, "4g.40gb", 0)
    others = [_cand("a", 1, "3g.40gb", 4)]
    # The 4g (priority 5) is reprieved: only the 3g at slice 4 has to go.
    node = _node_with([*others, mid])
    assert [
        v.key for v in select_victims(node, [*others, mid], Request(mig={"3g.40gb": 1}), 10, CONFIG)
    ] == ["a"]
    # Equal or higher priority is never a victim.
    assert select_victims(_node_with([low]), [low], Request(mig={"7g.80gb": 1}), 1, CONFIG) is None


def test_reprieve_keeps_the_more_important_pod():
    a = _cand("one", 1, "3g.40gb", 0)
    b = _cand("two", 2, "3g.40gb", 4)
    victims = select_victims(_node_with([a, b]), [a, b], Request(mig={"3g.40gb": 1}), 10, CONFIG)
    assert [v.key for v in victims] == ["one"]


def test_no_victims_when_removing_everything_is_not_enough():
    a = _cand("a", 1, "3g.40gb", 0)
    high = _cand("high", 100, "3g.40gb", 4)
    node = _node_with([a, high])
    assert select_victims(node, [a, high], Request(mig={"7g.80gb": 1}), 10, CONFIG) is None


def test_pick_preemption_prefers_lower_victim_priority_then_fewer_pods():
    one_mid = [_cand("x", 5, "7g.80gb", 0)]
    two_low = [_cand("y", 1, "3g.40gb", 0), _cand("z", 1, "3g.40gb", 4)]
    assert pick_preemption({"n1": one_mid, "n2": two_low}) == "n2"
    one_low = [_cand("w", 1, "7g.80gb", 0)]
    assert pick_preemption({"n1": two_low, "n2": one_low}) == "n2"
    assert pick_preemption({}) is None
