"""Graph operations: create, show, list, delete and the eight graph actions."""

from __future__ import annotations

import re
import time
from typing import Any

from sandbox import model
from sandbox.errors import GesError
from sandbox.model import Backup, Graph, PathEntry
from sandbox.store import ProjectStore, Workflow, _marked

# The SDK and the 2021 docs: 4-50 characters, a letter first, then letters,
# digits or underscores. The sandbox keeps to the strictest documented rule.
GRAPH_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,49}")
# OBS object names: letters, digits, CJK and ! - _ . * ' ( ) plus / as separator.
OBS_PATH = re.compile(r"[A-Za-z0-9_!\-.*'()/\u4e00-\u9fff]+")
# Dotted version numbers, each part short enough to compare as an integer.
VERSION = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9}){0,7}")


def check_obs_path(value: str, field: str) -> None:
    if not OBS_PATH.fullmatch(value):
        raise GesError("GES.7011", f"Field `{field}` is not a valid OBS path.")


def _fail_reason(paths: list[str], what: str) -> str | None:
    for path in paths:
        if _marked(path, "fail"):
            return f"{what} failed: OBS object {path} could not be read."
    return None


def _slow(paths: list[str]) -> bool:
    return any(_marked(path, "slow") for path in paths)


def require_status(store: ProjectStore, graph: Graph, allowed: set[str]) -> None:
    """Reject an action on a graph whose status does not allow it."""
    if graph.deleting:
        raise GesError("GES.7054", f"Graph ID: {graph.id}.")
    if graph.status in allowed:
        return
    if graph.status == model.PREPARING:
        raise GesError("GES.7042", f"Graph status: {graph.status}.")
    if allowed == {model.STOPPED}:
        raise GesError("GES.7037", f"Graph status: {graph.status}.")
    if graph.status in (model.STOPPED, model.STOPPING):
        raise GesError("GES.7003", f"Graph status: {graph.status}.")
    raise GesError("GES.7001", f"Graph status: {graph.status}.")


def require_running_idle(store: ProjectStore, graph: Graph) -> None:
    require_status(store, graph, {model.RUNNING})
    if graph.backing_up:
        raise GesError("GES.7002", f"Graph ID: {graph.id}.")


def create_graph(store: ProjectStore, spec: dict[str, Any]) -> dict[str, Any]:
    name = spec["name"]
    if not GRAPH_NAME.fullmatch(name):
        raise GesError(
            "GES.7012",
            "A name has 4 to 50 letters, digits or underscores "
            "and starts with a letter.",
        )
    if any(g.name == name for g in store.graphs.values()):
        raise GesError("GES.7013", f"Graph name: {name}.")
    size_index = spec["graphSizeTypeIndex"]
    if size_index not in model.EDGES_BY_SIZE_INDEX:
        raise GesError("GES.7023", f"Got `{size_index}`.")
    arch = spec.get("arch", "x86_64")
    if arch not in ("x86_64", "aarch64"):
        raise GesError("GES.7052", f"Got `{arch}`.")
    public_ip = spec.get("publicIp")
    if public_ip is not None:
        bind_type = public_ip.get("publicBindType")
        if bind_type not in ("auto_assign", "bind_existing"):
            raise GesError("GES.7031", f"Got `{bind_type}`.")
        if bind_type == "bind_existing" and not public_ip.get("eipId"):
            raise GesError("GES.7033", "`bind_existing` needs an `eipId`.")
    # The SDK marks both tag fields optional, but a tag needs both to mean
    # anything.
    tags = spec.get("sys_tags", [])
    if any("key" not in tag or "value" not in tag for tag in tags):
        raise GesError("GES.7049", "Each of `sys_tags` needs a `key` and a `value`.")
    if len(store.graphs) >= store.graph_quota:
        raise GesError("GES.7018", f"The project may hold {store.graph_quota} graphs.")
    edges = model.EDGES_BY_SIZE_INDEX[size_index]
    if store.used_edges() + edges > store.edge_quota:
        raise GesError("GES.7018", "The edge volume quota is used up.")

    paths: list[str] = []
    source = spec.get("dataSource")
    if source is not None:
        parameters = source["parameters"]
        for field in ("schemaPath", "edgesetPath", "vertexsetPath"):
            if field in parameters:
                check_obs_path(parameters[field], field)
                paths.append(parameters[field])

    now = time.time()
    graph = Graph(
        id=model.new_uuid(),
        name=name,
        size_index=size_index,
        vpc_id=spec["vpcId"],
        subnet_id=spec["subnetId"],
        security_group_id=spec["securityGroupId"],
        arch=arch,
        created_at=now,
        enable_rbac=spec.get("enableRBAC", False),
        enable_fulltext_index=spec.get("enableFullTextIndex", False),
        encrypted=spec.get("encryption", {}).get("enable", False),
        master_key_id=spec.get("encryption", {}).get("masterKeyId"),
        multi_az=spec.get("enableMultiAz", False),
        sys_tags=[f"{tag['key']}={tag['value']}" for tag in tags],
    )
    if public_ip is not None:
        graph.eip_id = public_ip.get("eipId") or model.new_uuid()
        graph.public_ip = "100.64.0.10"
    store.graphs[graph.id] = graph

    reason = _fail_reason(paths, "Creating the graph")
    job = store.submit(
        "CreateGraph",
        graph,
        Workflow(model.RUNNING, model.CREATION_FAILED),
        fail_reason=reason,
        slow=_slow(paths),
    )
    if source is not None:
        parameters = source["parameters"]
        status = "failed" if reason else "success"
        _record_paths(graph, parameters, job.id, status)
    return {"id": graph.id, "name": graph.name}


def _record_paths(
    graph: Graph, params: dict[str, Any], job_id: str, status: str
) -> None:
    for field, entries in (
        ("schemaPath", graph.schema_paths),
        ("edgesetPath", graph.edgeset_paths),
        ("vertexsetPath", graph.vertexset_paths),
    ):
        if params.get(field):
            entries.append(PathEntry(params[field], job_id, status))


def list_graphs(store: ProjectStore, offset: int, limit: int) -> dict[str, Any]:
    graphs = list(store.graphs.values())
    page = graphs[offset : offset + limit]
    return {"graphCount": len(graphs), "graphs": [g.wire() for g in page]}


def show_graph(store: ProjectStore, graph_id: str) -> dict[str, Any]:
    return {"graph": store.graph(graph_id).wire()}


def delete_graph(
    store: ProjectStore, graph_id: str, keep_backup: bool
) -> dict[str, Any]:
    graph = store.graph(graph_id)
    if graph.deleting:
        raise GesError("GES.7054", f"Graph ID: {graph.id}.")
    graph.deleting = True

    def remove() -> None:
        store.graphs.pop(graph.id, None)
        if not keep_backup:
            for backup_id in [
                b.id for b in store.backups.values() if b.graph_id == graph.id
            ]:
                del store.backups[backup_id]

    job = store.submit("DeleteGraph", graph, Workflow(on_success=remove))
    return {"jobId": job.id}


def stop_graph(store: ProjectStore, graph_id: str) -> dict[str, Any]:
    graph = store.graph(graph_id)
    require_status(store, graph, {model.RUNNING})
    graph.status = model.STOPPING
    job = store.submit("StopGraph", graph, Workflow(model.STOPPED, model.RUNNING))
    return {"jobId": job.id}


def start_graph(
    store: ProjectStore, graph_id: str, backup_id: str | None
) -> dict[str, Any]:
    graph = store.graph(graph_id)
    require_status(store, graph, {model.STOPPED})
    if backup_id:
        backup = store.backup_of(graph.id, backup_id)
        if backup.status != "success":
            raise GesError("GES.7040", f"Backup status: {backup.status}.")
    graph.status = model.STARTING
    job = store.submit("StartGraph", graph, Workflow(model.RUNNING, model.STOPPED))
    return {"jobId": job.id}


def import_graph(
    store: ProjectStore, graph_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    graph = store.graph(graph_id)
    require_running_idle(store, graph)
    paths = []
    for field in ("schemaPath", "edgesetPath", "vertexsetPath", "logDir"):
        if body.get(field):
            check_obs_path(body[field], field)
            paths.append(body[field])
    if not any(body.get(f) for f in ("schemaPath", "edgesetPath", "vertexsetPath")):
        raise GesError(
            "GES.7049",
            "Give at least one of `edgesetPath`, `vertexsetPath`, `schemaPath`.",
        )
    reason = _fail_reason(paths, "Importing")
    status = "failed" if reason else "success"
    detail = _import_detail(body, status, reason)
    graph.status = model.IMPORTING
    job = store.submit(
        "ImportGraph",
        graph,
        Workflow(model.RUNNING, model.RUNNING),
        fail_reason=reason,
        slow=_slow(paths),
        detail=detail,
    )
    _record_paths(graph, body, job.id, "failed" if reason else "success")
    return {"jobId": job.id}


def _import_detail(
    body: dict[str, Any], status: str, reason: str | None
) -> dict[str, Any]:
    detail: dict[str, Any] = {}
    lines = 0 if reason else 1000
    if body.get("schemaPath"):
        detail["schemaPath"] = [{"path": body["schemaPath"], "status": status}]
    for field in ("edgesetPath", "vertexsetPath"):
        if body.get(field):
            entry: dict[str, Any] = {
                "path": body[field],
                "status": status,
                "totalLines": lines,
                "successfulLines": lines,
                "failedLines": 0,
            }
            if reason:
                entry["cause"] = reason
            detail[field] = [entry]
    return detail


def export_graph(
    store: ProjectStore, graph_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    graph = store.graph(graph_id)
    require_running_idle(store, graph)
    check_obs_path(body["graphExportPath"], "graphExportPath")
    for field in ("edgeSetName", "vertexSetName", "schemaName"):
        if not body[field]:
            raise GesError("GES.7050", f"Field `{field}` is empty.")
    reason = _fail_reason([body["graphExportPath"]], "Exporting")
    graph.status = model.EXPORTING
    job = store.submit(
        "ExportGraph",
        graph,
        Workflow(model.RUNNING, model.RUNNING),
        fail_reason=reason,
        slow=_slow([body["graphExportPath"]]),
    )
    return {"jobId": job.id}


def clear_graph(
    store: ProjectStore, graph_id: str, clear_metadata: bool
) -> dict[str, Any]:
    graph = store.graph(graph_id)
    require_running_idle(store, graph)

    def empty() -> None:
        graph.schema_paths.clear()
        graph.edgeset_paths.clear()
        graph.vertexset_paths.clear()

    graph.status = model.CLEARING
    job = store.submit(
        "ClearGraph", graph, Workflow(model.RUNNING, model.RUNNING, empty)
    )
    return {"jobId": job.id}


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def upgrade_graph(
    store: ProjectStore, graph_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    graph = store.graph(graph_id)
    require_running_idle(store, graph)
    target = body["upgradeVersion"]
    if not VERSION.fullmatch(target):
        raise GesError(
            "GES.0001", f"`upgradeVersion` must look like 2.3.1, got `{target}`."
        )
    if _version_key(target) <= _version_key(graph.version):
        raise GesError("GES.7036", f"Current version: {graph.version}.")

    def upgraded() -> None:
        graph.version = target

    def rolled_back() -> None:
        graph.status = model.ROLLING_BACK
        store.submit("RollbackGraph", graph, Workflow(model.RUNNING, model.RUNNING))

    # A target whose last part is 99 fails and rolls back: a deterministic way
    # to show the 201 -> 203 -> 200 path of GES's status table.
    reason = None
    if target.split(".")[-1] == "99":
        reason = "Upgrading failed: the target version could not be installed."
    graph.status = model.UPGRADING
    job = store.submit(
        "UpgradeGraph",
        graph,
        Workflow(model.RUNNING, None, upgraded, rolled_back),
        fail_reason=reason,
    )
    return {"jobId": job.id}


def bind_eip(store: ProjectStore, graph_id: str, eip_id: str) -> dict[str, Any]:
    graph = store.graph(graph_id)
    require_running_idle(store, graph)
    if not eip_id:
        raise GesError("GES.7050", "Field `eipId` is empty.")
    if graph.eip_id is not None:
        raise GesError("GES.7038", f"Bound EIP: {graph.eip_id}.")
    graph.eip_id = eip_id
    graph.public_ip = "100.64.0.10"
    return {}


def unbind_eip(store: ProjectStore, graph_id: str, eip_id: str) -> dict[str, Any]:
    graph = store.graph(graph_id)
    require_running_idle(store, graph)
    if graph.eip_id is None:
        raise GesError("GES.7039", f"Graph ID: {graph.id}.")
    if eip_id != graph.eip_id:
        raise GesError("GES.7033", f"EIP `{eip_id}` is not bound to this graph.")
    graph.eip_id = None
    graph.public_ip = None
    return {}


def create_backup(store: ProjectStore, graph_id: str) -> dict[str, Any]:
    graph = store.graph(graph_id)
    require_running_idle(store, graph)
    if len(store.backups) >= store.backup_quota:
        raise GesError(
            "GES.7019", f"The project may hold {store.backup_quota} backups."
        )
    backup = Backup.of(graph, time.time())
    store.backups[backup.id] = backup
    graph.backing_up = True

    def finished(status: str) -> None:
        backup.status = status
        backup.ended_at = time.time()
        backup.size_mb = 128 if status == "success" else 0
        graph.backing_up = False

    reason = None
    if _marked(graph.name, "fail"):
        reason = "Backing up failed: the graph's snapshot could not be written."
    job = store.submit(
        "BackupGraph",
        graph,
        Workflow(
            on_success=lambda: finished("success"),
            on_failure=lambda: finished("failed"),
        ),
        fail_reason=reason,
    )
    return {"jobId": job.id}
