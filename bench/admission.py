"""One admission pass over a big queue: `app.domain.admission.plan` against a plain sort.

    .venv/bin/python bench/admission.py [--nodes 16] [--gpus 8] [--queued 10000] [--owners 100]
        [--admitted 400] [--rounds 20]

Builds a cluster of `--nodes` x `--gpus` A100-80GB GPUs (every profile allowed; a few GPUs
hold other workloads' instances, a few have instances being freed), `--admitted` runs bound
to GPUs (a mix of priorities, most past the minimum runtime, so HIGH runs in the queue have
victims to preempt), and `--queued` runs of `--owners` owners with random profiles, priorities
and submission times, some owners with quotas. Then runs `plan` `--rounds` times and prints the
time per pass, per decision (queued run) and passes/s (also with preemption off), next to the
baseline measured in the same run: `sorted()` of the same runs by (priority, submitted_at) —
the order a FIFO-per-priority queue would use, with no placement, quota or fairness at all —
and the ratio.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from harness import Row, emit

from app.domain.admission import (
    AdmittedRun,
    Gpu,
    Plan,
    Policy,
    QueuedRun,
    Quota,
    Snapshot,
    plan,
)
from app.domain.mig import can_cut, model_profiles
from app.domain.priority import PRIORITY_VALUES, Priority

PROFILES = model_profiles("A100-80GB")
PROFILE_WEIGHTS = (40, 25, 15, 10, 10)
PRIORITY_WEIGHTS = {
    Priority.LOW: 30,
    Priority.MEDIUM: 50,
    Priority.HIGH: 15,
    Priority.EXTRA_HIGH: 5,
}


def build(args: argparse.Namespace, rng: random.Random) -> Snapshot:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    allowed = frozenset(PROFILES)
    gpus: list[Gpu] = []
    for n in range(args.nodes):
        for i in range(args.gpus):
            held = ("1g.10gb",) if rng.random() < 0.05 else ()
            releasing = ("2g.20gb",) if rng.random() < 0.03 else ()
            gpus.append(Gpu(f"node-{n:02d}", i, "A100-80GB", allowed, held, releasing))
    owners = [f"{'team' if k % 10 == 0 else 'user'}:{k}" for k in range(args.owners)]
    priorities = list(PRIORITY_WEIGHTS)
    weights = list(PRIORITY_WEIGHTS.values())

    placed: dict[int, list[str]] = {}
    admitted: list[AdmittedRun] = []
    attempts = 0
    while len(admitted) < args.admitted and attempts < args.admitted * 20:
        attempts += 1
        profile = rng.choices(PROFILES, PROFILE_WEIGHTS)[0]
        g = rng.randrange(len(gpus))
        gpu = gpus[g]
        taken = [*gpu.held, *gpu.releasing, *placed.get(g, [])]
        if not can_cut(taken, profile):
            continue
        placed.setdefault(g, []).append(profile)
        priority = rng.choices(priorities, [40, 40, 15, 5])[0]
        started = now - timedelta(seconds=rng.uniform(10, 7200))
        admitted.append(
            AdmittedRun(
                f"a{len(admitted)}",
                rng.choice(owners),
                profile,
                priority,
                started,
                (gpu.node, gpu.index),
                started + timedelta(hours=rng.uniform(1, 8)) if rng.random() < 0.5 else None,
            )
        )
    queued = [
        QueuedRun(
            f"q{k}",
            rng.choice(owners),
            rng.choices(PROFILES, PROFILE_WEIGHTS)[0],
            rng.choices(priorities, weights)[0],
            now - timedelta(seconds=rng.uniform(0, 86400)),
            preempted=rng.random() < 0.01,
        )
        for k in range(args.queued)
    ]
    usage = {owner: rng.uniform(0, 7 * 3600) for owner in owners if rng.random() < 0.7}
    quotas = {
        owner: Quota(
            max_slices=rng.choice((7, 14, 28, None)),
            high_priority_slice_seconds_left=rng.choice((None, 3600.0, 0.0)),
        )
        for owner in owners
        if rng.random() < 0.3
    }
    return Snapshot(now, gpus, queued, admitted, usage, quotas)


def timed(fn: object, rounds: int) -> list[float]:
    assert callable(fn)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=16)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--queued", type=int, default=10_000)
    parser.add_argument("--owners", type=int, default=100)
    parser.add_argument("--admitted", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    snapshot = build(args, rng)
    policy = Policy()
    result: Plan = plan(snapshot, policy)  # warm the geometry cache

    ours = timed(lambda: plan(snapshot, policy), args.rounds)
    quiet = Policy(preemption=False)
    no_preemption = timed(lambda: plan(snapshot, quiet), args.rounds)
    runs = list(snapshot.queued)
    baseline = timed(
        lambda: sorted(runs, key=lambda r: (-PRIORITY_VALUES[r.priority], r.submitted_at)),
        args.rounds,
    )

    reasons: dict[str, int] = {}
    for waiting in result.waiting.values():
        reasons[waiting.reason.value] = reasons.get(waiting.reason.value, 0) + 1
    print(
        f"cluster: {len(snapshot.gpus)} GPUs ({args.nodes} nodes x {args.gpus}), "
        f"{len(snapshot.admitted)} admitted, {len(runs)} queued of {args.owners} owners"
    )
    print(
        f"plan: {len(result.admit)} admitted, {len(result.preempt)} preempted, "
        f"waiting {dict(sorted(reasons.items()))}"
    )
    best, median = min(ours), statistics.median(ours)
    base_best, base_median = min(baseline), statistics.median(baseline)
    print(
        f"plan():   {median * 1e3:8.2f} ms/pass median ({best * 1e3:.2f} best), "
        f"{median / len(runs) * 1e6:6.2f} us/decision, {1 / median:7.1f} passes/s"
    )
    quiet_median = statistics.median(no_preemption)
    print(
        f"plan() without preemption: {quiet_median * 1e3:8.2f} ms/pass median, "
        f"{quiet_median / len(runs) * 1e6:6.2f} us/decision, {1 / quiet_median:7.1f} passes/s"
    )
    print(
        f"sorted(): {base_median * 1e3:8.2f} ms/pass median ({base_best * 1e3:.2f} best), "
        f"{base_median / len(runs) * 1e6:6.2f} us/run, {1 / base_median:7.1f} passes/s"
    )
    print(f"ratio plan/sorted (median): {median / base_median:.1f}x")
    emit(
        Row(
            f"admission pass, {len(runs):,} queued (ms/pass; anchor sorted())",
            median * 1e3,
            "ms",
            base_median * 1e3,
            median / base_median,
            "— (lower is better)",
        )
    )


if __name__ == "__main__":
    main()
