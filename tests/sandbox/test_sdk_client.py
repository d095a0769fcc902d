"""The official SDK's GesClient, pointed at the sandbox, through every operation.

checkSchema is the one operation the SDK has no method for. The SDK leaves
`action_id` to the caller, so every action request names it.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkges.v1 import (
    AttachEipRequest,
    BindEipReq,
    ClearGraphRequest,
    CreateBackupRequest,
    CreateGraphReq,
    CreateGraphRequest,
    CreateMetadataReq,
    CreateMetadataRequest,
    DeleteBackupRequest,
    DeleteGraphRequest,
    DeleteMetadataRequest,
    DetachEipRequest,
    ExportGraphReq,
    ExportGraphRequest,
    GesClient,
    GesMetaData,
    Graph,
    ImportGraphReq,
    ImportGraphRequest,
    Label,
    ListBackupsRequest,
    ListGraphBackupsRequest,
    ListGraphMetadatasRequest,
    ListGraphsRequest,
    ListJobsRequest,
    ListMetadatasRequest,
    ListQuotasRequest,
    ShowGraphRequest,
    ShowJobRequest,
    StartGraphReq,
    StartGraphRequest,
    StopGraphRequest,
    UnbindEipReq,
    UpgradeGraphReq,
    UpgradeGraphRequest,
)

from tests.conftest import ACCESS_KEY, SECRET_KEY


def _wire_keys_filled(model: Any, wire: Any, where: str) -> list[str]:
    """List wire fields that the SDK model left empty after deserializing."""
    problems: list[str] = []
    if isinstance(wire, list):
        for index, (item, raw) in enumerate(zip(model or [], wire)):
            problems += _wire_keys_filled(item, raw, f"{where}[{index}]")
        return problems
    if not isinstance(wire, dict) or not hasattr(model, "attribute_map"):
        return problems
    by_wire = {name: attr for attr, name in model.attribute_map.items()}
    for key, raw in wire.items():
        attr = by_wire.get(key)
        if attr is None:
            problems.append(f"{where}.{key} has no SDK attribute")
            continue
        value = getattr(model, attr)
        if value is None and raw is not None:
            problems.append(f"{where}.{key} was not deserialized")
        problems += _wire_keys_filled(value, raw, f"{where}.{key}")
    return problems


class Calls:
    """Runs SDK calls and checks every response against its own raw body."""

    def __init__(self, client: GesClient) -> None:
        self.client = client
        self.methods: set[str] = set()
        self.problems: list[str] = []

    def __call__(self, method: str, request: Any) -> Any:
        response = getattr(self.client, method)(request)
        wire = response.to_json_object()
        self.methods.add(method)
        assert response.status_code == 200, method
        assert wire is not None, f"{method} returned no body"
        self.problems += _wire_keys_filled(response, wire, method)
        return response

    def wait_job(self, graph_id: str, job_id: str) -> Any:
        for _ in range(2000):
            job = self("show_job", ShowJobRequest(graph_id=graph_id, job_id=job_id))
            if job.status in ("success", "failed"):
                return job
            time.sleep(0.01)
        raise AssertionError(f"job {job_id} never finished")

    def wait_running(self, graph_id: str) -> None:
        for _ in range(2000):
            shown = self("show_graph", ShowGraphRequest(graph_id=graph_id))
            if shown.graph.status == "200":
                return
            time.sleep(0.01)
        raise AssertionError(f"graph {graph_id} never reached 200")


@pytest.fixture
def calls(fresh_sandbox) -> Calls:
    config = HttpConfig.get_default_config()
    config.timeout = (5, 10)
    project = fresh_sandbox.projects[0]
    credentials = BasicCredentials(ACCESS_KEY, SECRET_KEY, project.project_id)
    client = (
        GesClient.new_builder()
        .with_http_config(config)
        .with_credentials(credentials)
        .with_endpoints([fresh_sandbox.base_url])
        .build()
    )
    return Calls(client)


def test_sdk_client_drives_every_operation(calls: Calls):
    labels = [Label(name="movie", properties=[{"name": "title", "dataType": "string"}])]
    metadata = calls(
        "create_metadata",
        CreateMetadataRequest(
            body=CreateMetadataReq(
                metadata_path="bucket/schema.xml",
                name="sdk_schema",
                description="from the SDK",
                is_overwrite=False,
                ges_metadata=GesMetaData(labels=labels),
            )
        ),
    )
    calls("list_metadatas", ListMetadatasRequest(offset=0, limit=10))
    calls("list_graph_metadatas", ListGraphMetadatasRequest(metadata_id=metadata.id))
    calls("list_quotas", ListQuotasRequest())

    graph = Graph(
        name="sdk_graph",
        graph_size_type_index="1",
        vpc_id="vpc-1",
        subnet_id="subnet-1",
        security_group_id="sg-1",
    )
    created = calls(
        "create_graph", CreateGraphRequest(body=CreateGraphReq(graph=graph))
    )
    graph_id = created.id
    calls.wait_running(graph_id)
    calls("list_graphs", ListGraphsRequest(offset=0, limit=10))

    steps = [
        (
            "import_graph",
            ImportGraphRequest(
                graph_id=graph_id,
                action_id="import-graph",
                body=ImportGraphReq(edgeset_path="bucket/edges.csv"),
            ),
        ),
        (
            "export_graph",
            ExportGraphRequest(
                graph_id=graph_id,
                action_id="export-graph",
                body=ExportGraphReq(
                    graph_export_path="bucket/out",
                    edge_set_name="e",
                    vertex_set_name="v",
                    schema_name="s",
                ),
            ),
        ),
        (
            "clear_graph",
            ClearGraphRequest(
                graph_id=graph_id, action_id="clear-graph", clear_metadata=True
            ),
        ),
        (
            "upgrade_graph",
            UpgradeGraphRequest(
                graph_id=graph_id,
                action_id="upgrade",
                body=UpgradeGraphReq(upgrade_version="2.3.0"),
            ),
        ),
        ("create_backup", CreateBackupRequest(graph_id=graph_id)),
    ]
    for method, request in steps:
        job = calls.wait_job(graph_id, calls(method, request).job_id)
        assert job.status == "success", method

    calls(
        "attach_eip",
        AttachEipRequest(
            graph_id=graph_id, action_id="bindEip", body=BindEipReq(eip_id="e1")
        ),
    )
    calls(
        "detach_eip",
        DetachEipRequest(
            graph_id=graph_id, action_id="unbindEip", body=UnbindEipReq(eip_id="e1")
        ),
    )
    backups = calls("list_graph_backups", ListGraphBackupsRequest(graph_id=graph_id))
    calls("list_backups", ListBackupsRequest())
    backup_id = backups.backup_list[0].id

    stop = calls("stop_graph", StopGraphRequest(graph_id=graph_id, action_id="stop"))
    calls.wait_job(graph_id, stop.job_id)
    start = calls(
        "start_graph",
        StartGraphRequest(
            graph_id=graph_id,
            action_id="start",
            body=StartGraphReq(graph_backup_id=backup_id),
        ),
    )
    calls.wait_job(graph_id, start.job_id)
    jobs = calls("list_jobs", ListJobsRequest(offset="0", limit="100"))
    calls("delete_backup", DeleteBackupRequest(graph_id=graph_id, backup_id=backup_id))
    deleted = calls(
        "delete_graph", DeleteGraphRequest(graph_id=graph_id, keep_backup=False)
    )
    calls.wait_job(graph_id, deleted.job_id)
    calls("delete_metadata", DeleteMetadataRequest(metadata_id=metadata.id))

    assert calls.problems == []
    assert len(calls.methods) == 23
    assert jobs.job_count >= 8
    assert backups.backup_list[0].status == "success"
