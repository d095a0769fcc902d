"""Settings of one sandbox instance: projects, credentials, quotas and timing."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PROJECT_ID = "0a1b2c3d4e5f46a7b8c9d0e1f2a3b4c5"
DEFAULT_GRAPH_QUOTA = 10
DEFAULT_BACKUP_QUOTA = 50
DEFAULT_METADATA_QUOTA = 50
# Total edges all graphs of a project may hold, matched against each graph's
# size type index: ten 1-billion-edge graphs fit.
DEFAULT_EDGE_QUOTA = 10_000_000_000
# GES documents no maximum page size; the sandbox needs one to bound a page.
MAX_PAGE_LIMIT = 1000
# Seconds a job waits, then runs, at time scale 1.
DEFAULT_PENDING_SECONDS = 0.05
DEFAULT_RUNNING_SECONDS = 0.25
# How much longer than usual a job runs when an OBS path it reads contains "slow".
SLOW_FACTOR = 20.0
# A signed request whose X-Sdk-Date is further than this from the clock is rejected.
SIGNATURE_MAX_SKEW_SECONDS = 15 * 60


@dataclass(frozen=True)
class ProjectCredentials:
    """A project and the token that grants access to it, and to it alone."""

    project_id: str
    token: str

    def __repr__(self) -> str:
        return f"ProjectCredentials(project_id={self.project_id!r}, token='***')"


def _default_projects() -> tuple[ProjectCredentials, ...]:
    return (ProjectCredentials(DEFAULT_PROJECT_ID, secrets.token_urlsafe(24)),)


@dataclass(frozen=True)
class SandboxSettings:
    """Everything that varies between sandbox instances.

    `access_key`/`secret_key`, when both are set, are one account's key pair:
    requests signed with it may reach every configured project. `time_scale`
    multiplies every job and creation duration; 0 finishes jobs on the next
    request. `rate_limit`, when set, is the requests per second each project
    may send, with bursts of `rate_burst`; the gateway answers the excess with
    429 and a Retry-After header.
    """

    projects: tuple[ProjectCredentials, ...] = field(default_factory=_default_projects)
    access_key: str | None = None
    secret_key: str | None = None
    time_scale: float = 1.0
    rate_limit: float | None = None
    rate_burst: int = 10
    host: str = DEFAULT_HOST
    port: int = 0
    graph_quota: int = DEFAULT_GRAPH_QUOTA
    backup_quota: int = DEFAULT_BACKUP_QUOTA
    metadata_quota: int = DEFAULT_METADATA_QUOTA
    edge_quota: int = DEFAULT_EDGE_QUOTA

    def __post_init__(self) -> None:
        if not self.projects:
            raise ValueError("at least one project is required")
        ids = [p.project_id for p in self.projects]
        if len(set(ids)) != len(ids):
            raise ValueError(f"project ids must be unique, got {ids}")
        tokens = [p.token for p in self.projects]
        if len(set(tokens)) != len(tokens):
            raise ValueError("each project needs its own token")
        if (self.access_key is None) != (self.secret_key is None):
            raise ValueError("access_key and secret_key must be set together")
        if not math.isfinite(self.time_scale) or self.time_scale < 0:
            raise ValueError(f"time_scale must be a number >= 0, got {self.time_scale}")
        if self.rate_limit is not None and not 0 < self.rate_limit < math.inf:
            raise ValueError(
                f"rate_limit must be a finite number > 0, got {self.rate_limit}"
            )
        if self.rate_burst < 1:
            raise ValueError(f"rate_burst must be >= 1, got {self.rate_burst}")

    def __repr__(self) -> str:
        return (
            f"SandboxSettings(projects={self.projects!r}, "
            f"access_key={'***' if self.access_key else None}, "
            f"time_scale={self.time_scale}, host={self.host!r}, port={self.port})"
        )
