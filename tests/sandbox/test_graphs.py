from __future__ import annotations

import itertools

import pytest

import openapi
from tests.ges_api import GesApi


def test_created_graph_passes_preparing_before_running(api: GesApi):
    graph_id = api.create_graph("graph_prepare")

    seen = api.wait_status(graph_id, {"200"})

    assert seen[0] == "100"
    assert seen[-1] == "200"


def test_preparing_graph_reports_action_progress(slow_api: GesApi):
    graph_id = slow_api.create_graph("graph_progress")

    graph = slow_api.get(f"/{graph_id}").json()["graph"]

    assert graph["status"] == "100"
    assert 0 <= int(graph["actionProgress"]) < 100


def test_creation_answers_id_and_name_without_job(api: GesApi):
    graph = {
        "name": "graph_answer",
        "graphSizeTypeIndex": "0",
        "vpcId": "v",
        "subnetId": "s",
        "securityGroupId": "g",
    }

    body = api.post(json={"graph": graph}).json()

    assert set(body) == {"id", "name"}
    assert body["name"] == "graph_answer"


def test_creation_from_failing_obs_path_ends_creation_failed(api: GesApi):
    source = {
        "type": "OBS",
        "parameters": {
            "schemaPath": "bucket/fail/schema.xml",
            "edgesetPath": "b/e.csv",
        },
    }
    graph_id = api.create_graph("graph_broken", dataSource=source)

    seen = api.wait_status(graph_id, {"200", "303"})

    assert seen[-1] == "303"


def _transitions(seen: list[str]) -> list[tuple[str, str]]:
    return list(itertools.pairwise(seen))


@pytest.mark.parametrize(
    ("action", "body", "transitional"),
    [
        ("import-graph", {"edgesetPath": "bucket/edges.csv"}, "202"),
        (
            "export-graph",
            {
                "graphExportPath": "bucket/out",
                "edgeSetName": "e",
                "vertexSetName": "v",
                "schemaName": "s",
            },
            "204",
        ),
        ("clear-graph", None, "205"),
        ("upgrade", {"upgradeVersion": "9.0.0"}, "201"),
    ],
)
def test_action_moves_through_its_transitional_status(
    slow_api, action, body, transitional
):
    graph_id = slow_api.create_running_graph("graph_actions")

    response = slow_api.action(graph_id, action, json=body)
    status_after = slow_api.status(graph_id)
    job = slow_api.wait_job(graph_id, response.json()["jobId"])

    assert response.status_code == 200, response.text
    assert status_after == transitional
    assert job["status"] == "success"
    assert slow_api.status(graph_id) == "200"


def test_stop_then_start_follows_status_table(api: GesApi):
    table = openapi.graph_status_transitions()
    graph_id = api.create_running_graph("graph_stop_start")

    stop = api.action(graph_id, "stop").json()["jobId"]
    stopping = api.wait_status(graph_id, {"900"})
    api.wait_job(graph_id, stop)
    start = api.action(graph_id, "start").json()["jobId"]
    starting = api.wait_status(graph_id, {"200"})
    api.wait_job(graph_id, start)

    seen = ["200", *stopping, *starting]
    assert "901" in stopping
    assert "920" in starting
    for before, after in _transitions(seen):
        if before != after:
            assert after in table[before], f"{before} -> {after} is not in the table"


def test_failed_upgrade_rolls_back(api: GesApi):
    graph_id = api.create_running_graph("graph_rollback")

    job_id = api.action(graph_id, "upgrade", json={"upgradeVersion": "3.0.99"}).json()[
        "jobId"
    ]
    job = api.wait_job(graph_id, job_id)
    seen = api.wait_status(graph_id, {"200"})
    version = api.get(f"/{graph_id}").json()["graph"]["dataStoreVersion"]

    assert job["status"] == "failed"
    assert job["failReason"]
    assert "203" in seen or seen == ["200"]
    assert version != "3.0.99"


def test_upgrade_to_older_version_is_rejected(api: GesApi):
    graph_id = api.create_running_graph("graph_old_version")

    response = api.action(graph_id, "upgrade", json={"upgradeVersion": "1.0.0"})

    assert response.status_code == 400
    assert response.json()["errorCode"] == "GES.7036"


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("stop", None),
        ("import-graph", {"edgesetPath": "bucket/edges.csv"}),
        ("clear-graph", None),
        ("bindEip", {"eipId": "eip-1"}),
    ],
)
def test_action_on_stopped_graph_is_rejected_with_documented_code(api, action, body):
    operation = openapi.resolve("POST", f"{api.prefix}/x/action", {"action_id": action})
    graph_id = api.create_running_graph("graph_stopped")
    api.wait_job(graph_id, api.action(graph_id, "stop").json()["jobId"])
    api.wait_status(graph_id, {"900"})

    response = api.action(graph_id, action, json=body)

    assert response.status_code == 400
    assert response.json()["errorCode"] in operation.wrong_status_errors


def test_start_on_running_graph_is_rejected(api: GesApi):
    graph_id = api.create_running_graph("graph_running")

    response = api.action(graph_id, "start")

    assert response.status_code == 400
    assert response.json()["errorCode"] == "GES.7037"


def test_action_on_preparing_graph_is_rejected(slow_api: GesApi):
    graph_id = slow_api.create_graph("graph_young")

    response = slow_api.action(graph_id, "stop")

    assert response.status_code == 400
    assert response.json()["errorCode"] == "GES.7042"


@pytest.mark.parametrize("action_id", ["reboot", "", "STOP"])
def test_unknown_action_is_rejected_with_7048(api: GesApi, action_id):
    graph_id = api.create_running_graph("graph_unknown_action")

    response = api.action(graph_id, action_id)

    assert response.status_code == 400
    assert response.json()["errorCode"] == "GES.7048"


def test_missing_action_id_is_rejected(api: GesApi):
    graph_id = api.create_running_graph("graph_no_action")

    response = api.post(f"/{graph_id}/action")

    assert response.status_code == 400
    assert response.json()["errorCode"] == "GES.7049"


def test_bind_then_unbind_eip(api: GesApi):
    graph_id = api.create_running_graph("graph_eip")

    bound = api.action(graph_id, "bindEip", json={"eipId": "eip-7"})
    public_ip = api.get(f"/{graph_id}").json()["graph"].get("publicIp")
    again = api.action(graph_id, "bindEip", json={"eipId": "eip-8"})
    unbound = api.action(graph_id, "unbindEip", json={"eipId": "eip-7"})
    twice = api.action(graph_id, "unbindEip", json={"eipId": "eip-7"})

    assert bound.json() == {}
    assert public_ip
    assert again.json()["errorCode"] == "GES.7038"
    assert unbound.json() == {}
    assert twice.json()["errorCode"] == "GES.7039"


def test_deleted_graph_is_gone_everywhere(api: GesApi):
    graph_id = api.create_running_graph("graph_delete")

    job_id = api.delete(f"/{graph_id}").json()["jobId"]
    job = api.wait_job(graph_id, job_id)
    shown = api.get(f"/{graph_id}")
    listed = [g["id"] for g in api.get(params={"limit": 100}).json()["graphs"]]
    acted = api.action(graph_id, "stop")

    assert job["status"] == "success"
    assert shown.json()["errorCode"] == "GES.7000"
    assert graph_id not in listed
    assert acted.json()["errorCode"] == "GES.7000"


def test_duplicate_graph_name_is_rejected(api: GesApi):
    api.create_graph("graph_twin")

    response = api.post(
        json={
            "graph": {
                "name": "graph_twin",
                "graphSizeTypeIndex": "1",
                "vpcId": "v",
                "subnetId": "s",
                "securityGroupId": "g",
            }
        }
    )

    assert response.json()["errorCode"] == "GES.7013"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("name", "9starts_with_digit", "GES.7012"),
        ("name", "abc", "GES.7012"),
        ("graphSizeTypeIndex", "7", "GES.7023"),
        ("arch", "sparc", "GES.7052"),
        ("vpcId", 12, "GES.7016"),
    ],
)
def test_invalid_graph_field_gets_its_code(api: GesApi, field, value, code):
    graph = {
        "name": "graph_fields",
        "graphSizeTypeIndex": "1",
        "vpcId": "v",
        "subnetId": "s",
        "securityGroupId": "g",
        field: value,
    }

    response = api.post(json={"graph": graph})

    assert response.status_code == 400
    assert response.json()["errorCode"] == code


def test_missing_graph_field_gets_7049(api: GesApi):
    response = api.post(json={"graph": {"name": "graph_missing"}})

    assert response.status_code == 400
    assert response.json()["errorCode"] == "GES.7049"


@pytest.mark.parametrize(
    "graph_id",
    ["00000000-0000-0000-0000-000000000000", "x" * 65, "gr\u00e4ph", "%00"],
)
def test_bad_graph_ids_are_rejected_with_ges_error(api: GesApi, graph_id):
    response = api.get(f"/{graph_id}")

    assert 400 <= response.status_code < 500
    assert response.json()["errorCode"].startswith("GES.")


@pytest.mark.parametrize(
    "tag", [{"value": "ep-1"}, {"key": "_sys_enterprise_project_id"}]
)
def test_incomplete_sys_tag_is_rejected(api: GesApi, tag):
    graph = {
        "name": "graph_tags",
        "graphSizeTypeIndex": "1",
        "vpcId": "v",
        "subnetId": "s",
        "securityGroupId": "g",
        "sys_tags": [tag],
    }

    response = api.post(json={"graph": graph})

    assert response.status_code == 400
    assert response.json()["errorCode"] == "GES.7049"
