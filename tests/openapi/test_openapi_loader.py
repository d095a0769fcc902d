from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

import openapi
from tests.openapi.spec_walk import node_at

SAMPLE_VALUES = {
    "project_id": "p0123456789abcdef",
    "graph_id": "g-4c9e2a7d",
    "backup_id": "b-7e1d3c5b",
    "metadata_id": "m-6f8a0c2e",
    "job_id": "j-9f1e2d3c",
}
GRAPH_BODY = {
    "id": "g1",
    "name": "movies_demo",
    "createdBy": "demo_user",
    "regionCode": "cn-north-4",
    "azCode": "cn-north-4a",
    "dataStoreVersion": "2.3.6",
    "status": "200",
    "graphSizeTypeIndex": "1",
    "vpcId": "v1",
    "subnetId": "s1",
    "securityGroupId": "sg1",
    "replication": 1,
}


def _deref_response(response: dict[str, Any]) -> dict[str, Any]:
    return node_at(response["$ref"][1:]) if "$ref" in response else response


def _concrete(template: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE_VALUES[m.group(1)], template)


def test_spec_path_points_at_yaml_beside_module() -> None:
    assert openapi.SPEC_PATH.name == "ges-management-v1.yaml"
    assert openapi.SPEC_PATH.parent.name == "openapi"
    assert openapi.SPEC_PATH.is_file()


def test_load_spec_returns_independent_copies() -> None:
    first = openapi.load_spec()
    first["paths"].clear()

    assert openapi.load_spec()["paths"]
    assert len(openapi.operations()) == 24


def test_operation_is_frozen() -> None:
    operation = openapi.operations()["stopGraph"]

    with pytest.raises(dataclasses.FrozenInstanceError):
        operation.method = "GET"  # type: ignore[misc]


def test_operations_carry_extensions() -> None:
    index = openapi.operations()
    stop, listing, delete = (
        index["stopGraph"],
        index["listGraphs"],
        index["deleteGraph"],
    )

    assert stop.method == "POST"
    assert stop.path == "/v1.0/{project_id}/graphs/{graph_id}/action/stop"
    assert stop.wire_path == "/v1.0/{project_id}/graphs/{graph_id}/action"
    assert stop.action == "stop"
    assert stop.tag == "graphs"
    assert stop.is_async is True
    assert stop.allowed_statuses == ("200",)
    assert stop.wrong_status_errors == ("GES.7001", "GES.7003", "GES.7015", "GES.7042")
    assert listing.wire_path == listing.path
    assert listing.action is None
    assert listing.is_async is False
    assert listing.allowed_statuses is None
    assert listing.wrong_status_errors == ()
    assert delete.allowed_statuses is not None
    assert "400" not in delete.allowed_statuses


@pytest.mark.parametrize("operation_id", sorted(openapi.operations()))
def test_resolve_concrete_request_finds_operation(operation_id: str) -> None:
    operation = openapi.operations()[operation_id]
    query = {} if operation.action is None else {"action_id": operation.action}

    resolved = openapi.resolve(
        operation.method.lower(), _concrete(operation.wire_path), query
    )

    assert resolved == operation


@pytest.mark.parametrize(
    "operation_id",
    sorted(op.operation_id for op in openapi.operations().values() if op.action),
)
def test_resolve_pseudo_path_returns_none(operation_id: str) -> None:
    operation = openapi.operations()[operation_id]
    pseudo_path = _concrete(operation.path)

    assert (
        openapi.resolve(operation.method, pseudo_path, {"action_id": operation.action})
        is None
    )
    assert openapi.resolve(operation.method, pseudo_path) is None


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/v1.0/p1/graphs/quotas", None, "listQuotas"),
        ("GET", "/v1.0/p1/graphs/backups", None, "listBackups"),
        ("GET", "/v1.0/p1/graphs/metadatas", None, "listMetadatas"),
        ("GET", "/v1.0/p1/graphs/jobs", None, "listJobs"),
        (
            "POST",
            "/v1.0/p1/graphs/action",
            {"action_id": "check-schema"},
            "checkSchema",
        ),
        ("GET", "/v1.0/p1/graphs/quota", None, "showGraph"),
        ("GET", "/v1.0/p1/graphs/metadatas/backups", None, "showMetadata"),
        ("DELETE", "/v1.0/p1/graphs/metadatas/m1", None, "deleteMetadata"),
        ("GET", "/v1.0/p1/graphs/g1/backups", None, "listGraphBackups"),
        ("POST", "/v1.0/p1/graphs/action/backups", None, "createBackup"),
        ("POST", "/v1.0/p1/graphs", None, "createGraph"),
        ("POST", "/v1.0/p1/graphs/metadatas", None, "createMetadata"),
        ("GET", "/v1.0/p1/graphs/jobs/j1/status", None, None),
        ("GET", "/v1.0/p1/graphs/g1/jobs/j1/status", None, "showJob"),
    ],
)
def test_resolve_prefers_literal_segments(
    method: str, path: str, query: dict[str, str] | None, expected: str | None
) -> None:
    resolved = openapi.resolve(method, path, query)

    assert (resolved.operation_id if resolved else None) == expected


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("POST", "/v1.0/p1/graphs/g1/action", None),
        ("POST", "/v1.0/p1/graphs/g1/action", {"action_id": "restart"}),
        ("POST", "/v1.0/p1/graphs/g1/action", {"action_id": "check-schema"}),
        ("POST", "/v1.0/p1/graphs/action", {"action_id": "stop"}),
        ("POST", "/v1.0/p1/graphs/action", {}),
        ("PUT", "/v1.0/p1/graphs/g1", None),
        ("GET", "/v1.0/p1/graphs/g1/unknown", None),
        ("GET", "/v1.0//graphs", None),
        ("GET", "/v2/p1/graphs", None),
    ],
)
def test_resolve_unknown_request_returns_none(
    method: str, path: str, query: dict[str, str] | None
) -> None:
    assert openapi.resolve(method, path, query) is None


@pytest.mark.parametrize(
    "query",
    [{"action_id": ["upgrade"]}, "action_id=upgrade&x=1", "?action_id=upgrade"],
)
def test_resolve_accepts_lists_and_query_strings(query: Any) -> None:
    resolved = openapi.resolve("POST", "/v1.0/p1/graphs/g1/action", query)

    assert resolved is not None
    assert resolved.operation_id == "upgradeGraph"


@pytest.mark.parametrize(
    ("operation_id", "status_code", "body"),
    [
        ("showGraph", 200, {"graph": GRAPH_BODY}),
        ("showGraph", 200, {"graph": GRAPH_BODY | {"futureField": {"a": 1}}}),
        ("listGraphs", 200, {"graphCount": 1, "graphs": [GRAPH_BODY], "errorCode": ""}),
        ("stopGraph", 200, {"jobId": "j1"}),
        ("deleteBackup", 200, {}),
        ("listMetadatas", 200, {"metadataCount": 0, "metadataList": []}),
        ("showGraph", 400, {"errorCode": "GES.7000", "errorMessage": "missing"}),
        ("showGraph", 401, {"error_code": "APIGW.0301", "error_msg": "bad token"}),
        ("listJobs", 429, {"error_code": "APIGW.0308", "error_msg": "throttled"}),
    ],
)
def test_validate_response_accepts_valid_body(
    operation_id: str, status_code: int, body: Any
) -> None:
    assert openapi.validate_response(operation_id, status_code, body) == []


@pytest.mark.parametrize(
    ("operation_id", "status_code", "body", "path", "fragment"),
    [
        (
            "showGraph",
            200,
            {"graph": GRAPH_BODY | {"replication": "1"}},
            "$.graph.replication",
            "is not of type 'integer'",
        ),
        (
            "showGraph",
            200,
            {"graph": {k: v for k, v in GRAPH_BODY.items() if k != "id"}},
            "$.graph",
            "'id' is a required property",
        ),
        (
            "showGraph",
            200,
            {"graph": GRAPH_BODY | {"status": "999"}},
            "$.graph.status",
            "is not one of",
        ),
        (
            "listGraphs",
            200,
            {"graphCount": 1, "graphs": [GRAPH_BODY | {"id": 5}]},
            "$.graphs[0].id",
            "is not of type 'string'",
        ),
        ("stopGraph", 200, {}, "$", "'jobId' is a required property"),
        ("showGraph", 400, {"error_code": "GES.7000"}, "$", "is not valid under any"),
        (
            "showGraph",
            401,
            {"errorCode": "GES.0001", "errorMessage": "x"},
            "$",
            "'error_code' is a required property",
        ),
    ],
)
def test_validate_response_reports_broken_body(
    operation_id: str, status_code: int, body: Any, path: str, fragment: str
) -> None:
    violations = openapi.validate_response(operation_id, status_code, body)

    assert violations
    assert all(v.kind == "schema" for v in violations)
    assert any(v.path == path and fragment in v.message for v in violations), violations


def test_validate_response_reports_undocumented_status() -> None:
    violations = openapi.validate_response("showGraph", 201, {"graph": GRAPH_BODY})

    assert len(violations) == 1
    assert violations[0].kind == "undocumented_status"
    assert "201" in violations[0].message


def test_validate_response_rejects_unknown_operation() -> None:
    with pytest.raises(KeyError, match="noSuchOperation"):
        openapi.validate_response("noSuchOperation", 200, {})


def test_graph_status_tables_come_from_extensions() -> None:
    transitions = openapi.graph_status_transitions()
    transitional = openapi.transitional_statuses()

    assert transitions["400"] == frozenset()
    assert transitions["900"] == frozenset({"400", "800", "920"})
    assert "200" in transitions["100"]
    assert "920" in transitional
    assert "200" not in transitional
    assert "900" not in transitional
    assert transitional <= set(transitions)


@pytest.mark.parametrize("operation_id", sorted(openapi.operations()))
def test_validate_response_accepts_document_examples(operation_id: str) -> None:
    operation = openapi.operations()[operation_id]
    item = openapi.load_spec()["paths"][operation.path][operation.method.lower()]
    success = _deref_response(item["responses"]["200"])
    example = success["content"]["application/json"]["example"]
    unauthorized = {"error_code": "APIGW.0301", "error_msg": "bad token"}

    assert openapi.validate_response(operation_id, 200, example) == []
    assert openapi.validate_response(operation_id, 401, unauthorized) == []
    assert openapi.validate_response(operation_id, 200, [example]) != []


def test_validate_response_caps_violations_and_messages():
    huge_page = {"graphCount": 1, "graphs": [{"id": "x" * 5000}] * 5000}

    violations = openapi.validate_response("listGraphs", 200, huge_page)

    assert len(violations) == openapi.MAX_VIOLATIONS
    assert all(len(v.message) <= openapi.MAX_MESSAGE_LENGTH for v in violations)
