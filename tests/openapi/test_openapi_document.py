from __future__ import annotations

import copy
from typing import Any

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

import openapi
from tests.openapi.spec_walk import (
    all_examples,
    follow,
    json_media,
    media_examples,
    node_at,
    operation_pointers,
    parameter_pointers,
    response_pointer,
    spec,
    validator_at,
)

EXPECTED_TAGS = {
    "listQuotas": "system",
    "checkSchema": "system",
    "listGraphs": "graphs",
    "showGraph": "graphs",
    "createGraph": "graphs",
    "stopGraph": "graphs",
    "startGraph": "graphs",
    "deleteGraph": "graphs",
    "importGraph": "graphs",
    "exportGraph": "graphs",
    "clearGraph": "graphs",
    "upgradeGraph": "graphs",
    "bindEip": "graphs",
    "unbindEip": "graphs",
    "listBackups": "backups",
    "listGraphBackups": "backups",
    "createBackup": "backups",
    "deleteBackup": "backups",
    "listMetadatas": "metadata",
    "showMetadata": "metadata",
    "createMetadata": "metadata",
    "deleteMetadata": "metadata",
    "showJob": "jobs",
    "listJobs": "jobs",
}
ACTIONS = {
    "checkSchema": ("/v1.0/{project_id}/graphs/action", "check-schema"),
    "stopGraph": ("/v1.0/{project_id}/graphs/{graph_id}/action", "stop"),
    "startGraph": ("/v1.0/{project_id}/graphs/{graph_id}/action", "start"),
    "importGraph": ("/v1.0/{project_id}/graphs/{graph_id}/action", "import-graph"),
    "exportGraph": ("/v1.0/{project_id}/graphs/{graph_id}/action", "export-graph"),
    "clearGraph": ("/v1.0/{project_id}/graphs/{graph_id}/action", "clear-graph"),
    "upgradeGraph": ("/v1.0/{project_id}/graphs/{graph_id}/action", "upgrade"),
    "bindEip": ("/v1.0/{project_id}/graphs/{graph_id}/action", "bindEip"),
    "unbindEip": ("/v1.0/{project_id}/graphs/{graph_id}/action", "unbindEip"),
}
ASYNC = {
    "stopGraph",
    "startGraph",
    "deleteGraph",
    "importGraph",
    "exportGraph",
    "clearGraph",
    "upgradeGraph",
    "createBackup",
}
NOT_RUNNING = ("GES.7001", "GES.7002", "GES.7003", "GES.7015", "GES.7042")
ALL_STATUSES = [
    "100",
    "200",
    "201",
    "202",
    "203",
    "204",
    "205",
    "206",
    "207",
    "208",
    "210",
    "211",
    "300",
    "303",
    "400",
    "800",
    "900",
    "901",
    "903",
    "920",
]
STATUS_RULES = {
    "stopGraph": (("200",), ("GES.7001", "GES.7003", "GES.7015", "GES.7042")),
    "startGraph": (("900",), ("GES.7037", "GES.7042")),
    "importGraph": (("200",), NOT_RUNNING),
    "exportGraph": (("200",), NOT_RUNNING),
    "clearGraph": (("200",), NOT_RUNNING),
    "upgradeGraph": (("200",), NOT_RUNNING),
    "bindEip": (("200",), NOT_RUNNING),
    "unbindEip": (("200",), NOT_RUNNING),
    "createBackup": (("200",), NOT_RUNNING),
    "deleteGraph": (tuple(s for s in ALL_STATUSES if s != "400"), ("GES.7054",)),
}
EMPTY_SUCCESS = {
    "checkSchema",
    "bindEip",
    "unbindEip",
    "deleteBackup",
    "deleteMetadata",
}
ERROR_STATUSES = ("400", "401", "403", "404", "408", "429", "500", "503")
GES_ERROR = {"errorCode": "GES.7000", "errorMessage": "The graph does not exist."}
GATEWAY_ERROR = {"error_code": "APIGW.0301", "error_msg": "Incorrect IAM information"}
# Which envelope each error status must accept: (GES, gateway).
ENVELOPES = {
    "400": (True, True),
    "401": (False, True),
    "403": (True, True),
    "404": (False, True),
    "408": (True, False),
    "429": (False, True),
    "500": (True, True),
    "503": (True, True),
}


def _success_schema(operation_pointer: str) -> str:
    return f"{json_media(response_pointer(operation_pointer, '200'))}/schema"


def _success_example(operation_pointer: str) -> Any:
    media = json_media(response_pointer(operation_pointer, "200"))
    return next(media_examples(media))[1]


OPERATIONS = {op_id: (item, op) for op_id, item, op in operation_pointers()}
EXAMPLES = list(all_examples())


def test_document_passes_openapi_spec_validator() -> None:
    document, base_uri = read_from_filename(str(openapi.SPEC_PATH))

    validate(document, base_uri=base_uri)

    assert document["openapi"].startswith("3.1.")


def test_operations_match_expected_ids_and_tags() -> None:
    tags = {op_id: node_at(op)["tags"] for op_id, (_, op) in OPERATIONS.items()}

    assert set(tags) == set(EXPECTED_TAGS)
    for op_id, expected in EXPECTED_TAGS.items():
        assert tags[op_id] == [expected], op_id


@pytest.mark.parametrize(("label", "schema_pointer", "value"), EXAMPLES)
def test_example_matches_its_schema(
    label: str, schema_pointer: str, value: Any
) -> None:
    errors = [
        error.message for error in validator_at(schema_pointer).iter_errors(value)
    ]

    assert errors == [], label


@pytest.mark.parametrize("operation_id", sorted(EXPECTED_TAGS))
def test_operation_has_request_and_response_examples(operation_id: str) -> None:
    item, operation = OPERATIONS[operation_id]
    node = node_at(operation)

    for parameter in parameter_pointers(item, operation):
        assert "example" in node_at(parameter), parameter
    if "requestBody" in node:
        media = json_media(follow(f"{operation}/requestBody"))
        assert list(media_examples(media)), operation_id
    assert _success_example(operation) is not None


@pytest.mark.parametrize("operation_id", sorted(EXPECTED_TAGS))
@pytest.mark.parametrize("status", ERROR_STATUSES)
def test_error_response_accepts_documented_envelopes(
    operation_id: str, status: str
) -> None:
    _, operation = OPERATIONS[operation_id]
    validator = validator_at(
        f"{json_media(response_pointer(operation, status))}/schema"
    )
    accepts_ges, accepts_gateway = ENVELOPES[status]

    assert validator.is_valid(GES_ERROR) is accepts_ges
    assert validator.is_valid(GATEWAY_ERROR) is accepts_gateway
    assert not validator.is_valid({"errCode": "GES.0001", "externalMessage": "x"})


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"errorCode": "GES.7000", "errorMessage": "x"}, True),
        ({"errorCode": "GES.700", "errorMessage": "x"}, False),
        ({"errorCode": "APIGW.0301", "errorMessage": "x"}, False),
        ({"errorCode": "GES.7000"}, False),
        ({"error_code": "APIGW.0101", "error_msg": "x", "request_id": "r1"}, True),
        ({"error_code": "APIG.0308", "error_msg": "x"}, True),
        ({"error_code": "GES.7000", "error_msg": "x"}, False),
        ({"error_code": "APIGW.0101"}, False),
    ],
)
def test_error_envelope_schemas_check_code_format(
    body: dict[str, str], valid: bool
) -> None:
    pointer = "/components/responses/BadRequest/content/application~1json/schema"

    assert validator_at(pointer).is_valid(body) is valid


@pytest.mark.parametrize("operation_id", sorted(EXPECTED_TAGS))
def test_success_schema_allows_envelope_fields(operation_id: str) -> None:
    _, operation = OPERATIONS[operation_id]
    validator = validator_at(_success_schema(operation))
    body = copy.deepcopy(_success_example(operation))

    body.update(errorCode="", errorMessage="")
    assert validator.is_valid(body)
    body["errorCode"] = 7000
    assert not validator.is_valid(body)


@pytest.mark.parametrize("operation_id", sorted(EMPTY_SUCCESS))
def test_empty_success_accepts_empty_object(operation_id: str) -> None:
    _, operation = OPERATIONS[operation_id]

    assert validator_at(_success_schema(operation)).is_valid({})


@pytest.mark.parametrize(
    "operation_id",
    sorted(op for op in OPERATIONS if "requestBody" in node_at(OPERATIONS[op][1])),
)
def test_request_body_rejects_unknown_field(operation_id: str) -> None:
    _, operation = OPERATIONS[operation_id]
    media = json_media(follow(f"{operation}/requestBody"))
    validator = validator_at(f"{media}/schema")
    body = copy.deepcopy(next(media_examples(media))[1])

    assert validator.is_valid(body)
    body["undocumentedField"] = "x"
    assert not validator.is_valid(body)


@pytest.mark.parametrize("operation_id", sorted(EXPECTED_TAGS))
def test_action_extensions_match_wire_path(operation_id: str) -> None:
    item, operation = OPERATIONS[operation_id]
    node = node_at(operation)
    if operation_id not in ACTIONS:
        assert "x-ges-action" not in node
        assert "x-ges-wire-path" not in node
        return
    wire_path, action = ACTIONS[operation_id]
    action_ids = [
        node_at(p)
        for p in parameter_pointers(item, operation)
        if node_at(p)["name"] == "action_id"
    ]

    assert node["x-ges-wire-path"] == wire_path
    assert node["x-ges-action"] == action
    assert item.endswith(f"~1{action}")
    assert len(action_ids) == 1
    assert action_ids[0]["in"] == "query"
    assert action_ids[0]["required"] is True
    assert action_ids[0]["schema"]["enum"] == [action]


@pytest.mark.parametrize("operation_id", sorted(EXPECTED_TAGS))
def test_async_operations_are_marked(operation_id: str) -> None:
    _, operation = OPERATIONS[operation_id]
    success = node_at(follow(_success_schema(operation)))
    is_async = node_at(operation).get("x-ges-async", False)

    assert is_async is (operation_id in ASYNC)
    assert ("jobId" in success.get("required", [])) is (operation_id in ASYNC)


@pytest.mark.parametrize("operation_id", sorted(STATUS_RULES))
def test_graph_actions_declare_status_rules(operation_id: str) -> None:
    node = node_at(OPERATIONS[operation_id][1])
    allowed, errors = STATUS_RULES[operation_id]

    assert tuple(node["x-ges-allowed-statuses"]) == allowed
    assert tuple(node["x-ges-wrong-status-errors"]) == errors


def test_graph_status_transitions_stay_within_enum() -> None:
    graph_status = spec()["components"]["schemas"]["GraphStatus"]
    statuses = set(graph_status["enum"])
    transitions = graph_status["x-ges-transitions"]

    assert statuses == set(ALL_STATUSES)
    assert set(transitions) == statuses
    for source, targets in transitions.items():
        assert set(targets) <= statuses, source
        assert source not in targets, source
    assert set(graph_status["x-ges-transitional"]) <= statuses
    assert transitions["400"] == []


def test_security_and_servers_follow_the_service() -> None:
    document = spec()
    schemes = document["components"]["securitySchemes"]
    region = document["servers"][0]["variables"]["region"]

    assert document["security"] == [{"token": []}, {"aksk": []}]
    assert schemes["token"] == schemes["token"] | {
        "type": "apiKey",
        "in": "header",
        "name": "X-Auth-Token",
    }
    assert schemes["aksk"]["name"] == "Authorization"
    assert "SDK-HMAC-SHA256" in schemes["aksk"]["description"]
    assert "X-Sdk-Date" in schemes["aksk"]["description"]
    assert document["servers"][0]["url"] == "https://ges.{region}.myhuaweicloud.com"
    assert region["default"] == "cn-north-4"
    assert region["default"] in region["enum"]
