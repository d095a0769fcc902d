"""Records the sandbox keeps, and their wire form as GES sends it."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Graph status codes the sandbox moves graphs through.
PREPARING = "100"
RUNNING = "200"
UPGRADING = "201"
IMPORTING = "202"
ROLLING_BACK = "203"
EXPORTING = "204"
CLEARING = "205"
CREATION_FAILED = "303"
STOPPED = "900"
STOPPING = "901"
STARTING = "920"

DATA_STORE_VERSION = "2.2.21"
JOB_TYPE = "GraphManagement"

# Edges each graph size type index stands for, from the GES size table.
EDGES_BY_SIZE_INDEX: dict[str, int] = {
    "0": 10_000,
    "1": 1_000_000,
    "2": 10_000_000,
    "3": 100_000_000,
    "4": 1_000_000_000,
    "5": 10_000_000_000,
    "401": 1_000_000_000,
}


def new_uuid() -> str:
    return str(uuid.uuid4())


def new_job_id() -> str:
    """Return a job id in the 32-hex-digit form GES examples show."""
    return uuid.uuid4().hex


def wire_time(epoch_seconds: float) -> str:
    """Format a UTC time as GES jobs and graphs do: `yyyy-MM-ddTHH:mm:ss`."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def compact_time(epoch_seconds: float) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.strftime("%Y%m%d%H%M%S")


@dataclass
class PathEntry:
    path: str
    job_id: str
    status: str

    def wire(self) -> dict[str, Any]:
        return {"path": self.path, "jobId": self.job_id, "status": self.status}


@dataclass
class Graph:
    id: str
    name: str
    size_index: str
    vpc_id: str
    subnet_id: str
    security_group_id: str
    arch: str
    created_at: float
    status: str = PREPARING
    version: str = DATA_STORE_VERSION
    updated_at: float = 0.0
    action_progress: int = 0
    enable_rbac: bool = False
    enable_fulltext_index: bool = False
    encrypted: bool = False
    master_key_id: str | None = None
    multi_az: bool = False
    eip_id: str | None = None
    public_ip: str | None = None
    private_ip: str = "192.168.0.10"
    sys_tags: list[str] = field(default_factory=list)
    schema_paths: list[PathEntry] = field(default_factory=list)
    edgeset_paths: list[PathEntry] = field(default_factory=list)
    vertexset_paths: list[PathEntry] = field(default_factory=list)
    deleting: bool = False
    backing_up: bool = False

    def wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "createdBy": "sandbox_user",
            "isMultiAz": "true" if self.multi_az else "false",
            "regionCode": "cn-north-4",
            "azCode": "cn-north-4a",
            "schemaPath": [p.wire() for p in self.schema_paths],
            "edgesetPath": [p.wire() for p in self.edgeset_paths],
            "edgesetFormat": "csv",
            "vertexsetPath": [p.wire() for p in self.vertexset_paths],
            "vertexsetFormat": "csv",
            "dataStoreVersion": self.version,
            "sys_tags": list(self.sys_tags),
            "status": self.status,
            "graphSizeTypeIndex": self.size_index,
            "vpcId": self.vpc_id,
            "subnetId": self.subnet_id,
            "securityGroupId": self.security_group_id,
            "replication": 1,
            "created": wire_time(self.created_at),
            "updated": wire_time(self.updated_at or self.created_at),
            "privateIp": self.private_ip,
            "arch": self.arch,
            "encrypted": self.encrypted,
            "enableRBAC": self.enable_rbac,
            "enableFulltextIndex": self.enable_fulltext_index,
        }
        if self.status == PREPARING:
            body["actionProgress"] = str(self.action_progress)
        if self.public_ip is not None:
            body["publicIp"] = self.public_ip
        if self.master_key_id is not None:
            body["masterKeyId"] = self.master_key_id
        return body


@dataclass
class Backup:
    id: str
    name: str
    graph_id: str
    graph_name: str
    graph_status: str
    size_index: str
    version: str
    arch: str
    started_at: float
    status: str = "backing_up"
    ended_at: float | None = None
    method: str = "manual"
    size_mb: int = 0

    @classmethod
    def of(cls, graph: Graph, started_at: float) -> Backup:
        """Start a manual backup of `graph`, named as GES names them."""
        return cls(
            id=new_uuid(),
            name=f"{graph.name}-{compact_time(started_at)}",
            graph_id=graph.id,
            graph_name=graph.name,
            graph_status=graph.status,
            size_index=graph.size_index,
            version=graph.version,
            arch=graph.arch,
            started_at=started_at,
        )

    def wire(self) -> dict[str, Any]:
        ended = self.ended_at if self.ended_at is not None else self.started_at
        return {
            "id": self.id,
            "name": self.name,
            "backupMethod": self.method,
            "graphId": self.graph_id,
            "graphName": self.graph_name,
            "graphStatus": self.graph_status,
            "graphSizeTypeIndex": self.size_index,
            "dataStoreVersion": self.version,
            "arch": self.arch,
            "status": self.status,
            "startTimestamp": int(self.started_at * 1000),
            "startTime": wire_time(self.started_at),
            "endTimestamp": int(ended * 1000),
            "endTime": wire_time(ended),
            "size": self.size_mb,
            "duration": int(ended - self.started_at),
            "encrypted": False,
        }


@dataclass
class Metadata:
    id: str
    name: str
    description: str
    path: str
    labels: list[dict[str, Any]]
    created_at: float
    updated_at: float

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "status": "200",
            "metadataPath": self.path,
            "createTimestamp": str(int(self.created_at * 1000)),
            "lastUpdateTimestamp": str(int(self.updated_at * 1000)),
        }


@dataclass
class Job:
    """An asynchronous job: pending until `starts_at`, running until `ends_at`.

    Times are `time.monotonic()` readings so that a clock change on the host
    cannot reorder a job's phases; `submitted_wall` anchors the wire times.
    """

    id: str
    name: str
    graph_id: str
    graph_name: str
    submitted_at: float
    starts_at: float
    ends_at: float
    submitted_wall: float = field(default_factory=time.time)
    status: str = "pending"
    fail_reason: str | None = None
    detail: dict[str, Any] | None = None
    will_fail: bool = False

    def wall(self, monotonic_time: float) -> float:
        return self.submitted_wall + (monotonic_time - self.submitted_at)

    def wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "jobId": self.id,
            "status": self.status,
            "jobType": JOB_TYPE,
            "jobName": self.name,
            "relatedGraph": self.graph_name,
            "beginTime": wire_time(self.submitted_wall),
            # GES documents jobProgress as reserved; its examples always show 0.
            "jobProgress": 0.0,
        }
        if self.status in ("success", "failed"):
            body["endTime"] = wire_time(self.wall(self.ends_at))
        if self.fail_reason is not None:
            body["failReason"] = self.fail_reason
        if self.detail is not None:
            body["jobDetail"] = self.detail
        return body
