"""Quotas, schema checks, backups, metadata and jobs: everything but graphs."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime
from typing import Any

from sandbox import model
from sandbox.errors import GesError
from sandbox.graphs import check_obs_path
from sandbox.model import Metadata
from sandbox.store import ProjectStore, _marked

METADATA_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")


def list_quotas(store: ProjectStore) -> dict[str, Any]:
    return {"quotas": {"resources": store.quotas()}}


def check_schema(store: ProjectStore, body: dict[str, Any]) -> dict[str, Any]:
    paths = [body["schemaPath"], body["edgesetPath"]]
    if body.get("vertexsetPath"):
        paths.append(body["vertexsetPath"])
    for field, value in zip(("schemaPath", "edgesetPath", "vertexsetPath"), paths):
        check_obs_path(value, field)
    if any(_marked(path, "fail") for path in paths):
        raise GesError("GES.7010", "The data files do not match the schema.")
    return {}


def _page(items: list[Any], offset: int, limit: int) -> list[Any]:
    return items[offset : offset + limit]


def list_backups(store: ProjectStore, offset: int, limit: int) -> dict[str, Any]:
    backups = list(store.backups.values())
    return {
        "backupCount": len(backups),
        "backupList": [b.wire() for b in _page(backups, offset, limit)],
    }


def list_graph_backups(
    store: ProjectStore, graph_id: str, offset: int, limit: int
) -> dict[str, Any]:
    store.graph(graph_id)
    backups = [b for b in store.backups.values() if b.graph_id == graph_id]
    return {
        "backupCount": len(backups),
        "backupList": [b.wire() for b in _page(backups, offset, limit)],
    }


def delete_backup(store: ProjectStore, graph_id: str, backup_id: str) -> dict[str, Any]:
    store.graph(graph_id)
    backup = store.backup_of(graph_id, backup_id)
    if backup.status == "backing_up":
        raise GesError("GES.7002", f"Backup ID: {backup_id}.")
    del store.backups[backup.id]
    return {}


def list_metadatas(store: ProjectStore, offset: int, limit: int) -> dict[str, Any]:
    records = list(store.metadata.values())
    return {
        "schemaCount": len(records),
        "schemaList": [m.wire() for m in _page(records, offset, limit)],
    }


def show_metadata(store: ProjectStore, metadata_id: str) -> dict[str, Any]:
    record = store.metadata_record(metadata_id)
    return {"gesMetadata": {"labels": record.labels}}


def create_metadata(store: ProjectStore, body: dict[str, Any]) -> dict[str, Any]:
    name = body["name"]
    if not METADATA_NAME.fullmatch(name):
        raise GesError(
            "GES.0001",
            "A metadata name has 1 to 64 letters, digits or underscores.",
        )
    check_obs_path(body["metadataPath"], "metadataPath")
    if len(store.metadata) >= store.metadata_quota:
        # NOTE: GES documents no code for a spent metadata quota.
        raise GesError(
            "GES.0001", f"The project may hold {store.metadata_quota} metadata."
        )
    now = time.time()
    record = Metadata(
        id=model.new_uuid(),
        name=name,
        description=body.get("description", ""),
        path=body["metadataPath"],
        labels=list(body["gesMetadata"].get("labels", [])),
        created_at=now,
        updated_at=now,
    )
    store.metadata[record.id] = record
    return {"id": record.id, "name": record.name}


def delete_metadata(store: ProjectStore, metadata_id: str) -> dict[str, Any]:
    record = store.metadata_record(metadata_id)
    del store.metadata[record.id]
    return {}


def show_job(store: ProjectStore, graph_id: str, job_id: str) -> dict[str, Any]:
    return store.job(graph_id, job_id).wire()


# The listJobs filter uses `waiting` where job records show `pending`, so the
# sandbox matches both filter words to the one state.
_STATUS_FILTER = {"waiting": "pending", "pending": "pending"}


def list_jobs(
    store: ProjectStore,
    offset: int,
    limit: int,
    status: str | None,
    graph_name: str | None,
    start_date: date | None,
    end_date: date | None,
) -> dict[str, Any]:
    wanted = _STATUS_FILTER.get(status, status) if status else None
    jobs = []
    for job in reversed(store.jobs.values()):
        if wanted is not None and job.status != wanted:
            continue
        if graph_name is not None and job.graph_name != graph_name:
            continue
        begun = datetime.fromtimestamp(job.submitted_wall, tz=UTC).date()
        if start_date is not None and begun < start_date:
            continue
        if end_date is not None and begun > end_date:
            continue
        jobs.append(job)
    return {
        "jobCount": len(jobs),
        "jobList": [j.wire() for j in _page(jobs, offset, limit)],
    }
