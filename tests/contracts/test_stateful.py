from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import schemathesis

from contracts import ges_checks, junit, render
from contracts.lifecycle import MUTATIONS_NEEDED, StatefulOptions, run_stateful
from contracts.results import CheckResult, Finding, OperationResult, RunResult
from tests.contracts.harness import gate_schema, harness
from tests.contracts.proxy import Exchange, Request

OPTIONS = StatefulOptions(
    runs=4,
    steps=15,
    graph_budget=2,
    quota_budget=0,
    fault_injection=True,
    job_timeout=10.0,
    poll_interval=0.02,
    seed=5,
)


@pytest.fixture(scope="module")
def schema() -> schemathesis.BaseSchema:
    return gate_schema()


def test_stateful_sandbox_passes_and_cleans_up(schema: Any) -> None:
    sent: list[Request] = []
    with harness(schema) as h:
        h.proxy.request_rule = lambda request: sent.append(request)  # type: ignore[func-returns-value]
        checks = run_stateful(h.session, OPTIONS)
        graphs = h.driver.list_ids("listGraphs", "graphs")
        metadata = h.driver.list_ids("listMetadatas", "schemaList")
    actions = {request.query.get("action_id") for request in sent}

    by_name = {check.name: check for check in checks}
    assert list(by_name) == list(ges_checks.CHECKS)
    for check in checks:
        assert check.failures == 0, (check.name, [f.message for f in check.findings])
    for name in ("async_job_contract", "graph_state_machine", "use_after_delete"):
        assert by_name[name].runs > 0
    assert graphs == []
    assert metadata == []
    assert {"stop", "start", "import-graph", "bindEip"} <= actions


def test_stateful_illegal_status_reports_call_sequence(schema: Any) -> None:
    with harness(schema) as h:

        def stopped_reads_as_creating(exchange: Exchange) -> tuple[int, Any] | None:
            graph = (
                (exchange.body or {}).get("graph") if exchange.status == 200 else None
            )
            if isinstance(graph, dict) and graph.get("status") == "900":
                return 200, {**exchange.body, "graph": {**graph, "status": "100"}}
            return None

        h.proxy.reply_rule = stopped_reads_as_creating
        # A graph that reads as creating stays "transitional" until the deadline.
        checks = run_stateful(h.session, replace(OPTIONS, job_timeout=1.0))
        token = h.home.token

    check = next(c for c in checks if c.name == "graph_state_machine")
    assert check.failures > 0
    finding = check.findings[0]
    lines = finding.curl.splitlines()
    assert len(lines) > 2
    assert all(line.startswith("curl ") for line in lines)
    assert "X-Auth-Token: ***" in finding.curl
    assert token not in finding.curl


def test_stateful_read_only_sends_no_changes(schema: Any) -> None:
    sent: list[tuple[str, str]] = []
    with harness(schema) as h:

        def record(request: Request) -> None:
            sent.append((request.method, request.path))

        h.proxy.request_rule = record  # type: ignore[assignment]
        checks = run_stateful(h.session, StatefulOptions(mutations=False))

    by_name = {check.name: check for check in checks}
    changes = [(method, path) for method, path in sent if method != "GET"]
    assert changes == []
    assert by_name["pagination"].runs > 0
    assert by_name["bad_ids"].runs > 0
    assert by_name["project_isolation"].runs > 0
    assert by_name["async_job_contract"].skip_reason == MUTATIONS_NEEDED
    assert by_name["quota_accounting"].skip_reason == MUTATIONS_NEEDED


def test_stateful_without_isolation_skips_check(schema: Any) -> None:
    with harness(schema, isolation=False) as h:
        checks = run_stateful(h.session, StatefulOptions(runs=0))

    isolation = next(c for c in checks if c.name == "project_isolation")
    assert isolation.runs == 0
    assert isolation.skip_reason is not None
    assert "--isolation-project-id" in isolation.skip_reason


def test_stateful_names_resources_with_prefix(schema: Any) -> None:
    names: list[str] = []
    with harness(schema) as h:

        def record(exchange: Exchange) -> None:
            body = exchange.body
            created = exchange.request.method == "POST" and isinstance(body, dict)
            if created and isinstance(body.get("name"), str):
                names.append(body["name"])

        h.proxy.reply_rule = record  # type: ignore[assignment]
        run_stateful(h.session, StatefulOptions(runs=1, steps=5))

    assert names
    assert all(name.startswith("gesct_") for name in names)


def check_result(**values: Any) -> CheckResult:
    return CheckResult(name="pagination", description="pages partition", **values)


def test_junit_check_failure_carries_sequence() -> None:
    finding = Finding(
        check="pagination",
        title="Pages overlap",
        message="Expected one page each; received two.",
        severity="high",
        status_code=None,
        curl="curl -X GET http://127.0.0.1/a\ncurl -X GET http://127.0.0.1/b",
    )
    failed = check_result(runs=3, failures=1, findings=[finding])
    skipped = CheckResult(
        name="project_isolation", description="isolated", skip_reason="no project"
    )
    result = RunResult(operations=[], seed=1, checks=[failed, skipped])

    suite = junit.build_report(result, ()).getroot()
    cases = {case.get("name"): case for case in suite.findall("testcase")}

    assert suite.get("tests") == "2"
    assert suite.get("failures") == "1"
    assert suite.get("skipped") == "1"
    assert cases["pagination"].get("classname") == junit.CHECKS_CLASSNAME
    failure = cases["pagination"].find("failure")
    assert failure is not None
    assert "curl -X GET http://127.0.0.1/b" in (failure.text or "")
    skip = cases["project_isolation"].find("skipped")
    assert skip is not None
    assert skip.get("message") == "no project"


def test_render_checks_summary_lists_counts() -> None:
    result = RunResult(operations=[], seed=1, checks=[check_result(runs=4, failures=0)])

    text = render.checks_summary(result)

    assert "pagination" in text
    assert "PASS" in text
    assert " 4 " in f" {text} "


def test_junit_suite_counts_match_testcases() -> None:
    finding = Finding("not_a_server_error", "Server error", "boom", "high", 500, "curl")
    broken = OperationResult("showGraph", "graphs", "GET", "/g", cases=3, ran=True)
    broken.findings.append(finding)
    broken.errors.append("request failed: ConnectionError")
    result = RunResult(
        operations=[
            broken,
            OperationResult("listJobs", "jobs", "GET", "/j", cases=2, ran=True),
            OperationResult("listGraphs", "graphs", "GET", "/l"),
        ],
        seed=1,
        checks=[CheckResult("bad_ids", "ids", runs=2, failures=1, findings=[finding])],
        stateful_errors=["showGraph failed: ReadTimeout"],
    )

    suite = junit.build_report(result, ()).getroot()
    testcases = suite.findall("testcase")

    def having(tag: str) -> str:
        return str(sum(1 for case in testcases if case.find(tag) is not None))

    assert suite.get("tests") == str(len(testcases)) == "5"
    assert suite.get("failures") == having("failure") == "2"
    assert suite.get("errors") == having("error") == "2"
    assert suite.get("skipped") == having("skipped") == "1"


def test_stateful_findings_counted_apart_from_cases(schema: Any) -> None:
    with harness(schema) as h:

        def bad_graph_count(exchange: Exchange) -> tuple[int, Any] | None:
            body = exchange.body
            if exchange.status == 200 and isinstance(body, dict) and "graphs" in body:
                return 200, {**body, "graphCount": "many"}
            return None

        h.proxy.reply_rule = bad_graph_count
        run_stateful(h.session, replace(OPTIONS, runs=0, mutations=False))
        operation = next(
            op for op in h.session._results.values() if op.operation_id == "listGraphs"
        )

    assert operation.findings
    finding = operation.findings[0]
    assert finding.stateful_occurrences > 0
    assert finding.occurrences <= operation.failed_cases
    assert "stateful-phase responses" in finding.count
