"""Every response the sandbox sends, success or error, matches the document."""

from __future__ import annotations

from collections import Counter

import httpx

import openapi
from tests.ges_api import GesApi
from tests.sandbox.test_resources import METADATA


class Recorder:
    """An httpx response hook validating each response against the spec."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, int]] = Counter()
        self.violations: list[str] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        operation = openapi.resolve(
            request.method, request.url.path, dict(request.url.params)
        )
        if operation is None:
            return
        self.seen[(operation.operation_id, response.status_code)] += 1
        for violation in openapi.validate_response(
            operation.operation_id, response.status_code, response.json()
        ):
            self.violations.append(
                f"{operation.operation_id} {response.status_code}: {violation}"
            )


def _drive_every_operation(api: GesApi) -> None:
    metadata_id = api.post("/metadatas", json=METADATA).json()["id"]
    api.get("/metadatas")
    api.get(f"/metadatas/{metadata_id}")
    api.get("/quotas")
    api.post(
        "/action",
        params={"action_id": "check-schema"},
        json={"schemaPath": "b/s.xml", "edgesetPath": "b/e.csv"},
    )
    graph_id = api.create_running_graph("graph_conformance")
    api.get()
    for action, body in [
        (
            "import-graph",
            {"edgesetPath": "b/edges.csv", "parallelEdge": {"action": "allow"}},
        ),
        (
            "export-graph",
            {
                "graphExportPath": "b/out",
                "edgeSetName": "e",
                "vertexSetName": "v",
                "schemaName": "s",
            },
        ),
        ("clear-graph", None),
        ("upgrade", {"upgradeVersion": "2.3.0"}),
    ]:
        api.wait_job(graph_id, api.action(graph_id, action, json=body).json()["jobId"])
    api.action(graph_id, "bindEip", json={"eipId": "eip-1"})
    api.get(f"/{graph_id}")
    api.action(graph_id, "unbindEip", json={"eipId": "eip-1"})
    api.wait_job(graph_id, api.post(f"/{graph_id}/backups").json()["jobId"])
    backup_id = api.get(f"/{graph_id}/backups").json()["backupList"][0]["id"]
    api.get("/backups")
    api.wait_job(graph_id, api.action(graph_id, "stop").json()["jobId"])
    start = api.action(graph_id, "start", json={"graph_backup_id": backup_id})
    api.wait_job(graph_id, start.json()["jobId"])
    api.get("/jobs", params={"status": "success"})
    api.delete(f"/{graph_id}/backups/{backup_id}")
    api.wait_job(graph_id, api.delete(f"/{graph_id}").json()["jobId"])
    api.delete(f"/metadatas/{metadata_id}")


def _drive_errors(api: GesApi) -> None:
    unknown = "00000000-0000-0000-0000-000000000000"
    api.get(f"/{unknown}")
    api.delete(f"/{unknown}")
    api.action(unknown, "stop")
    api.action(unknown, "bindEip", json={"eipId": "e"})
    api.get(f"/{unknown}/backups")
    api.post(f"/{unknown}/backups")
    api.delete(f"/{unknown}/backups/{unknown}")
    api.get(f"/{unknown}/jobs/{unknown}/status")
    api.get(f"/metadatas/{unknown}")
    api.delete(f"/metadatas/{unknown}")
    api.post("/metadatas", json={"name": "x"})
    api.post(json={"graph": {}})
    api.get(params={"limit": 0})
    api.get("/jobs", params={"status": "sleeping"})
    api.post("/action", params={"action_id": "check-schema"}, json={})


def test_every_sandbox_response_matches_the_spec(fresh_sandbox):
    recorder = Recorder()
    project = fresh_sandbox.projects[0]
    api = GesApi(fresh_sandbox.base_url, project.project_id, project.token)
    api.http.event_hooks["response"] = [recorder]

    with api:
        _drive_every_operation(api)
        _drive_errors(api)

    succeeded = {op for op, status in recorder.seen if status == 200}
    failed = {op for op, status in recorder.seen if status >= 400}
    assert recorder.violations == []
    assert succeeded == set(openapi.operations())
    assert len(failed) >= 12


def test_gateway_errors_match_the_spec(fresh_sandbox):
    project = fresh_sandbox.projects[0]
    url = f"{fresh_sandbox.base_url}/v1.0/{project.project_id}/graphs"

    response = httpx.get(url, headers={"X-Auth-Token": "wrong"})
    violations = openapi.validate_response("listGraphs", 401, response.json())

    assert response.status_code == 401
    assert violations == []
