from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest

import sandbox
from contracts.cleanup import BACKUP, GRAPH, METADATA, ResourceRegistry
from contracts.safety import (
    NAME_PREFIX,
    Guard,
    Mode,
    RequestRejected,
    run_name_prefix,
)
from tests.contracts.proxy import CorruptingProxy, Request
from tests.contracts.servers import RecordingApp, serve
from tests.contracts.test_cleanup import (
    GRAPH_PATH,
    inject_customer_entries,
    lose_next_create,
)
from tests.contracts.test_gate import PROJECT, gate, settings, target_args

ORIGIN = "http://127.0.0.1:8080"
BASE = f"{ORIGIN}/v1.0/p1/graphs"
PREFIX = run_name_prefix("0badc0de")


def make_guard(
    mode: Mode = Mode.LIFECYCLE,
    *,
    enforce_ownership: bool = True,
    max_graphs: int | None = None,
) -> Guard:
    return Guard(
        origin=ORIGIN,
        mode=mode,
        registry=ResourceRegistry(PREFIX),
        enforce_ownership=enforce_ownership,
        max_graphs=max_graphs,
    )


def graph_body(name: str) -> bytes:
    return json.dumps({"graph": {"name": name}}).encode()


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", f"{BASE}/g1", None),
        ("GET", f"{BASE}/jobs?offset=0", None),
        ("POST", f"{BASE}/action?action_id=check-schema", b"{}"),
    ],
)
def test_guard_read_only_admits_reads(
    method: str, url: str, body: bytes | None
) -> None:
    make_guard(Mode.READ_ONLY).admit(method, url, body)


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", BASE, graph_body(f"{PREFIX}graph")),
        ("POST", f"{BASE}/g1/action?action_id=stop", b"{}"),
        ("DELETE", f"{BASE}/g1", None),
        ("PUT", f"{BASE}/g1", b"{}"),
        ("TRACE", f"{BASE}/g1", None),
    ],
)
def test_guard_read_only_rejects_changes(
    method: str, url: str, body: bytes | None
) -> None:
    guard = make_guard(Mode.READ_ONLY)
    guard.registry.add(GRAPH, "g1")

    with pytest.raises(RequestRejected, match="read-only mode"):
        guard.admit(method, url, body)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.2:8080/v1.0/p1/graphs", "https://127.0.0.1:8080/v1.0"]
)
def test_guard_other_origin_is_rejected(url: str) -> None:
    with pytest.raises(RequestRejected, match="not the target's origin"):
        make_guard(enforce_ownership=False).admit("GET", url, None)


@pytest.mark.parametrize(
    ("method", "url", "kind"),
    [
        ("DELETE", f"{BASE}/g-other", "graph"),
        ("POST", f"{BASE}/g-other/action?action_id=stop", "graph"),
        ("POST", f"{BASE}/g-other/backups", "graph"),
        ("DELETE", f"{BASE}/g1/backups/b-other", "backup"),
        ("DELETE", f"{BASE}/metadatas/m-other", "metadata"),
    ],
)
def test_guard_foreign_ids_are_rejected(method: str, url: str, kind: str) -> None:
    guard = make_guard()
    guard.registry.add(GRAPH, "g1")

    with pytest.raises(RequestRejected, match=f"names a {kind} this run did not"):
        guard.admit(method, url, b"{}")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("DELETE", f"{BASE}/g1"),
        ("POST", f"{BASE}/g1/action?action_id=stop"),
        ("POST", f"{BASE}/g1/backups"),
        ("DELETE", f"{BASE}/g1/backups/b1"),
        ("DELETE", f"{BASE}/metadatas/m1"),
    ],
)
def test_guard_owned_ids_are_admitted(method: str, url: str) -> None:
    guard = make_guard()
    guard.registry.add(GRAPH, "g1")
    guard.registry.add(BACKUP, "b1", "g1")
    guard.registry.add(METADATA, "m1")

    ticket = guard.admit(method, url, b"{}")

    assert ticket.operation is not None


def test_guard_encoded_foreign_id_is_rejected() -> None:
    guard = make_guard()
    guard.registry.add(GRAPH, "g 1")

    guard.admit("DELETE", f"{BASE}/g%201", None)
    with pytest.raises(RequestRejected):
        guard.admit("DELETE", f"{BASE}/g%202", None)


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (BASE, graph_body("customer_graph")),
        (BASE, b"not json"),
        (f"{BASE}/metadatas", json.dumps({"name": "customer_schema"}).encode()),
    ],
)
def test_guard_unprefixed_create_is_rejected(url: str, body: bytes) -> None:
    with pytest.raises(RequestRejected, match="run prefix"):
        make_guard().admit("POST", url, body)


def test_guard_unknown_mutation_is_rejected() -> None:
    guard = make_guard()
    guard.registry.add(GRAPH, "g1")

    with pytest.raises(RequestRejected, match="no operation of the spec"):
        guard.admit("POST", f"{BASE}/g1/action?action_id=reboot", b"{}")


def test_guard_without_ownership_admits_unknown_ids() -> None:
    guard = make_guard(enforce_ownership=False)

    guard.admit("DELETE", f"{BASE}/g-other", None)
    guard.admit("POST", BASE, graph_body("unprefixed"))


def test_guard_graph_cap_counts_alive_graphs() -> None:
    guard = make_guard(max_graphs=1)
    body = graph_body(f"{PREFIX}graph")

    ticket = guard.admit("POST", BASE, body)
    with pytest.raises(RequestRejected, match="--max-graphs 1"):
        guard.admit("POST", BASE, body)
    guard.complete(ticket, 200, {"id": "g1"})
    with pytest.raises(RequestRejected, match="--max-graphs 1"):
        guard.admit("POST", BASE, body)
    guard.registry.mark_gone(GRAPH, "g1")
    refused = guard.admit("POST", BASE, body)
    guard.complete(refused, 400, {"errorCode": "GES.7008", "errorMessage": "x"})
    guard.admit("POST", BASE, body)

    assert guard.registry.owns(GRAPH, "g1")
    assert guard.registry.alive(GRAPH) == []


def test_guard_learns_backups_of_owned_graphs_only() -> None:
    guard = make_guard()
    guard.registry.add(GRAPH, "g1")
    listing = {
        "backupCount": 3,
        "backupList": [
            {"id": "b1", "graphId": "g1", "graphName": f"{PREFIX}graph"},
            {"id": "b2", "graphId": "g9", "graphName": f"{PREFIX}graph_lost"},
            {"id": "b3", "graphId": "g8", "graphName": "customer_graph"},
        ],
    }
    # Listed under the owned graph, but naming another one.
    under_g1 = {"backupList": [{"id": "b4", "graphId": "g8"}, {"id": "b5"}]}

    ticket = guard.admit("GET", f"{BASE}/backups", None)
    guard.complete(ticket, 200, listing)
    ticket = guard.admit("GET", f"{BASE}/g1/backups", None)
    guard.complete(ticket, 200, under_g1)

    assert guard.registry.graph_of("b1") == "g1"
    assert guard.registry.graph_of("b5") == "g1"
    assert not guard.registry.owns(BACKUP, "b2")
    assert not guard.registry.owns(BACKUP, "b3")
    assert not guard.registry.owns(BACKUP, "b4")


def test_guard_learns_created_metadata_and_deletions() -> None:
    guard = make_guard()
    ticket = guard.admit(
        "POST", f"{BASE}/metadatas", json.dumps({"name": f"{PREFIX}m"}).encode()
    )
    guard.complete(ticket, 200, {"id": "m1", "name": f"{PREFIX}m"})

    deletion = guard.admit("DELETE", f"{BASE}/metadatas/m1", None)
    guard.complete(deletion, 200, {})

    assert guard.registry.owns(METADATA, "m1")
    assert guard.registry.is_gone(METADATA, "m1")


# -- whole gate runs against a sandbox started here ---------------------------


def snapshot(base_url: str) -> dict[str, Any]:
    """Ids, names and statuses of every graph, backup and metadata record."""
    headers = {"X-Auth-Token": PROJECT.token}
    prefix = f"{base_url}/v1.0/{PROJECT.project_id}/graphs"
    with httpx.Client(headers=headers, params={"limit": 1000}) as client:
        graphs = client.get(prefix).json()["graphs"]
        backups = {
            graph["id"]: sorted(
                (item["id"], item["status"])
                for item in client.get(f"{prefix}/{graph['id']}/backups").json()[
                    "backupList"
                ]
            )
            for graph in graphs
        }
        metadata = client.get(f"{prefix}/metadatas").json()["schemaList"]
        jobs = client.get(f"{prefix}/jobs").json()["jobList"]
    return {
        "graphs": sorted((g["id"], g["name"], g["status"]) for g in graphs),
        "backups": backups,
        "metadata": sorted((m["id"], m["name"]) for m in metadata),
        # The run's own graphs add jobs; only the others' must stay as they were.
        "jobs": sorted(
            (j["jobId"], j["status"])
            for j in jobs
            if not str(j.get("relatedGraph")).startswith(NAME_PREFIX)
        ),
    }


def test_gate_lifecycle_leaves_preexisting_resources_unchanged(
    tmp_path: Path,
) -> None:
    app = sandbox.create_app(settings())
    seeded = sandbox.seed(
        app,
        PROJECT.project_id,
        graphs=2,
        backups_per_graph=2,
        jobs_per_graph=1,
        metadata=2,
        name_prefix="customer",
    )
    recorder = RecordingApp(app)
    report = tmp_path / "junit.xml"

    with serve(recorder) as base_url:
        before = snapshot(base_url)
        completed = gate(
            *target_args(base_url),
            "--mode",
            "lifecycle",
            "--allow-mutations",
            "--max-examples",
            "3",
            "--rate-limit",
            "0",
            "--junit-xml",
            str(report),
        )
        after = snapshot(base_url)

    foreign = set(seeded.graph_ids + seeded.backup_ids + seeded.metadata_ids)
    changes = [
        (method, path)
        for method, path, _, _ in recorder.requests
        if method not in ("GET", "HEAD", "OPTIONS") and foreign & set(path.split("/"))
    ]
    assert completed.returncode in (0, 1), completed.stdout[-3000:] + completed.stderr
    assert "in lifecycle mode" in completed.stdout
    assert changes == []
    assert after == before
    assert len(before["graphs"]) == 2
    assert sum(len(items) for items in before["backups"].values()) == 4
    assert any(method == "POST" for method, *_ in recorder.requests)
    assert any(method == "DELETE" for method, *_ in recorder.requests)
    assert "names a graph this run did not create" in completed.stdout


LIFECYCLE_ARGS = (
    "--mode",
    "lifecycle",
    "--allow-mutations",
    "--max-graphs",
    "1",
    "--max-examples",
    "2",
    "--rate-limit",
    "0",
    "--no-stateful",
)


def test_gate_prefixed_list_entries_touch_no_customer_resource() -> None:
    app = sandbox.create_app(settings())
    seeded = sandbox.seed(
        app, PROJECT.project_id, graphs=1, backups_per_graph=1, metadata=1
    )
    proxy = CorruptingProxy(app)
    ids = (seeded.graph_ids[0], seeded.backup_ids[0], seeded.metadata_ids[0])
    proxy.reply_rule = inject_customer_entries(ids)
    recorder = RecordingApp(proxy)

    with serve(recorder) as base_url:
        completed = gate(*target_args(base_url), *LIFECYCLE_ARGS)
        proxy.reply_rule = None
        after = snapshot(base_url)

    changes = [
        (method, path)
        for method, path, _, _ in recorder.requests
        if method not in ("GET", "HEAD", "OPTIONS") and set(ids) & set(path.split("/"))
    ]
    assert completed.returncode in (0, 1), completed.stdout[-3000:] + completed.stderr
    assert changes == []
    assert [graph[0] for graph in after["graphs"] if graph[2] != "400"] == [ids[0]]
    assert after["backups"][ids[0]][0][0] == ids[1]
    assert [record[0] for record in after["metadata"]] == [ids[2]]


def test_gate_lost_create_answer_keeps_graph_slot() -> None:
    proxy = CorruptingProxy(sandbox.create_app(settings()))
    made = lose_next_create(proxy)
    # createGraph requests that reached the sandbox while the graph of the
    # lost response still existed: each one is a second graph under a cap of 1.
    over_cap: list[str] = []

    def watch(request: Request) -> Request | None:
        found = GRAPH_PATH.fullmatch(request.path)
        if request.method == "DELETE" and found and found.group(1) in made:
            made.append("deleted")
        creating = request.method == "POST" and request.path.endswith("/graphs")
        if creating and made and "deleted" not in made:
            over_cap.append(request.path)
        return None

    proxy.request_rule = watch

    with serve(proxy) as base_url:
        completed = gate(*target_args(base_url), *LIFECYCLE_ARGS)
        after = snapshot(base_url)

    output = completed.stdout[-3000:] + completed.stderr
    assert completed.returncode in (0, 1), output
    assert made[:1], output
    assert "deleted" in made, output
    assert over_cap == []
    assert [graph for graph in after["graphs"] if graph[2] != "400"] == []


def test_gate_read_only_sends_only_reads(tmp_path: Path) -> None:
    app = RecordingApp(sandbox.create_app(settings()))
    report = tmp_path / "junit.xml"

    with serve(app) as base_url:
        completed = gate(
            *target_args(base_url),
            "--max-examples",
            "2",
            "--rate-limit",
            "0",
            "--junit-xml",
            str(report),
        )

    writes = [
        (method, path, query)
        for method, path, query, _ in app.requests
        if method not in ("GET", "HEAD", "OPTIONS")
        and not (path.endswith("/graphs/action") and "check-schema" in query)
    ]
    cases = {case.get("name"): case for case in ET.parse(report).getroot()}
    create = cases["createGraph"].find("skipped")
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert writes == []
    assert "Mode: read-only" in completed.stdout
    assert "skipped in read-only mode" in completed.stdout
    assert create is not None
    assert "read-only" in (create.get("message") or "")
    assert cases["listGraphs"].find("skipped") is None
    assert cases["checkSchema"].find("skipped") is None


@pytest.mark.parametrize(
    "extra", [["--mode", "lifecycle"], ["--mode", "lifecycle", "--max-graphs", "2"]]
)
def test_gate_lifecycle_without_consent_exits_two(extra: list[str]) -> None:
    completed = gate(*target_args("http://127.0.0.1:9"), *extra)

    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1
    assert "--allow-mutations" in completed.stderr
    assert PROJECT.token not in completed.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate-limit", "fast"], "expected a number"),
        (["--rate-limit", "-1"], "at least 0"),
        (["--rate-limit", "nan"], "at least 0"),
        (["--max-graphs", "0"], "must be at least 1"),
        (["--mode", "write"], "invalid choice"),
    ],
)
def test_gate_bad_safety_flags_exit_two(args: list[str], message: str) -> None:
    completed = gate(*args)

    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1
    assert message in completed.stderr


def test_gate_throttled_target_is_retried(tmp_path: Path) -> None:
    throttled = sandbox.SandboxSettings(
        projects=(PROJECT,), rate_limit=20.0, rate_burst=10
    )
    app = RecordingApp(sandbox.create_app(throttled))
    report = tmp_path / "junit.xml"

    with serve(app) as base_url:
        completed = gate(
            *target_args(base_url),
            "--operation-id",
            "listGraphs",
            "--max-examples",
            "3",
            "--rate-limit",
            "0",
            "--junit-xml",
            str(report),
        )

    assert completed.returncode == 0, completed.stdout[-3000:]
    assert 429 in app.statuses
    assert "retried after Retry-After, 0 recorded" in completed.stdout
    assert ET.parse(report).getroot().get("failures") == "0"


def test_gate_rate_limit_keeps_below_target_threshold() -> None:
    throttled = sandbox.SandboxSettings(
        projects=(PROJECT,), rate_limit=10.0, rate_burst=2
    )
    app = RecordingApp(sandbox.create_app(throttled))

    with serve(app) as base_url:
        completed = gate(
            *target_args(base_url),
            "--operation-id",
            "listQuotas",
            "--max-examples",
            "2",
            "--rate-limit",
            "8",
        )

    assert completed.returncode == 0, completed.stdout[-3000:]
    assert len(app.statuses) > 10
    assert 429 not in app.statuses
