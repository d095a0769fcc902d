from __future__ import annotations

import json
import random
import string
import subprocess
import threading
import tracemalloc
from typing import Any

import pytest

from probes.client import RetryPolicy, Timeouts
from tests.probes.conftest import make_target, samples, scrape, value
from tests.probes.fakes import FaultyServer, Reply
from tests.prometheus_server import promtool_binary

PROJECT = "p1"
QUOTAS = f"/v1.0/{PROJECT}/graphs/quotas"
GRAPHS = f"/v1.0/{PROJECT}/graphs"
QUOTAS_BODY = {
    "quotas": {
        "resources": [
            {"type": "graph", "available": 7},
            {"type": "backup", "available": 40},
        ]
    }
}
FAST_RETRIES = RetryPolicy(
    max_attempts=3, backoff_initial_seconds=0.01, backoff_max_seconds=0.02
)


class RecordingEvent(threading.Event):
    """A stop event whose waits return at once and are recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(float(timeout or 0))
        return False


def graph(graph_id: str, name: str, status: str = "200") -> dict[str, Any]:
    return {
        "id": graph_id,
        "name": name,
        "status": status,
        "dataStoreVersion": "2.2.21",
        "graphSizeTypeIndex": "1",
        "arch": "x86_64",
        "regionCode": "cn-north-4",
        "azCode": "cn-north-4a",
        "vpcId": "v",
        "subnetId": "s",
        "securityGroupId": "g",
        "createdBy": "u",
        "replication": 1,
    }


def graphs_reply(*graphs: dict[str, Any]) -> Reply:
    return Reply(200, {"graphCount": len(graphs), "graphs": list(graphs)})


@pytest.fixture
def server() -> Any:
    with FaultyServer() as running:
        yield running


def quotas_poller(poller_factory: Any, server: FaultyServer, **fields: Any) -> Any:
    fields.setdefault("retries", FAST_RETRIES)
    target = make_target(server.url, PROJECT, collections=("quotas",), **fields)
    return poller_factory(target, stop=RecordingEvent())


def test_client_5xx_then_success_retries(
    poller_factory: Any, server: FaultyServer
) -> None:
    server.script(QUOTAS, Reply(500, {"errorCode": "GES.7006", "errorMessage": "x"}))
    server.default(QUOTAS, Reply(200, QUOTAS_BODY))
    poller = quotas_poller(poller_factory, server)

    assert poller.run_cycle() is True

    text = scrape(poller)
    assert len(server.requests_to(QUOTAS)) == 2
    assert value(text, "ges_api_retries_total", operation="listQuotas") == 1
    assert value(text, "ges_api_errors_total", error_code="GES.7006") == 1
    assert value(text, "ges_quota_available", type="graph") == 7
    durations = "ges_api_request_duration_seconds_count"
    assert value(text, durations, operation="listQuotas", status_code="500") == 1
    assert value(text, durations, operation="listQuotas", status_code="200") == 1


def test_client_5xx_every_attempt_fails_cycle(
    poller_factory: Any, server: FaultyServer
) -> None:
    server.default(QUOTAS, Reply(503, raw=b"<html>Service Unavailable</html>"))
    poller = quotas_poller(poller_factory, server)

    assert poller.run_cycle() is False

    text = scrape(poller)
    assert len(server.requests_to(QUOTAS)) == 3
    assert value(text, "ges_api_errors_total", error_code="http_503") == 3
    assert value(text, "ges_api_retries_total", operation="listQuotas") == 2
    assert value(text, "ges_probe_success") == 0
    assert value(text, "ges_probe_collection_success", collection="quotas") == 0


def test_client_429_waits_retry_after_seconds(
    poller_factory: Any, server: FaultyServer
) -> None:
    throttled = Reply(
        429,
        {"error_code": "APIGW.0308", "error_msg": "throttled"},
        headers={"Retry-After": "3"},
    )
    server.script(QUOTAS, throttled)
    server.default(QUOTAS, Reply(200, QUOTAS_BODY))
    poller = quotas_poller(poller_factory, server)

    assert poller.run_cycle() is True

    assert poller.stop.waits == [3.0]
    text = scrape(poller)
    assert value(text, "ges_api_errors_total", error_code="APIGW.0308") == 1


def test_client_429_beyond_maximum_gives_up(
    poller_factory: Any, server: FaultyServer
) -> None:
    server.default(QUOTAS, Reply(429, {}, headers={"Retry-After": "600"}))
    retries = RetryPolicy(max_attempts=3, retry_after_max_seconds=30)
    poller = quotas_poller(poller_factory, server, retries=retries)

    assert poller.run_cycle() is False

    assert poller.stop.waits == []
    assert len(server.requests_to(QUOTAS)) == 1


def test_client_read_timeout_counts_timeout(
    poller_factory: Any, server: FaultyServer
) -> None:
    server.default(QUOTAS, Reply(200, QUOTAS_BODY, delay_seconds=1.0))
    timeouts = Timeouts(connect_seconds=1.0, read_seconds=0.1)
    poller = quotas_poller(
        poller_factory, server, timeouts=timeouts, retries=RetryPolicy(max_attempts=2)
    )

    assert poller.run_cycle() is False

    text = scrape(poller)
    assert value(text, "ges_api_errors_total", error_code="timeout") == 2
    assert value(text, "ges_api_retries_total", operation="listQuotas") == 1


def test_client_refused_connection_counts_transport_error(poller_factory: Any) -> None:
    with FaultyServer() as closed:
        url = closed.url
    target = make_target(url, PROJECT, collections=("quotas",), retries=FAST_RETRIES)
    poller = poller_factory(target, stop=RecordingEvent())

    assert poller.run_cycle() is False

    text = scrape(poller)
    assert value(text, "ges_api_errors_total", error_code="transport_error") == 3


@pytest.mark.parametrize(
    ("reply", "path", "collection"),
    [
        (Reply(200, raw=b'{"quotas": {"resources": [}'), QUOTAS, "quotas"),
        (Reply(200, raw=b"[1, 2]"), QUOTAS, "quotas"),
        (Reply(200, {"quotas": {}}), QUOTAS, "quotas"),
        (Reply(200, {"graphCount": 1}), GRAPHS, "graphs"),
        (
            Reply(200, {"graphCount": 1, "graphs": [{"name": "no_id"}]}),
            GRAPHS,
            "graphs",
        ),
        (Reply(200, {"graphCount": "one", "graphs": []}), GRAPHS, "graphs"),
    ],
    ids=[
        "invalid-json",
        "not-an-object",
        "no-resources",
        "no-list",
        "no-id",
        "bad-count",
    ],
)
def test_client_malformed_response_counts_error(
    poller_factory: Any, server: FaultyServer, reply: Reply, path: str, collection: str
) -> None:
    server.default(path, reply)
    target = make_target(server.url, PROJECT, collections=(collection,))
    poller = poller_factory(target)

    assert poller.run_cycle() is False

    text = scrape(poller)
    operation = {"quotas": "listQuotas", "graphs": "listGraphs"}[collection]
    errors = value(text, "ges_api_errors_total", operation=operation,
                   error_code="malformed_response")  # fmt: skip
    assert errors == 1
    assert value(text, "ges_probe_collection_success", collection=collection) == 0


def test_probe_api_failure_keeps_last_good_values(
    poller_factory: Any, server: FaultyServer
) -> None:
    server.script(QUOTAS, Reply(200, QUOTAS_BODY))
    server.default(QUOTAS, Reply(500, {"errorCode": "GES.7006", "errorMessage": "x"}))
    poller = quotas_poller(poller_factory, server)
    assert poller.run_cycle() is True
    first_success = value(scrape(poller), "ges_probe_last_success_timestamp_seconds")

    assert poller.run_cycle() is False

    text = scrape(poller)
    assert value(text, "ges_quota_available", type="graph") == 7
    assert value(text, "ges_probe_success") == 0
    assert value(text, "ges_probe_collection_success", collection="quotas") == 0
    assert value(text, "ges_probe_last_success_timestamp_seconds") == first_success
    assert value(text, "ges_probe_data_age_seconds", collection="quotas") > 0


def test_probe_next_good_cycle_recovers(
    poller_factory: Any, server: FaultyServer
) -> None:
    server.script(QUOTAS, Reply(200, QUOTAS_BODY), *[Reply(503, {})] * 3)
    recovered = {"quotas": {"resources": [{"type": "graph", "available": 3}]}}
    server.default(QUOTAS, Reply(200, recovered))
    poller = quotas_poller(poller_factory, server)
    poller.run_cycle()
    assert poller.run_cycle() is False

    assert poller.run_cycle() is True

    text = scrape(poller)
    assert value(text, "ges_probe_success") == 1
    assert value(text, "ges_quota_available", type="graph") == 3
    assert value(text, "ges_quota_available", type="backup") is None


AWKWARD_NAMES = ['quote"d', "back\\slash", "new\nline", "图数据库", "trailing\\"]


def test_exposition_awkward_label_values_round_trip(
    poller_factory: Any, server: FaultyServer, tmp_path: Any
) -> None:
    graphs = [graph(f"id-{i}", name) for i, name in enumerate(AWKWARD_NAMES)]
    server.default(GRAPHS, graphs_reply(*graphs))
    target = make_target(server.url, PROJECT, collections=("graphs",),
                         labels={"region": 'cn "north"\n4'})  # fmt: skip
    poller = poller_factory(target)
    assert poller.run_cycle() is True

    text = scrape(poller, label_names=("region",))

    names = {labels["graph_name"] for labels, _ in samples(text, "ges_graph_info")}
    assert names == set(AWKWARD_NAMES)
    regions = {labels["region"] for labels, _ in samples(text, "ges_graph_info")}
    assert regions == {'cn "north"\n4'}
    check = subprocess.run(
        [promtool_binary(), "check", "metrics"],
        input=text.encode(),
        capture_output=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_graphs_cap_limits_series_and_reports_it(
    poller_factory: Any, server: FaultyServer
) -> None:
    graphs = [graph(f"id-{i}", f"graph_{i}") for i in range(5)]
    server.default(GRAPHS, graphs_reply(*graphs))
    target = make_target(server.url, PROJECT, collections=("graphs",),
                         max_exported_graphs=2)  # fmt: skip
    poller = poller_factory(target)

    assert poller.run_cycle() is True

    text = scrape(poller)
    exported = {labels["graph_name"] for labels, _ in samples(text, "ges_graph_info")}
    assert exported == {"graph_0", "graph_1"}
    assert value(text, "ges_probe_graphs_exported") == 2
    assert value(text, "ges_probe_graphs_omitted") == 3
    assert value(text, "ges_graph_by_status", status="200") == 5


def test_graphs_schema_violation_counted(
    poller_factory: Any, server: FaultyServer
) -> None:
    broken = graph("id-1", "graph_1")
    broken["replication"] = "one"
    server.default(GRAPHS, graphs_reply(broken))
    target = make_target(server.url, PROJECT, collections=("graphs",))
    poller = poller_factory(target)

    assert poller.run_cycle() is True

    text = scrape(poller)
    violations = value(text, "ges_api_contract_violations_total",
                       operation="listGraphs", kind="schema")  # fmt: skip
    assert violations == 1


def test_graphs_unknown_status_maps_to_unknown_state(
    poller_factory: Any, server: FaultyServer
) -> None:
    server.default(GRAPHS, graphs_reply(graph("id-1", "graph_1", status="777")))
    target = make_target(server.url, PROJECT, collections=("graphs",))
    poller = poller_factory(target)

    poller.run_cycle()

    text = scrape(poller)
    states = {labels["status"]: v for labels, v in samples(text, "ges_graph_status")}
    assert states["unknown"] == 1
    assert states["200"] == 0
    assert sum(states.values()) == 1


def test_jobs_arbitrary_names_bounded(
    poller_factory: Any, server: FaultyServer
) -> None:
    jobs = [
        {"jobId": f"job-{i}", "status": "odd", "jobType": "GraphManagement",
         "jobName": f"Name{i}", "relatedGraph": "g"}
        for i in range(150)
    ]  # fmt: skip
    server.default(f"{GRAPHS}/jobs", Reply(200, {"jobCount": 150, "jobList": jobs}))
    target = make_target(server.url, PROJECT, collections=("jobs",))
    poller = poller_factory(target)

    assert poller.run_cycle() is True

    rows = samples(scrape(poller), "ges_job_by_status")
    assert len(rows) == 101
    assert {labels["status"] for labels, _ in rows} == {"unknown"}
    assert value(scrape(poller), "ges_job_by_status", job_name="other") == 50


def test_graphs_unknown_status_counted_as_unknown(
    poller_factory: Any, server: FaultyServer
) -> None:
    server.default(GRAPHS, graphs_reply(graph("id-1", "graph_1", status="777")))
    target = make_target(server.url, PROJECT, collections=("graphs",))
    poller = poller_factory(target)

    poller.run_cycle()

    text = scrape(poller)
    assert value(text, "ges_graph_by_status", status="unknown") == 1
    assert value(text, "ges_graph_by_status", status="777") is None


def test_backups_cap_follows_exported_graphs(
    poller_factory: Any, server: FaultyServer
) -> None:
    # Ids sort in the opposite order to names, so a cap chosen by id alone
    # would pick other graphs than the graphs collection exports.
    graphs = [graph(f"id-{9 - i}", f"graph_{i}") for i in range(4)]
    server.default(GRAPHS, graphs_reply(*graphs))
    backups = [
        {"id": f"b-{g['id']}", "name": f"{g['name']}-1", "graphId": g["id"],
         "graphName": g["name"], "status": "success", "endTimestamp": 1000}
        for g in graphs
    ]  # fmt: skip
    server.default(
        f"{GRAPHS}/backups", Reply(200, {"backupCount": 4, "backupList": backups})
    )
    target = make_target(server.url, PROJECT, collections=("graphs", "backups"),
                         max_exported_graphs=2)  # fmt: skip
    poller = poller_factory(target)

    poller.run_cycle()

    text = scrape(poller)
    backed = {
        labels["graph_name"] for labels, _ in samples(text, "ges_backup_by_status")
    }
    assert backed == {"graph_0", "graph_1"}
    assert (
        value(text, "ges_backup_last_success_timestamp_seconds", graph_id="id-9") == 1
    )


def test_paging_endless_listing_stops(
    poller_factory: Any, server: FaultyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("probes.client.MAX_PAGES_PER_LISTING", 5)
    endless = {"graphCount": 10**9, "graphs": [graph("id-1", "graph_1")]}
    server.default(GRAPHS, Reply(200, endless))
    target = make_target(server.url, PROJECT, collections=("graphs",))
    poller = poller_factory(target)

    assert poller.run_cycle() is False

    assert len(server.requests_to(GRAPHS)) == 5
    errors = value(scrape(poller), "ges_api_errors_total",
                   operation="listGraphs", error_code="malformed_response")  # fmt: skip
    assert errors == 1


def random_listing(rng: random.Random, cycle: int) -> dict[str, Reply]:
    """Replies whose every label-bound field is a value never sent before."""

    def word() -> str:
        return f"c{cycle}-" + "".join(rng.choices(string.ascii_letters, k=12))

    jobs = [
        {"jobId": word(), "status": word(), "jobType": word(), "jobName": word(),
         "relatedGraph": "g", "beginTime": "2026-01-01T00:00:00"}
        for _ in range(60)
    ]  # fmt: skip
    graphs = []
    for index in range(60):
        item = graph(f"id-{cycle}-{index}", f"graph_{cycle}_{index}", word())
        item["dataStoreVersion"] = word()
        item["graphSizeTypeIndex"] = "9" * 1000
        graphs.append(item)
    quotas = [{"type": word(), "available": 1} for _ in range(20)]
    return {
        f"{GRAPHS}/jobs": Reply(200, {"jobCount": len(jobs), "jobList": jobs}),
        GRAPHS: graphs_reply(*graphs),
        QUOTAS: Reply(200, {"quotas": {"resources": quotas}}),
    }


BOUNDED_LABELS = [
    ("ges_job_by_status", "status", 6),
    ("ges_job_by_status", "job_type", 21),
    ("ges_job_by_status", "job_name", 101),
    ("ges_job_oldest_running_age_seconds", "job_name", 101),
    ("ges_quota_available", "type", 1),
    ("ges_graph_by_status", "status", 1),
    ("ges_graph_info", "version", 51),
    ("ges_graph_info", "size_type", 1),
]


def test_labels_random_values_stay_bounded(
    poller_factory: Any, server: FaultyServer
) -> None:
    rng = random.Random(7)
    target = make_target(server.url, PROJECT, max_exported_graphs=100,
                         collections=("quotas", "graphs", "jobs"))  # fmt: skip
    poller = poller_factory(target)

    for cycle in range(4):
        for path, reply in random_listing(rng, cycle).items():
            server.default(path, reply)
        assert poller.run_cycle() is True

    text = scrape(poller)
    for family, label_name, maximum in BOUNDED_LABELS:
        values = {labels[label_name] for labels, _ in samples(text, family)}
        assert len(values) <= maximum, (family, label_name, len(values))
        assert all(len(v) <= 64 for v in values), (family, label_name)
    for label_name in ("job_type", "job_name", "version"):
        capped = value(text, "ges_probe_label_values_capped_total", label=label_name)
        assert capped is not None and capped > 0, label_name


def test_paging_page_over_limit_rejected_in_bounded_memory(
    poller_factory: Any, server: FaultyServer
) -> None:
    # 100,000 graphs with only an id and a status break the document, and the
    # page is 100 times the requested limit.
    items = [{"id": str(index), "status": "200"} for index in range(100_000)]
    raw = json.dumps({"graphCount": len(items), "graphs": items}).encode()
    server.default(GRAPHS, Reply(200, raw=raw))
    target = make_target(server.url, PROJECT, collections=("graphs",),
                         page_limit=1000)  # fmt: skip
    poller = poller_factory(target)

    tracemalloc.start()
    try:
        success = poller.run_cycle()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert success is False
    errors = value(scrape(poller), "ges_api_errors_total",
                   operation="listGraphs", error_code="malformed_response")  # fmt: skip
    assert errors == 1
    assert peak < 200 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB for {len(raw)} B"


def test_client_body_over_maximum_counts_error(
    poller_factory: Any, server: FaultyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("probes.client.MAX_RESPONSE_BYTES", 1000)
    server.default(
        QUOTAS, Reply(200, raw=b" " * 5000 + json.dumps(QUOTAS_BODY).encode())
    )
    poller = quotas_poller(poller_factory, server)

    assert poller.run_cycle() is False

    errors = value(scrape(poller), "ges_api_errors_total",
                   operation="listQuotas", error_code="response_too_large")  # fmt: skip
    assert errors == 1
    assert len(server.requests_to(QUOTAS)) == 1
