from __future__ import annotations

from typing import Any

import pytest

import openapi
from probes.runner import check_response

JOB = {
    "jobId": "a" * 32,
    "status": "success",
    "jobType": "GraphManagement",
    "jobName": "StopGraph",
    "relatedGraph": "graph_1",
    "beginTime": "2026-01-01T00:00:00",
    "endTime": "2026-01-01T00:00:01",
    "jobProgress": 0.0,
}
CASES = [
    ("listJobs", 200, {"jobCount": 1, "jobList": [JOB]}),
    ("listJobs", 200, {"jobCount": "1", "jobList": [JOB]}),
    ("listJobs", 200, {"jobCount": 1, "jobList": [{**JOB, "status": "lost"}]}),
    ("listJobs", 200, {"jobCount": 1, "jobList": [{"status": "success"}]}),
    ("listQuotas", 200, {"quotas": {"resources": [{"type": "graph", "available": 1}]}}),
    ("listQuotas", 200, {"quotas": {"resources": [{"type": "graph"}]}}),
    ("listGraphs", 400, {"errorCode": "GES.7006", "errorMessage": "internal"}),
    ("listGraphs", 400, {"errorCode": 7006}),
    ("listGraphs", 418, {}),
    ("listBackups", 200, {"backupCount": 0, "backupList": []}),
]


@pytest.mark.parametrize(("operation", "status", "body"), CASES)
def test_check_response_matches_loader(operation: str, status: int, body: Any) -> None:
    expected = openapi.validate_response(operation, status, body)

    assert check_response(operation, status, body) == expected
    assert openapi.is_valid_response(operation, status, body) is (not expected)
