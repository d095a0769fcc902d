from __future__ import annotations

import json
import logging
import math
import time
from typing import Any

import httpx
import pytest

import sandbox
from probes.auth import IamCredentials, TokenSource
from probes.config import Auth
from probes.workload import Workload
from tests.conftest import ACCESS_KEY, SECRET_KEY
from tests.ges_api import GesApi
from tests.probes.conftest import make_target, samples, scrape, value
from tests.probes.fakes import FaultyServer, iam_stand_in, iam_token_reply


def sandbox_target(running: sandbox.RunningSandbox, **fields: Any) -> Any:
    project = running.projects[0]
    return make_target(running.base_url, project.project_id, project.token, **fields)


def graph_names(text: str) -> set[str]:
    return {labels["graph_name"] for labels, _ in samples(text, "ges_graph_info")}


def test_graphs_deleted_graph_leaves_metrics(
    poller_factory: Any, fresh_sandbox: sandbox.RunningSandbox, api: GesApi
) -> None:
    kept = api.create_running_graph("graph_kept")
    doomed = api.create_running_graph("graph_doomed")
    poller = poller_factory(sandbox_target(fresh_sandbox))
    assert poller.run_cycle() is True
    assert graph_names(scrape(poller)) == {"graph_kept", "graph_doomed"}

    job_id = api.delete(f"/{doomed}").json()["jobId"]
    api.wait_job(doomed, job_id)
    assert poller.run_cycle() is True

    text = scrape(poller)
    assert graph_names(text) == {"graph_kept"}
    status_ids = {labels["graph_id"] for labels, _ in samples(text, "ges_graph_status")}
    assert status_ids == {kept}
    assert value(text, "ges_graph_status", graph_id=kept, status="200") == 1


def test_jobs_finished_job_observed_once_across_cycles(
    poller_factory: Any, fresh_sandbox: sandbox.RunningSandbox, api: GesApi
) -> None:
    graph_id = api.create_running_graph("graph_jobs")
    job_id = api.action(graph_id, "stop").json()["jobId"]
    api.wait_job(graph_id, job_id)
    poller = poller_factory(sandbox_target(fresh_sandbox))

    for _ in range(3):
        assert poller.run_cycle() is True

    text = scrape(poller)
    observed = samples(text, "ges_job_duration_seconds_count")
    assert sum(v for _, v in observed) == 2
    assert value(text, "ges_job_duration_seconds_count", job_name="StopGraph") == 1

    job_id = api.action(graph_id, "start").json()["jobId"]
    api.wait_job(graph_id, job_id)
    poller.run_cycle()
    poller.run_cycle()

    text = scrape(poller)
    assert value(text, "ges_job_duration_seconds_count", job_name="StartGraph") == 1
    assert value(text, "ges_job_duration_seconds_count", job_name="StopGraph") == 1


def test_jobs_failed_job_counted_once(
    poller_factory: Any, fresh_sandbox: sandbox.RunningSandbox, api: GesApi
) -> None:
    graph_id = api.create_running_graph("graph_failing")
    body = {"edgesetPath": "bucket/fail/edges.csv"}
    job_id = api.action(graph_id, "import-graph", json=body).json()["jobId"]
    assert api.wait_job(graph_id, job_id)["status"] == "failed"
    poller = poller_factory(sandbox_target(fresh_sandbox))

    poller.run_cycle()
    poller.run_cycle()

    text = scrape(poller)
    assert value(text, "ges_job_failed_total", job_name="ImportGraph") == 1
    failed = value(text, "ges_job_duration_seconds_count",
                   job_name="ImportGraph", outcome="failed")  # fmt: skip
    assert failed == 1
    assert (
        value(text, "ges_job_by_status", job_name="ImportGraph", status="failed") == 1
    )


def test_jobs_running_job_reports_oldest_age(
    poller_factory: Any, fresh_sandbox: sandbox.RunningSandbox, api: GesApi
) -> None:
    graph_id = api.create_running_graph("graph_slow")
    api.action(graph_id, "import-graph", json={"edgesetPath": "bucket/slow/e.csv"})
    poller = poller_factory(sandbox_target(fresh_sandbox))

    poller.run_cycle()

    text = scrape(poller)
    unfinished = sum(
        v
        for labels, v in samples(text, "ges_job_by_status")
        if labels["status"] in ("pending", "running")
    )
    assert unfinished == 1
    ages = samples(text, "ges_job_oldest_running_age_seconds")
    assert len(ages) == 1
    labels, age = ages[0]
    assert (labels["job_type"], labels["job_name"]) == (
        "GraphManagement",
        "ImportGraph",
    )
    assert age >= 0


def test_backups_report_last_success_per_graph(
    poller_factory: Any, fresh_sandbox: sandbox.RunningSandbox, api: GesApi
) -> None:
    good = api.create_running_graph("graph_backed")
    bad = api.create_running_graph("graph_fail_backup")
    for graph_id in (good, bad):
        job_id = api.post(f"/{graph_id}/backups").json()["jobId"]
        api.wait_job(graph_id, job_id)
    poller = poller_factory(sandbox_target(fresh_sandbox))

    assert poller.run_cycle() is True

    text = scrape(poller)
    assert value(text, "ges_backup_by_status", graph_id=good, status="success") == 1
    assert value(text, "ges_backup_by_status", graph_id=bad, status="failed") == 1
    assert value(text, "ges_backup_last_success_timestamp_seconds", graph_id=good) > 0
    assert (
        value(text, "ges_backup_last_success_timestamp_seconds", graph_id=bad) is None
    )


def test_backups_deleted_backup_leaves_metrics(
    poller_factory: Any, fresh_sandbox: sandbox.RunningSandbox, api: GesApi
) -> None:
    graph_id = api.create_running_graph("graph_backup_gone")
    job_id = api.post(f"/{graph_id}/backups").json()["jobId"]
    api.wait_job(graph_id, job_id)
    poller = poller_factory(sandbox_target(fresh_sandbox))
    poller.run_cycle()
    assert value(scrape(poller), "ges_backup_by_status", graph_id=graph_id) == 1

    backup_id = api.get(f"/{graph_id}/backups").json()["backupList"][0]["id"]
    assert api.delete(f"/{graph_id}/backups/{backup_id}").status_code == 200
    poller.run_cycle()

    text = scrape(poller)
    assert value(text, "ges_backup_by_status", graph_id=graph_id) is None
    assert (
        value(text, "ges_backup_last_success_timestamp_seconds", graph_id=graph_id)
        is None
    )


def test_orphans_gate_prefixed_graph_counted(
    poller_factory: Any, fresh_sandbox: sandbox.RunningSandbox, api: GesApi
) -> None:
    api.create_running_graph("gesct_run1_graph")
    api.create_running_graph("graph_regular")
    target = sandbox_target(fresh_sandbox, orphan_min_age_seconds=0.001)
    poller = poller_factory(target)

    poller.run_cycle()

    assert value(scrape(poller), "ges_graph_orphans") == 1


def test_orphans_gate_prefixed_metadata_counted(
    poller_factory: Any, fresh_sandbox: sandbox.RunningSandbox, api: GesApi
) -> None:
    for name in ("gesct_run1_schema", "regular_schema"):
        metadata = {"metadataPath": "bucket/metadata", "name": name,
                    "description": "", "isOverwrite": False,
                    "gesMetadata": {"labels": [{"name": "movie", "properties": []}]}}  # fmt: skip
        assert api.post("/metadatas", json=metadata).status_code == 200
    target = sandbox_target(fresh_sandbox, collections=("metadata",),
                            orphan_min_age_seconds=0.001)  # fmt: skip
    poller = poller_factory(target)

    assert poller.run_cycle() is True

    assert value(scrape(poller), "ges_metadata_orphans") == 1


def test_orphans_young_gate_graph_not_counted(
    poller_factory: Any, fresh_sandbox: sandbox.RunningSandbox, api: GesApi
) -> None:
    api.create_running_graph("gesct_run2_graph")
    poller = poller_factory(sandbox_target(fresh_sandbox))

    poller.run_cycle()

    assert value(scrape(poller), "ges_graph_orphans") == 0


def test_paging_uses_minimum_requests(
    poller_factory: Any, fresh_sandbox: sandbox.RunningSandbox, api: GesApi
) -> None:
    for index in range(5):
        api.create_graph(f"graph_page_{index}")
    target = sandbox_target(fresh_sandbox, page_limit=2, collections=("graphs",))
    poller = poller_factory(target)

    assert poller.run_cycle() is True

    text = scrape(poller)
    requests = value(text, "ges_api_request_duration_seconds_count",
                     operation="listGraphs", status_code="200")  # fmt: skip
    assert requests == math.ceil(5 / 2)
    assert len(graph_names(text)) == 5


def test_auth_ak_sk_signed_requests_accepted(
    poller_factory: Any, fresh_sandbox: sandbox.RunningSandbox
) -> None:
    project = fresh_sandbox.projects[0]
    auth = Auth(access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    target = make_target(fresh_sandbox.base_url, project.project_id, auth=auth)
    poller = poller_factory(target)

    assert poller.run_cycle() is True

    text = scrape(poller)
    assert value(text, "ges_quota_available", type="graph") is not None


def test_auth_wrong_token_fails_with_401(
    poller_factory: Any, fresh_sandbox: sandbox.RunningSandbox
) -> None:
    project = fresh_sandbox.projects[0]
    target = make_target(fresh_sandbox.base_url, project.project_id, "wrong-token")
    poller = poller_factory(target)

    assert poller.run_cycle() is False

    text = scrape(poller)
    codes = {
        labels["error_code"] for labels, v in samples(text, "ges_api_errors_total") if v
    }
    assert all(code.startswith("APIGW.") for code in codes), codes
    assert codes
    assert "wrong-token" not in text


def iam_credentials(url: str, project_id: str, renew_before: float) -> IamCredentials:
    return IamCredentials(
        url=url,
        user_name="probe",
        password="iam-password",
        domain_name="example",
        project_id=project_id,
        renew_before_seconds=renew_before,
    )


def test_iam_token_renewed_before_expiry() -> None:
    clock = [time.time()]
    with iam_stand_in("token-1", lifetime_seconds=3600) as iam, httpx.Client() as http:
        credentials = iam_credentials(iam.url, "p1", renew_before=600)
        source = TokenSource(credentials, http, clock=lambda: clock[0])
        source.token()
        expiry = source.expires_at

        clock[0] = expiry - 601
        source.token()
        issued_before_margin = source.issued
        clock[0] = expiry - 599
        source.token()

        assert issued_before_margin == 1
        assert source.issued == 2
        requests = iam.requests_to("/v3/auth/tokens")
        assert len(requests) == 2
        scope = json.loads(requests[1].body)["auth"]["scope"]
        assert scope == {"project": {"id": "p1"}}


def test_iam_token_authenticates_probe(
    poller_factory: Any, fresh_sandbox: sandbox.RunningSandbox
) -> None:
    project = fresh_sandbox.projects[0]
    with iam_stand_in(project.token, lifetime_seconds=3600) as iam:
        credentials = iam_credentials(iam.url, project.project_id, renew_before=60)
        target = make_target(fresh_sandbox.base_url, project.project_id,
                             auth=Auth(iam=credentials))  # fmt: skip
        poller = poller_factory(target)

        assert poller.run_cycle() is True
        assert poller.run_cycle() is True

        assert len(iam.requests_to("/v3/auth/tokens")) == 1


def test_iam_rejected_token_renewed_once(
    poller_factory: Any, fresh_sandbox: sandbox.RunningSandbox
) -> None:
    project = fresh_sandbox.projects[0]
    with FaultyServer() as iam:
        iam.script("/v3/auth/tokens", iam_token_reply("revoked-token", 3600))
        iam.default("/v3/auth/tokens", iam_token_reply(project.token, 3600))
        credentials = iam_credentials(iam.url, project.project_id, renew_before=60)
        target = make_target(fresh_sandbox.base_url, project.project_id,
                             auth=Auth(iam=credentials), collections=("quotas",))  # fmt: skip
        poller = poller_factory(target)

        assert poller.run_cycle() is True

        assert len(iam.requests_to("/v3/auth/tokens")) == 2


def test_workload_log_names_operations(
    fresh_sandbox: sandbox.RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    project = fresh_sandbox.projects[0]
    workload = Workload(fresh_sandbox.base_url, project.project_id, project.token)
    caplog.set_level(logging.DEBUG, logger="probes.workload")

    try:
        for _ in range(3):
            workload.step()
    finally:
        workload.close()

    operations = [
        record.fields["operation"]  # type: ignore[attr-defined]
        for record in caplog.records
        if record.getMessage() == "workload request"
    ]
    assert "listGraphs" in operations
    assert "createGraph" in operations
    assert "unknown" not in operations
