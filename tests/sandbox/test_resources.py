from __future__ import annotations

import pytest

import sandbox
from tests.conftest import sandbox_settings
from tests.ges_api import GesApi

METADATA = {
    "metadataPath": "bucket/schema.xml",
    "name": "movies_schema",
    "description": "test schema",
    "isOverwrite": False,
    "gesMetadata": {
        "labels": [
            {
                "name": "movie",
                "properties": [
                    {"name": "title", "dataType": "string", "cardinality": "single"}
                ],
            }
        ]
    },
}


def _quota(api: GesApi, kind: str) -> int:
    resources = api.get("/quotas").json()["quotas"]["resources"]
    return next(r["available"] for r in resources if r["type"] == kind)


def test_graph_quota_drops_on_create_and_returns_on_delete(api: GesApi):
    before = _quota(api, "graph")

    graph_id = api.create_running_graph("graph_quota")
    during = _quota(api, "graph")
    api.wait_job(graph_id, api.delete(f"/{graph_id}").json()["jobId"])
    after = _quota(api, "graph")

    assert during == before - 1
    assert after == before


def test_creation_beyond_graph_quota_is_rejected_and_leaves_nothing():
    with sandbox.start(sandbox_settings(graph_quota=2)) as running:
        project = running.projects[0]
        with GesApi(running.base_url, project.project_id, project.token) as api:
            api.create_graph("graph_first")
            api.create_graph("graph_second")

            response = api.post(
                json={
                    "graph": {
                        "name": "graph_third",
                        "graphSizeTypeIndex": "1",
                        "vpcId": "v",
                        "subnetId": "s",
                        "securityGroupId": "g",
                    }
                }
            )
            names = [g["name"] for g in api.get().json()["graphs"]]

    assert response.status_code == 400
    assert response.json()["errorCode"] == "GES.7018"
    assert "graph_third" not in names


def test_backup_lifecycle(api: GesApi):
    graph_id = api.create_running_graph("graph_backup")
    before = _quota(api, "backup")

    job_id = api.post(f"/{graph_id}/backups").json()["jobId"]
    job = api.wait_job(graph_id, job_id)
    backups = api.get(f"/{graph_id}/backups").json()
    backup = backups["backupList"][0]
    listed_all = api.get("/backups").json()["backupList"]
    deleted = api.delete(f"/{graph_id}/backups/{backup['id']}")
    after_delete = api.get(f"/{graph_id}/backups").json()

    assert job["status"] == "success"
    assert job["jobName"] == "BackupGraph"
    assert backups["backupCount"] == 1
    assert backup["status"] == "success"
    assert backup["graphId"] == graph_id
    assert backup["startTimestamp"] <= backup["endTimestamp"]
    assert _quota(api, "backup") == before
    assert backup["id"] in [b["id"] for b in listed_all]
    assert deleted.json() == {}
    assert after_delete["backupCount"] == 0


def test_backup_is_unreachable_through_other_graph(api: GesApi):
    first = api.create_running_graph("graph_owner")
    second = api.create_running_graph("graph_stranger")
    api.wait_job(first, api.post(f"/{first}/backups").json()["jobId"])
    backup_id = api.get(f"/{first}/backups").json()["backupList"][0]["id"]

    response = api.delete(f"/{second}/backups/{backup_id}")
    still_there = api.get(f"/{first}/backups").json()["backupCount"]

    assert response.status_code == 400
    assert response.json()["errorCode"] == "GES.7024"
    assert still_there == 1


def test_second_backup_while_backing_up_is_rejected(slow_api: GesApi):
    graph_id = slow_api.create_running_graph("graph_busy")

    first = slow_api.post(f"/{graph_id}/backups")
    second = slow_api.post(f"/{graph_id}/backups")

    assert first.status_code == 200
    assert second.json()["errorCode"] == "GES.7002"


def test_start_from_backup(api: GesApi):
    graph_id = api.create_running_graph("graph_restore")
    api.wait_job(graph_id, api.post(f"/{graph_id}/backups").json()["jobId"])
    backup_id = api.get(f"/{graph_id}/backups").json()["backupList"][0]["id"]
    api.wait_job(graph_id, api.action(graph_id, "stop").json()["jobId"])

    unknown = api.action(graph_id, "start", json={"graph_backup_id": "no-such"})
    started = api.action(graph_id, "start", json={"graph_backup_id": backup_id})

    assert unknown.json()["errorCode"] == "GES.7024"
    assert api.wait_job(graph_id, started.json()["jobId"])["status"] == "success"


def test_delete_graph_keeps_backups_only_when_asked(api: GesApi):
    kept = api.create_running_graph("graph_keep")
    dropped = api.create_running_graph("graph_drop")
    for graph_id in (kept, dropped):
        api.wait_job(graph_id, api.post(f"/{graph_id}/backups").json()["jobId"])

    api.wait_job(
        kept, api.delete(f"/{kept}", params={"keepBackup": "true"}).json()["jobId"]
    )
    api.wait_job(dropped, api.delete(f"/{dropped}").json()["jobId"])
    owners = {b["graphId"] for b in api.get("/backups").json()["backupList"]}

    assert kept in owners
    assert dropped not in owners


def test_metadata_lifecycle(api: GesApi):
    before = _quota(api, "metadata")

    created = api.post("/metadatas", json=METADATA).json()
    shown = api.get(f"/metadatas/{created['id']}").json()
    listed = api.get("/metadatas").json()
    deleted = api.delete(f"/metadatas/{created['id']}")
    gone = api.get(f"/metadatas/{created['id']}")

    assert created["name"] == "movies_schema"
    assert shown["gesMetadata"]["labels"][0]["name"] == "movie"
    assert listed["schemaCount"] == 1
    assert listed["schemaList"][0]["id"] == created["id"]
    assert deleted.json() == {}
    assert gone.status_code == 400
    assert gone.json()["errorCode"].startswith("GES.")
    assert _quota(api, "metadata") == before


@pytest.mark.parametrize("missing", ["metadataPath", "name", "gesMetadata"])
def test_metadata_missing_field_is_rejected(api: GesApi, missing):
    body = {k: v for k, v in METADATA.items() if k != missing}

    response = api.post("/metadatas", json=body)

    assert response.status_code == 400
    assert response.json()["errorCode"] == "GES.7049"


def test_check_schema_accepts_good_paths_and_rejects_failing(api: GesApi):
    good = {"schemaPath": "bucket/schema.xml", "edgesetPath": "bucket/edges.csv"}
    bad = {"schemaPath": "bucket/fail.xml", "edgesetPath": "bucket/edges.csv"}

    accepted = api.post("/action", params={"action_id": "check-schema"}, json=good)
    rejected = api.post("/action", params={"action_id": "check-schema"}, json=bad)

    assert accepted.json() == {}
    assert rejected.status_code == 400
    assert rejected.json()["errorCode"] == "GES.7010"


def test_import_failure_reports_reason_and_detail(api: GesApi):
    graph_id = api.create_running_graph("graph_import_fail")

    job_id = api.action(
        graph_id, "import-graph", json={"edgesetPath": "bucket/fail/edges.csv"}
    ).json()["jobId"]
    job = api.wait_job(graph_id, job_id)

    assert job["status"] == "failed"
    assert job["failReason"]
    assert job["jobDetail"]["edgesetPath"][0]["status"] == "failed"
    assert job["beginTime"] <= job["endTime"]
    assert api.status(graph_id) == "200"


def test_pages_partition_the_graph_list(api: GesApi):
    created = {api.create_graph(f"graph_page_{i}") for i in range(7)}

    pages = []
    for offset in range(0, 9, 3):
        body = api.get(params={"offset": offset, "limit": 3}).json()
        pages.append([g["id"] for g in body["graphs"]])
        assert body["graphCount"] == 7
    ids = [graph_id for page in pages for graph_id in page]

    assert [len(p) for p in pages] == [3, 3, 1]
    assert len(ids) == len(set(ids))
    assert set(ids) == created


@pytest.mark.parametrize(
    "params",
    [{"offset": -1}, {"limit": 0}, {"limit": 1001}, {"offset": "x"}, {"limit": "1.5"}],
)
def test_out_of_range_page_is_rejected(api: GesApi, params):
    response = api.get(params=params)

    assert response.status_code == 400
    assert response.json()["errorCode"] == "GES.0001"


def test_list_jobs_filters_by_graph_and_status(api: GesApi):
    first = api.create_running_graph("graph_jobs_one")
    api.create_running_graph("graph_jobs_two")
    api.wait_job(first, api.action(first, "stop").json()["jobId"])

    mine = api.get("/jobs", params={"graph_name": "graph_jobs_one"}).json()
    done = api.get("/jobs", params={"status": "success", "limit": 100}).json()
    waiting = api.get("/jobs", params={"status": "waiting"}).json()

    assert {j["relatedGraph"] for j in mine["jobList"]} == {"graph_jobs_one"}
    assert {j["jobName"] for j in mine["jobList"]} == {"CreateGraph", "StopGraph"}
    assert mine["jobCount"] == 2
    assert all(j["status"] == "success" for j in done["jobList"])
    assert done["jobCount"] == 3
    assert waiting["jobCount"] == 0


def test_job_is_not_reachable_through_other_graph(api: GesApi):
    first = api.create_running_graph("graph_job_owner")
    second = api.create_running_graph("graph_job_other")
    job_id = api.action(first, "stop").json()["jobId"]

    response = api.get(f"/{second}/jobs/{job_id}/status")

    assert response.json()["errorCode"] == "GES.7007"


def test_projects_are_isolated(api: GesApi, other_api: GesApi):
    graph_id = api.create_graph("graph_private")

    listed = other_api.get().json()
    shown = other_api.get(f"/{graph_id}")
    deleted = other_api.delete(f"/{graph_id}")

    assert listed["graphCount"] == 0
    assert shown.json()["errorCode"] == "GES.7000"
    assert deleted.json()["errorCode"] == "GES.7000"
    assert api.status(graph_id) in {"100", "200"}
