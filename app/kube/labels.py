"""The labels that tie Kubernetes objects to the platform's Jobs and runs."""

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "walkai-jobs"
JOB_ID = "walkai.io/job-id"
RUN_ID = "walkai.io/run-id"
RUN_NUMBER = "walkai.io/run-number"
MANAGED_SELECTOR = f"{MANAGED_BY}={MANAGER}"


def kube_job_name(run_id: str) -> str:
    """The Kubernetes Job of a run: `run-` and the run's id without dashes (36 characters)."""
    return "run-" + run_id.replace("-", "")
