"""Bulk creation of finished resources, for benchmarks and for tests that need
resources the code under test did not create."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from starlette.applications import Starlette

from sandbox import model
from sandbox.model import Backup, Graph, Job, Metadata
from sandbox.server import RunningSandbox
from sandbox.store import ProjectStore


@dataclass
class Seeded:
    """Ids of what `seed` created."""

    graph_ids: list[str] = field(default_factory=list)
    backup_ids: list[str] = field(default_factory=list)
    metadata_ids: list[str] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)


def _store(target: RunningSandbox | Starlette, project_id: str) -> ProjectStore:
    app = target.app if isinstance(target, RunningSandbox) else target
    stores: dict[str, ProjectStore] = app.state.sandbox.stores
    if project_id not in stores:
        raise ValueError(f"project `{project_id}` is not served by this sandbox")
    return stores[project_id]


def seed(
    target: RunningSandbox | Starlette,
    project_id: str,
    *,
    graphs: int = 0,
    backups_per_graph: int = 0,
    jobs_per_graph: int = 0,
    metadata: int = 0,
    name_prefix: str = "seeded",
) -> Seeded:
    """Add running graphs, successful backups and jobs, and metadata records.

    Each graph comes with its finished CreateGraph job plus `jobs_per_graph`
    more finished jobs. Quotas grow as needed so that seeding never makes
    `available` negative; what the quota leaves free stays free.
    """
    store = _store(target, project_id)
    seeded = Seeded()
    now = time.time()
    with store.lock:
        store.graph_quota += graphs
        store.backup_quota += graphs * backups_per_graph
        store.metadata_quota += metadata
        store.edge_quota += graphs * model.EDGES_BY_SIZE_INDEX["0"]
        start = len(store.graphs)
        for index in range(graphs):
            graph = Graph(
                id=model.new_uuid(),
                name=f"{name_prefix}_graph_{start + index}",
                size_index="0",
                vpc_id="vpc-seeded",
                subnet_id="subnet-seeded",
                security_group_id="sg-seeded",
                arch="x86_64",
                created_at=now,
                status=model.RUNNING,
            )
            store.graphs[graph.id] = graph
            seeded.graph_ids.append(graph.id)
            for name in ["CreateGraph"] + ["ImportGraph"] * jobs_per_graph:
                seeded.job_ids.append(_finished_job(store, graph, name).id)
            for number in range(backups_per_graph):
                seeded.backup_ids.append(_backup(store, graph, now, number).id)
        for index in range(metadata):
            record = Metadata(
                id=model.new_uuid(),
                name=f"{name_prefix}_metadata_{index}",
                description="seeded",
                path="bucket/seeded/schema.xml",
                labels=[],
                created_at=now,
                updated_at=now,
            )
            store.metadata[record.id] = record
            seeded.metadata_ids.append(record.id)
    return seeded


def _finished_job(store: ProjectStore, graph: Graph, name: str) -> Job:
    now = store.clock()
    job = Job(
        id=model.new_job_id(),
        name=name,
        graph_id=graph.id,
        graph_name=graph.name,
        submitted_at=now,
        starts_at=now,
        ends_at=now,
        status="success",
    )
    store.jobs[job.id] = job
    return job


def _backup(store: ProjectStore, graph: Graph, now: float, number: int) -> Backup:
    backup = Backup.of(graph, now - 3600 * (number + 1))
    backup.status = "success"
    backup.ended_at = backup.started_at + 60
    backup.size_mb = 64
    store.backups[backup.id] = backup
    return backup
