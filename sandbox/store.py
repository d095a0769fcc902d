"""One project's resources and the lifecycle that moves them.

Jobs advance lazily: every request first calls `advance()`, which moves each
pending or running job to the phase the clock has reached. No background
thread exists, so a paused process cannot leave a job half-applied, and tests
see the same sequence whatever the machine's load.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox import model
from sandbox.errors import GesError
from sandbox.model import Backup, Graph, Job, Metadata
from sandbox.settings import (
    DEFAULT_PENDING_SECONDS,
    DEFAULT_RUNNING_SECONDS,
    SLOW_FACTOR,
    SandboxSettings,
)


@dataclass
class Workflow:
    """Effects of a finished job on its graph: new status and callbacks."""

    success_status: str | None = None
    failure_status: str | None = None
    on_success: Callable[[], None] | None = None
    on_failure: Callable[[], None] | None = None


def _marked(text: str, marker: str) -> bool:
    return marker in text.lower()


class ProjectStore:
    """Graphs, backups, metadata and jobs of one project, behind one lock."""

    def __init__(
        self,
        project_id: str,
        settings: SandboxSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.project_id = project_id
        self.settings = settings
        self.clock = clock
        self.lock = threading.RLock()
        self.graphs: dict[str, Graph] = {}
        self.backups: dict[str, Backup] = {}
        self.metadata: dict[str, Metadata] = {}
        self.jobs: dict[str, Job] = {}
        self.graph_quota = settings.graph_quota
        self.backup_quota = settings.backup_quota
        self.metadata_quota = settings.metadata_quota
        self.edge_quota = settings.edge_quota
        self._active: dict[str, tuple[Job, Workflow]] = {}

    # -- clock -------------------------------------------------------------

    def advance(self) -> None:
        """Move every unfinished job to the phase the clock has reached."""
        now = self.clock()
        for job_id, (job, workflow) in list(self._active.items()):
            if job.status == "pending" and now >= job.starts_at:
                job.status = "running"
            if now >= job.ends_at:
                # Removed first: a workflow may submit a follow-up job.
                del self._active[job_id]
                self._finish(job, workflow)
        for graph in self.graphs.values():
            if graph.status == model.PREPARING:
                graph.action_progress = self._creation_progress(graph, now)

    def _creation_progress(self, graph: Graph, now: float) -> int:
        for job, _ in self._active.values():
            if job.graph_id == graph.id and job.name == "CreateGraph":
                span = max(job.ends_at - job.submitted_at, 1e-9)
                return min(99, int(100 * (now - job.submitted_at) / span))
        return 0

    def _finish(self, job: Job, workflow: Workflow) -> None:
        job.status = "failed" if job.will_fail else "success"
        graph = self.graphs.get(job.graph_id)
        if job.will_fail:
            if graph is not None and workflow.failure_status is not None:
                graph.status = workflow.failure_status
            if workflow.on_failure is not None:
                workflow.on_failure()
        else:
            if graph is not None and workflow.success_status is not None:
                graph.status = workflow.success_status
            if workflow.on_success is not None:
                workflow.on_success()
        if graph is not None:
            graph.updated_at = job.wall(job.ends_at)

    def submit(
        self,
        name: str,
        graph: Graph,
        workflow: Workflow,
        *,
        fail_reason: str | None = None,
        slow: bool = False,
        detail: dict[str, Any] | None = None,
    ) -> Job:
        """Queue a job on `graph`; it fails with `fail_reason` when one is given."""
        now = self.clock()
        scale = self.settings.time_scale * (SLOW_FACTOR if slow else 1.0)
        starts_at = now + DEFAULT_PENDING_SECONDS * scale
        job = Job(
            id=model.new_job_id(),
            name=name,
            graph_id=graph.id,
            graph_name=graph.name,
            submitted_at=now,
            starts_at=starts_at,
            ends_at=starts_at + DEFAULT_RUNNING_SECONDS * scale,
            will_fail=fail_reason is not None,
            fail_reason=fail_reason,
            detail=detail,
        )
        self.jobs[job.id] = job
        self._active[job.id] = (job, workflow)
        return job

    def active_job_count(self) -> int:
        return len(self._active)

    # -- look-ups ------------------------------------------------------------

    def graph(self, graph_id: str) -> Graph:
        graph = self.graphs.get(graph_id)
        if graph is None:
            raise GesError("GES.7000", f"Graph ID: {graph_id}.")
        return graph

    def backup_of(self, graph_id: str, backup_id: str) -> Backup:
        backup = self.backups.get(backup_id)
        if backup is None or backup.graph_id != graph_id:
            raise GesError("GES.7024", f"Backup ID: {backup_id}.")
        return backup

    def metadata_record(self, metadata_id: str) -> Metadata:
        record = self.metadata.get(metadata_id)
        if record is None:
            # NOTE: GES documents no code for a missing metadata record; its
            # deleteMetadata example answers GES.7024, the backup code.
            raise GesError("GES.7024", f"Metadata ID: {metadata_id}.")
        return record

    def job(self, graph_id: str, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None or job.graph_id != graph_id:
            raise GesError("GES.7007", f"Job ID: {job_id}.")
        return job

    # -- quotas --------------------------------------------------------------

    def used_edges(self) -> int:
        return sum(
            model.EDGES_BY_SIZE_INDEX.get(g.size_index, 0) for g in self.graphs.values()
        )

    def quotas(self) -> list[dict[str, Any]]:
        return [
            {
                "type": "graph",
                "available": max(0, self.graph_quota - len(self.graphs)),
                "edgeVolume": max(0, self.edge_quota - self.used_edges()),
            },
            {
                "type": "backup",
                "available": max(0, self.backup_quota - len(self.backups)),
            },
            {
                "type": "metadata",
                "available": max(0, self.metadata_quota - len(self.metadata)),
            },
        ]
