"""Settings from `WALKAI_*` environment variables, with a `dev` profile for `walkai-jobs dev`."""

from __future__ import annotations

from functools import cached_property
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.auth.smtp import SmtpSettings
from app.domain.gpu import DEFAULT_PROFILES, GpuProfile
from app.domain.usage import DEFAULT_PERIOD_CRON, check_period
from app.storage.factory import StorageSettings


class Settings(BaseSettings):
    """Everything the API reads from its environment; one instance per process."""

    model_config = SettingsConfigDict(env_prefix="WALKAI_", env_nested_delimiter="__")

    profile: Literal["production", "dev"] = "production"
    data_dir: Path = Path(".walkai")
    database_url: str | None = Field(
        default=None, description="sqlite://PATH or postgres://…; default: SQLite in data_dir"
    )

    host: str = "127.0.0.1"
    port: int = 8000
    # How clients reach this API (the local object store's signed URLs point here).
    public_url: str | None = None
    # Where account links (invitations, password resets) lead: the web app; default: the API,
    # whose `/invite` and `/reset` pages only `dev` serves.
    web_app_url: str | None = None

    storage: StorageSettings = Field(default_factory=StorageSettings)
    # Account mail (invitations, password resets): SMTP with TLS; unset host: not sent.
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)

    # Kubernetes: an explicit kubeconfig, else in-cluster, else ~/.kube/config.
    kubeconfig: Path | None = None
    kube_context: str | None = None
    namespace: str = "walkai-jobs"
    create_namespace: bool = False
    gpu_resource_prefix: str = "nvidia.com/mig-"
    gpu_profiles: list[GpuProfile] = Field(default_factory=lambda: list(DEFAULT_PROFILES))
    output_volume: Literal["ephemeral", "emptyDir"] = "ephemeral"
    storage_class: str | None = None
    storage_gi_min: int = 1
    storage_gi_max: int = 1024
    sidecar_image: str = "ghcr.io/walkai/jobs-api:latest"
    # How a run's pod reaches this API (its storage broker); default: the public URL.
    sidecar_api_url: str | None = None
    # Time the upload sidecar has once the main container ends (the pod's grace period).
    upload_grace_seconds: int = 600
    # Bytes of inputs each user may declare in all (None: no limit); createInput refuses more.
    storage_quota_bytes_per_user: int | None = Field(default=None, ge=0)
    # ServiceAccount of run pods; deploy/ creates `walkai-run` (no RBAC, no token).
    run_service_account: str | None = None
    watch_timeout_seconds: int = 300
    # Leader election (one replica follows logs, admits runs, cleans up, fires schedules): a
    # holder that died is replaced this long after its last renewal; it renews every 2/15 of
    # it and steps down when it could not renew for 2/3 of it (client-go's 15/2/10 s).
    lease_duration_seconds: float = Field(default=15, ge=1)
    # Run time limits: the default when a Job names none (None: no limit), and the largest.
    runtime_seconds_default: int | None = None
    runtime_seconds_max: int = 7 * 24 * 3600
    # Finished runs' Kubernetes Jobs are deleted this long after they end (logs archived and
    # outputs settled first); the clean-up loop looks this often.
    cleanup_grace_seconds: float = 60
    cleanup_interval_seconds: float = 10
    # Admission queue: how often a pass runs at least, whether the platform preempts, and how
    # long a run is protected after it starts; kube-scheduler's own preemption (off: it would
    # bypass fair share and quotas).
    admission_interval_seconds: float = 5
    preemption: bool = True
    preemption_min_runtime_seconds: float = 60
    # How long a run the cluster evicted waits before it may be admitted again.
    eviction_backoff_seconds: float = Field(default=60, ge=0)
    scheduler_preemption: bool = False
    # Schedules: how often one may fire at most (a cron firing more often is refused), and how
    # many ticks missed while no replica led are fired on return (older ones are skipped).
    schedule_min_interval_seconds: int = Field(default=60, ge=1)
    schedule_catch_up_ticks: int = Field(default=1, ge=1)
    # Quotas: a period starts at each tick of the cron, read in the timezone (weekly by
    # default). Owners without a stored quota get the defaults (None: no limit).
    quota_period_cron: str = DEFAULT_PERIOD_CRON
    quota_timezone: str = "UTC"
    default_max_slices: int | None = Field(default=None, ge=0)
    default_high_priority_gpu_hours: float | None = Field(default=None, ge=0)
    # HIGH/EXTRA_HIGH asked for with no high-priority budget left: refused, or accepted to
    # wait in the queue (OVER_QUOTA) until the next period.
    high_priority_over_quota: Literal["refuse", "wait"] = "refuse"
    # Who may ask for EXTRA_HIGH; "members with quota": a high-priority budget above 0 (or
    # no limit) for the run's owner, the user or the team of a team Job.
    extra_high_roles: Literal["admins", "admins_and_members_with_quota", "everyone"] = (
        "admins_and_members_with_quota"
    )
    # Fair share weighs recent usage, halved every this many seconds.
    fair_share_half_life_seconds: float = Field(default=3600, gt=0)

    @model_validator(mode="after")
    def _quota_period_is_valid(self) -> Settings:
        """A bad cron or zone fails at start, not in every quota lookup."""
        check_period(self.quota_period_cron, self.quota_timezone)
        return self

    # Open websockets re-read their credential, account and teams this often (and before each
    # operation): a revocation on another replica, an expiry or a team change ends them.
    connection_recheck_seconds: float = Field(default=30, gt=0)

    # GraphQL limits: depth and tokens of a document, the cost of its answer (list sizes times
    # fields, `app.graphql.cost`), and the bytes of one response or websocket message.
    max_query_depth: int = 12
    max_query_tokens: int = 2000
    max_query_cost: int = Field(default=50_000, ge=1)
    max_response_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    # Reverse proxies (comma-separated CIDRs) whose `X-Forwarded-For` is believed: the client
    # is the nearest address before them. Empty: the peer is the client, the header ignored.
    trusted_proxies: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(
        default_factory=list
    )
    # Lines stored per run; later ones are dropped, and a line in the log says so.
    max_log_lines_per_run: int = Field(default=1_000_000, ge=2)
    # Where the contract's operations are (their names label metrics); default: the checkout's.
    contract_dir: Path | None = None

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        """`10.0.0.0/8, 192.168.1.7` as well as a list."""
        if isinstance(value, str):
            return [
                ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()
            ]
        return value

    @property
    def resolved_public_url(self) -> str:
        """The API's address as clients see it."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def resolved_web_app_url(self) -> str:
        """The base of the links mailed to people (`<base>/invite#…`, `<base>/reset#…`)."""
        return (self.web_app_url or self.resolved_public_url).rstrip("/")

    @cached_property
    def resolved_database_url(self) -> str:
        """The database URL in use: the explicit one, else SQLite inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite://{(self.data_dir / 'walkai.db').resolve()}"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; keyword overrides win (used by `dev` and tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]
