from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core.failures import Failure, FailureGroup

import openapi
from contracts.checks import CHECKS, envelope_problem
from tests.contracts.servers import FixedReplyApp, Reply, serve

GES_ERROR = {"errorCode": "GES.7000", "errorMessage": "The graph does not exist."}
GATEWAY_ERROR = {"error_code": "APIGW.0301", "error_msg": "Incorrect IAM token."}
QUOTAS = {"quotas": {"resources": [{"type": "graph", "available": 3}]}}


@pytest.fixture(scope="module")
def schema() -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_path(str(openapi.SPEC_PATH))


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FixedReplyApp, str]]:
    app = FixedReplyApp()
    with serve(app) as base_url:
        yield app, base_url


def check_failures(name: str, case: Any, response: Any) -> list[Failure]:
    try:
        case.validate_response(response, checks=[CHECKS[name]])
    except FailureGroup as group:
        return list(group.exceptions)
    return []


def quotas_failures(
    name: str,
    reply: Reply,
    schema: schemathesis.BaseSchema,
    server: tuple[FixedReplyApp, str],
) -> list[Failure]:
    app, base_url = server
    app.reply = reply
    operation = schema.find_operation_by_id("listQuotas")
    case = operation.Case(path_parameters={"project_id": "p1"})
    response = case.call(base_url=base_url)
    return check_failures(name, case, response)


# check, a reply that breaks it, a reply that keeps it (both to listQuotas)
CHECK_TABLE = [
    ("not_a_server_error", Reply(500, body=GES_ERROR), Reply(200, body=QUOTAS)),
    ("status_code_conformance", Reply(418, body=GES_ERROR), Reply(400, body=GES_ERROR)),
    (
        "content_type_conformance",
        Reply(200, "text/plain", b"fine"),
        Reply(200, body=QUOTAS),
    ),
    (
        "response_schema_conformance",
        Reply(200, body={"quotas": "none"}),
        Reply(200, body=QUOTAS),
    ),
    ("error_envelope", Reply(400, body={"message": "bad"}), Reply(400, body=GES_ERROR)),
]


@pytest.mark.parametrize(
    ("name", "broken", "good"), CHECK_TABLE, ids=[c[0] for c in CHECK_TABLE]
)
def test_check_broken_response_fails(
    name: str, broken: Reply, good: Reply, schema: Any, server: Any
) -> None:
    failures = quotas_failures(name, broken, schema, server)

    assert len(failures) == 1


@pytest.mark.parametrize(
    ("name", "broken", "good"), CHECK_TABLE, ids=[c[0] for c in CHECK_TABLE]
)
def test_check_good_response_passes(
    name: str, broken: Reply, good: Reply, schema: Any, server: Any
) -> None:
    assert quotas_failures(name, good, schema, server) == []


def negative_failures(reply: Reply, schema: Any, server: Any) -> list[Failure]:
    app, base_url = server
    app.reply = reply
    operation = schema.find_operation_by_id("listGraphs")
    found: list[Failure] = []

    @settings(max_examples=10, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    def send(case: Any) -> None:
        response = case.call(base_url=base_url)
        found.extend(check_failures("negative_data_rejection", case, response))

    send()
    return found


def test_negative_data_rejection_accepted_fails(schema: Any, server: Any) -> None:
    failures = negative_failures(
        Reply(200, body={"graphCount": 0, "graphs": []}), schema, server
    )

    assert failures
    assert all(type(f).__name__ == "AcceptedNegativeData" for f in failures)


def test_negative_data_rejection_rejected_passes(schema: Any, server: Any) -> None:
    assert negative_failures(Reply(400, body=GES_ERROR), schema, server) == []


def test_error_envelope_gateway_envelope_passes(schema: Any, server: Any) -> None:
    reply = Reply(401, body=GATEWAY_ERROR)

    assert quotas_failures("error_envelope", reply, schema, server) == []


def test_error_envelope_non_json_body_fails(schema: Any, server: Any) -> None:
    reply = Reply(404, "text/plain", b"Not Found")

    failures = quotas_failures("error_envelope", reply, schema, server)

    assert [f.message for f in failures] == ["HTTP 404: the body is not JSON"]


def test_error_envelope_success_ignored(schema: Any, server: Any) -> None:
    reply = Reply(200, body={"no": "envelope"})

    assert quotas_failures("error_envelope", reply, schema, server) == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (GES_ERROR, None),
        (GATEWAY_ERROR, None),
        ({**GATEWAY_ERROR, "request_id": "r1"}, None),
        ([], "expected a JSON object, got list"),
        ({"errorCode": "GES.70", "errorMessage": "x"}, "`errorCode` must match"),
        ({"errorCode": "APIGW.0301", "errorMessage": "x"}, "`errorCode` must match"),
        ({"errorCode": "GES.7000"}, "`errorMessage` must be a string"),
        ({"error_code": "APIGW.0301", "error_msg": 3}, "`error_msg` must be a string"),
        ({"error_code": "GES.7000", "error_msg": "x"}, "`error_code` must match"),
        ({"errCode": "GES.0001"}, "expected `errorCode`/`errorMessage` (GES)"),
    ],
)
def test_envelope_problem_table(body: Any, problem: str | None) -> None:
    found = envelope_problem(body)

    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith(problem)


def test_checks_registry_names_match_functions() -> None:
    assert list(CHECKS) == [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "error_envelope",
    ]
    assert all(function.__name__ == name for name, function in CHECKS.items())
