"""The cluster's own delays (back-offs), and the time factor that scales them.

Kubernetes waits on purpose in a few places: the kubelet before restarting a crashing container
(CrashLoopBackOff: at once, then 10 s doubling to 5 min) and the Job controller before replacing
a failed pod (10 s doubling to 6 min). The simulation keeps those figures and multiplies them by
``factor`` (``SimConfig.time_factor``, YAML ``timeFactor``, ``walkai-jobs sim --time-factor``),
so tests can run a crash loop in a fraction of a second while ``dev`` behaves like a cluster.
Durations the user writes (grace periods, deadlines, TTLs) are never scaled.

``Timing`` is shared and mutable: a test may change ``factor`` on a running cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

# kubelet: pkg/kubelet/kubelet.go (backOffPeriod, MaxContainerBackOff)
CONTAINER_BACKOFF_FIRST = 10.0
CONTAINER_BACKOFF_MAX = 300.0
# kube-controller-manager: pkg/controller/job (DefaultJobPodFailureBackOff, documented cap)
JOB_BACKOFF_FIRST = 10.0
JOB_BACKOFF_MAX = 360.0


def exponential(count: int, first: float, cap: float) -> float:
    """The wait after ``count`` consecutive failures: 0, first, 2*first, … capped at ``cap``."""
    if count <= 0:
        return 0.0
    return min(first * 2 ** (count - 1), cap)


@dataclass
class Timing:
    """The time factor of one simulated cluster and the back-offs it scales."""

    factor: float = 1.0

    def container_backoff(self, restarts: int) -> float:
        """Seconds the kubelet waits before restart number ``restarts + 1`` of a container: the
        first restart is immediate, later ones back off (the kubelet's 10 s doubling to 5 min)."""
        return exponential(restarts, CONTAINER_BACKOFF_FIRST, CONTAINER_BACKOFF_MAX) * self.factor

    def job_backoff(self, failures: int) -> float:
        """Seconds the Job controller waits, after the last of ``failures`` consecutive failed
        pods, before it creates a replacement (10 s doubling to 6 min)."""
        return exponential(failures, JOB_BACKOFF_FIRST, JOB_BACKOFF_MAX) * self.factor
