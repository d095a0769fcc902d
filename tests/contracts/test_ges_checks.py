from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis

import openapi
from contracts import ges_checks
from contracts.ges_checks import Reply
from contracts.lifecycle import probes
from tests.contracts.harness import Harness, gate_schema, harness
from tests.contracts.proxy import Exchange, Request

GRAPH_PATH = re.compile(r"/v1\.0/[^/]+/graphs/([^/]+)")


@pytest.fixture(scope="module")
def schema() -> schemathesis.BaseSchema:
    return gate_schema()


def new_graph(h: Harness) -> Any:
    graph = h.lifecycle.create_graph(h.lifecycle.examples.name("graph"))
    assert graph is not None
    assert graph.status == "200"
    return graph


# -- breakages: each installs proxy rules that break one behaviour ----------------


def drop_stop_job_id(h: Harness) -> None:
    def rule(exchange: Exchange) -> tuple[int, Any] | None:
        if exchange.request.query.get("action_id") == "stop":
            return 200, {}
        return None

    h.proxy.reply_rule = rule


def stopped_reads_as_creation_failed(h: Harness) -> None:
    def rule(exchange: Exchange) -> tuple[int, Any] | None:
        graph = (exchange.body or {}).get("graph") if exchange.status == 200 else None
        if isinstance(graph, dict) and graph.get("status") == "900":
            return 200, {**exchange.body, "graph": {**graph, "status": "303"}}
        return None

    h.proxy.reply_rule = rule


def accept_start_when_running(h: Harness) -> None:
    def rule(exchange: Exchange) -> tuple[int, Any] | None:
        if exchange.request.query.get("action_id") == "start":
            return 200, {"jobId": uuid.uuid4().hex}
        return None

    h.proxy.reply_rule = rule


def ignore_offset_of_metadata(h: Harness) -> None:
    def rule(request: Request) -> Request | None:
        if request.method == "GET" and request.path.endswith("/metadatas"):
            query = {k: v for k, v in request.query.items() if k != "offset"}
            return Request(request.method, request.path, query, request.token)
        return None

    h.proxy.request_rule = rule


def show_deleted_metadata(h: Harness) -> None:
    def rule(exchange: Exchange) -> tuple[int, Any] | None:
        request = exchange.request
        shows = request.method == "GET" and "/metadatas/" in request.path
        if shows and exchange.status == 400:
            return 200, {"gesMetadata": {"labels": []}}
        return None

    h.proxy.reply_rule = rule


def ignore_project_of_path(h: Harness) -> None:
    home, other = h.home, h.other

    def rule(request: Request) -> Request | None:
        if other.project_id in request.path:
            path = request.path.replace(other.project_id, home.project_id)
            return Request(request.method, path, request.query, home.token)
        if request.token == other.token:
            return Request(request.method, request.path, request.query, home.token)
        return None

    h.proxy.request_rule = rule


def list_owner_backups_everywhere(h: Harness) -> None:
    def rule(request: Request) -> Request | None:
        owner = getattr(h.proxy, "owner", None)
        match = GRAPH_PATH.match(request.path)
        if (
            owner
            and match
            and request.method == "GET"
            and request.path.endswith("/backups")
            and match.group(1) != owner
        ):
            return Request(
                request.method,
                request.path.replace(match.group(1), owner),
                request.query,
                request.token,
            )
        return None

    h.proxy.request_rule = rule


def leak_stack_traces(h: Harness) -> None:
    def rule(exchange: Exchange) -> tuple[int, Any] | None:
        body = exchange.body
        if exchange.status >= 400 and isinstance(body, dict) and "errorCode" in body:
            trace = ' Traceback (most recent call last): File "/srv/ges/app.py", line 7'
            return exchange.status, {
                **body,
                "errorMessage": body["errorMessage"] + trace,
            }
        return None

    h.proxy.reply_rule = rule


def fail_on_long_ids(h: Harness) -> None:
    def rule(exchange: Exchange) -> tuple[int, Any] | None:
        if any(len(part) > 64 for part in exchange.request.path.split("/")):
            return 500, {"errorCode": "GES.7006", "errorMessage": "Internal error."}
        return None

    h.proxy.reply_rule = rule


def freeze_graph_quota(h: Harness) -> None:
    def rule(exchange: Exchange) -> tuple[int, Any] | None:
        if exchange.request.path.endswith("/quotas") and exchange.status == 200:
            resources = [
                {**entry, "available": 7} if entry.get("type") == "graph" else entry
                for entry in exchange.body["quotas"]["resources"]
            ]
            return 200, {"quotas": {"resources": resources}}
        return None

    h.proxy.reply_rule = rule


def misname_quota_error(h: Harness) -> None:
    def rule(exchange: Exchange) -> tuple[int, Any] | None:
        body = exchange.body
        if isinstance(body, dict) and body.get("errorCode") == "GES.7018":
            return 400, {"errorCode": "GES.7016", "errorMessage": "Bad request."}
        return None

    h.proxy.reply_rule = rule


def unwrap_error_bodies(h: Harness) -> None:
    def rule(exchange: Exchange) -> tuple[int, Any] | None:
        if exchange.status >= 400:
            return exchange.status, {"message": "something went wrong"}
        return None

    h.proxy.reply_rule = rule


# -- scenarios: the requests that exercise one check ------------------------------


def stop_a_graph(h: Harness) -> None:
    h.lifecycle.act(new_graph(h), "stopGraph")


def start_a_running_graph(h: Harness) -> None:
    h.lifecycle.act(new_graph(h), "startGraph")


def walk_metadata_pages(h: Harness) -> None:
    for _ in range(3):
        assert h.lifecycle.create_metadata(h.lifecycle.examples.name("md"))
    probes.probe_pagination(h.driver, probes.Fixture())


def delete_a_metadata_record(h: Harness) -> None:
    metadata_id = h.lifecycle.create_metadata(h.lifecycle.examples.name("md"))
    assert metadata_id is not None
    h.lifecycle.delete_metadata(metadata_id, verify=True)


def read_from_the_other_project(h: Harness) -> None:
    fixture = probes.build_fixture(h.lifecycle, 1)
    probes.probe_isolation(h.driver, fixture, h.other_project, mutations=True)


def reach_backup_through_other_graph(h: Harness) -> None:
    fixture = probes.build_fixture(h.lifecycle, 2)
    assert fixture.graph is not None
    assert fixture.backup_id is not None
    h.proxy.owner = fixture.graph.graph_id  # type: ignore[attr-defined]
    probes.probe_hierarchy(h.driver, fixture)


def show_an_unknown_graph(h: Harness) -> None:
    reply = h.driver.call("showGraph", {"graph_id": str(uuid.uuid4())})
    assert reply.status_code >= 400


def send_bad_ids(h: Harness) -> None:
    probes.probe_bad_ids(h.driver, probes.Fixture(), mutations=True)


def create_around_quota(h: Harness) -> None:
    probes.probe_quota(h.lifecycle, graph_budget=0, skip=lambda reason: None)


def fill_the_quota(h: Harness) -> None:
    probes.probe_quota(h.lifecycle, graph_budget=5, skip=lambda reason: None)


@dataclass(frozen=True)
class Scenario:
    check: str
    breakage: Callable[[Harness], None]
    run: Callable[[Harness], None]
    settings: tuple[tuple[str, Any], ...] = ()


SCENARIOS = {
    "async_job_contract": Scenario(
        "async_job_contract", drop_stop_job_id, stop_a_graph
    ),
    "graph_state_machine-transition": Scenario(
        "graph_state_machine", stopped_reads_as_creation_failed, stop_a_graph
    ),
    "graph_state_machine-wrong-status": Scenario(
        "graph_state_machine", accept_start_when_running, start_a_running_graph
    ),
    "pagination": Scenario(
        "pagination", ignore_offset_of_metadata, walk_metadata_pages
    ),
    "use_after_delete": Scenario(
        "use_after_delete", show_deleted_metadata, delete_a_metadata_record
    ),
    "project_isolation": Scenario(
        "project_isolation", ignore_project_of_path, read_from_the_other_project
    ),
    "resource_hierarchy": Scenario(
        "resource_hierarchy",
        list_owner_backups_everywhere,
        reach_backup_through_other_graph,
    ),
    "no_leftovers_no_leakage": Scenario(
        "no_leftovers_no_leakage", leak_stack_traces, show_an_unknown_graph
    ),
    "bad_ids": Scenario("bad_ids", fail_on_long_ids, send_bad_ids),
    "quota_accounting-count": Scenario(
        "quota_accounting", freeze_graph_quota, create_around_quota
    ),
    "quota_accounting-beyond": Scenario(
        "quota_accounting",
        misname_quota_error,
        fill_the_quota,
        (("graph_quota", 3),),
    ),
    "error_envelope": Scenario(
        "error_envelope", unwrap_error_bodies, show_an_unknown_graph
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_check_broken_server_fails(name: str, schema: Any) -> None:
    scenario = SCENARIOS[name]
    with harness(schema, **dict(scenario.settings)) as h:
        scenario.breakage(h)
        scenario.run(h)

        result = h.book.results[scenario.check]

    assert result.runs > 0
    assert result.failures > 0
    assert result.findings or scenario.check == "error_envelope"


@pytest.mark.parametrize("name", SCENARIOS)
def test_check_sandbox_passes(name: str, schema: Any) -> None:
    scenario = SCENARIOS[name]
    with harness(schema, **dict(scenario.settings)) as h:
        scenario.run(h)

        result = h.book.results[scenario.check]

    assert result.runs > 0
    assert result.failures == 0, [f.message for f in result.findings]


def test_quota_fill_sandbox_rejects_beyond_quota(schema: Any) -> None:
    with harness(schema, graph_quota=3) as h:
        fill_the_quota(h)
        codes = [
            reply
            for reply in h.driver.sequence().splitlines()
            if reply.startswith("curl -X POST")
        ]
        listed = h.driver.list_ids("listGraphs", "graphs")

    assert len(codes) == 4
    assert listed == []


# -- the pure rules, on hand-made observations ------------------------------------

TRANSITIONS = openapi.graph_status_transitions()
TRANSITIONAL = openapi.transitional_statuses()


@pytest.mark.parametrize(
    ("statuses", "legal"),
    [
        (("100", "200"), True),
        (("200", "901", "900"), True),
        # 901 (stopping) is transitional, so a poll may miss it.
        (("200", "900"), True),
        (("200", "201", "203", "200"), True),
        (("200", "303"), False),
        # 920 (starting) is transitional too.
        (("900", "200"), True),
        (("900", "901"), False),
        (("400", "200"), False),
        (("200", "999"), False),
    ],
)
def test_status_trace_legality_follows_table(
    statuses: tuple[str, ...], legal: bool
) -> None:
    trace = ges_checks.StatusTrace("g1", statuses)

    problems = ges_checks.graph_statuses_follow_table(trace, TRANSITIONS, TRANSITIONAL)

    assert (problems == []) is legal


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ('Traceback (most recent call last):\n  File "x.py", line 3', "a stack trace"),
        ("at com.huawei.ges.Api.call(Api.java:42)", "a stack trace"),
        ("cannot open /usr/lib/ges/conf.yaml", "a file path"),
        ("upstream 10.0.3.17:8080 refused", "an internal address"),
        ("upstream 192.168.1.4 refused", "an internal address"),
    ],
)
def test_leaked_details_finds_internals(text: str, kind: str) -> None:
    assert kind in [found for found, _ in ges_checks.leaked_details(text)]


def test_leaked_details_clean_message_finds_nothing() -> None:
    assert (
        ges_checks.leaked_details("The graph does not exist. Graph ID: 4c9e2a7d.") == []
    )


def test_refused_create_leftover_fails() -> None:
    reply = Reply("POST /graphs", 400, {"errorCode": "GES.7012", "errorMessage": "x"})

    problems = ges_checks.refusals_leave_no_trace(
        ges_checks.RefusedCreate("a create", reply, ("g-left",))
    )

    assert [p.title for p in problems] == ["Rejected create left a resource behind"]


@pytest.mark.parametrize(
    ("final", "title"),
    [
        (
            {"status": "failed", "beginTime": "2024-05-01T08:00:00"},
            "Failed job has no failReason",
        ),
        (
            {
                "status": "success",
                "beginTime": "2024-05-01T08:10:00",
                "endTime": "2024-05-01 08:00:00",
            },
            "Job ended before it began",
        ),
        ({"status": "running"}, "Job reported no terminal status"),
    ],
)
def test_async_job_bad_final_record_fails(final: dict[str, Any], title: str) -> None:
    accepted = Reply("POST /action", 200, {"jobId": "j1"})
    observation = ges_checks.JobObservation("stopGraph", accepted, final=final)

    problems = ges_checks.async_jobs_complete(observation)

    assert [p.title for p in problems] == [title]
