from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

import sandbox
from contracts.auth import TokenCredentials
from contracts.cleanup import (
    BACKUP,
    GRAPH,
    INTERRUPTED,
    METADATA,
    Cleaner,
    ResourceRegistry,
    raise_if_interrupted,
    signals_deferred,
    signals_interrupt,
)
from contracts.safety import NAME_PREFIX, Guard, Mode
from contracts.throttle import RateLimiter
from contracts.transport import RequestPolicy
from tests.contracts.proxy import CorruptingProxy, Exchange
from tests.contracts.servers import serve
from tests.contracts.test_gate import (
    GATE_TIMEOUT_SECONDS,
    PROJECT,
    gate,
    settings,
    target_args,
)

PREFIX = "gesct_feedf00d_"
GRAPHS = f"/v1.0/{PROJECT.project_id}/graphs"
OTHER = sandbox.ProjectCredentials("0ther0000ther0000ther0000ther000", "other-token")
BAD_GATEWAY = (502, {"error_code": "APIGW.0202", "error_msg": "bad gateway"})
UNAVAILABLE = (503, {"error_code": "APIGW.0203", "error_msg": "unavailable"})
GRAPH_PATH = re.compile(r"/v1\.0/[^/]+/graphs/([0-9a-f-]{36})")
GRAPH_FIELDS = {
    "graphSizeTypeIndex": "1",
    "vpcId": "vpc-1",
    "subnetId": "subnet-1",
    "securityGroupId": "sg-1",
}
# Gate runs the random-interrupt test starts, and the longest wait before its
# signal; a run of the arguments below takes about 10 s on the embedded sandbox.
INTERRUPTED_RUNS = 6
MAX_INTERRUPT_DELAY_SECONDS = 8.0


def test_registry_tracks_ownership_and_deletion() -> None:
    registry = ResourceRegistry(PREFIX)

    registry.add(GRAPH, "g1")
    registry.add(BACKUP, "b1", "g1")
    registry.add(METADATA, "m1")
    registry.mark_gone(GRAPH, "g1")

    assert registry.owns(GRAPH, "g1")
    assert not registry.owns(GRAPH, "b1")
    assert registry.alive(GRAPH) == []
    assert registry.alive(BACKUP) == ["b1"]
    assert registry.backups_of("g1") == ["b1"]
    assert registry.is_gone(GRAPH, "g1")


def test_registry_reservations_count_against_cap() -> None:
    registry = ResourceRegistry(PREFIX)

    assert registry.reserve_graph(2)
    assert registry.reserve_graph(2)
    assert not registry.reserve_graph(2)
    registry.settle_graph(None)
    assert registry.alive_graphs() == 1
    registry.settle_graph("g1")

    assert registry.alive_graphs() == 1
    assert registry.alive(GRAPH) == ["g1"]
    assert registry.reserve_graph(None)


def test_registry_unknown_kind_raises() -> None:
    with pytest.raises(ValueError, match="unknown resource kind"):
        ResourceRegistry(PREFIX).add("volume", "v1")


def test_signals_deferred_records_instead_of_raising() -> None:
    with signals_deferred() as caught:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)

    assert caught == [signal.SIGINT, signal.SIGTERM]


def test_signals_interrupt_turns_sigterm_into_interrupt() -> None:
    with pytest.raises(KeyboardInterrupt), signals_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
        raise_if_interrupted()

    assert not INTERRUPTED.is_set()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@dataclass
class Guarded:
    """A client through the guard, a plain one, and the proxy both go through."""

    client: httpx.Client
    plain: httpx.Client
    registry: ResourceRegistry
    proxy: CorruptingProxy
    base_url: str

    def cleaner(self, resource_timeout: float = 30.0) -> Cleaner:
        return Cleaner(
            self.client,
            PROJECT.project_id,
            self.registry,
            resource_timeout=resource_timeout,
        )


@pytest.fixture
def guarded() -> Iterator[Guarded]:
    """A guarded client on a sandbox of its own, behind a corrupting proxy."""
    configured = sandbox.SandboxSettings(projects=(PROJECT, OTHER))
    proxy = CorruptingProxy(sandbox.create_app(configured))
    with serve(proxy) as base_url:
        registry = ResourceRegistry(PREFIX)
        guard = Guard(
            origin=base_url,
            mode=Mode.LIFECYCLE,
            registry=registry,
            enforce_ownership=True,
            project_id=PROJECT.project_id,
            credentials=TokenCredentials(PROJECT.token),
        )
        policy = RequestPolicy(guard, RateLimiter(None))
        headers = {"X-Auth-Token": PROJECT.token}
        with (
            httpx.Client(
                base_url=base_url, headers=headers, transport=policy.httpx_transport()
            ) as client,
            httpx.Client(base_url=base_url, headers=headers) as plain,
        ):
            yield Guarded(client, plain, registry, proxy, base_url)


def create_graph(client: httpx.Client, name: str) -> str:
    response = client.post(GRAPHS, json={"graph": {"name": name, **GRAPH_FIELDS}})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def wait_running(client: httpx.Client, graph_id: str) -> None:
    deadline = time.monotonic() + 20
    while client.get(f"{GRAPHS}/{graph_id}").json()["graph"]["status"] != "200":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def live_names(client: httpx.Client) -> list[str]:
    page = {"limit": 1000}
    graphs = client.get(GRAPHS, params=page).json()["graphs"]
    metadata = client.get(f"{GRAPHS}/metadatas", params=page).json()["schemaList"]
    backups = client.get(f"{GRAPHS}/backups", params=page).json()["backupList"]
    return sorted(
        [g["name"] for g in graphs if g["status"] != "400"]
        + [m["name"] for m in metadata]
        + [f"backup of {b['graphName']}" for b in backups]
    )


def lose_next_create(proxy: CorruptingProxy) -> list[str]:
    """Let the next createGraph through, but return a 502 for it.

    Returns the list the id of the graph it made is put in.
    """
    made: list[str] = []

    def rule(exchange: Exchange) -> tuple[int, Any] | None:
        request = exchange.request
        if made or request.method != "POST" or not request.path.endswith("/graphs"):
            return None
        if exchange.status != 200 or not isinstance(exchange.body, dict):
            return None
        made.append(exchange.body["id"])
        return BAD_GATEWAY

    proxy.reply_rule = rule
    return made


def test_cleaner_deletes_everything_the_run_created(guarded: Guarded) -> None:
    client, plain, registry = guarded.client, guarded.plain, guarded.registry
    graph_id = create_graph(client, f"{PREFIX}graph")
    wait_running(client, graph_id)
    backup = client.post(f"{GRAPHS}/{graph_id}/backups")
    assert backup.status_code == 200, backup.text
    metadata = client.post(
        f"{GRAPHS}/metadatas",
        json={
            "name": f"{PREFIX}schema",
            "metadataPath": "bucket/schema.xml",
            "description": "d",
            "isOverwrite": False,
            "gesMetadata": {"labels": []},
        },
    )
    # A create of the run whose response was lost; a prefixed graph the run
    # never asked for, and one that plainly belongs to someone else.
    made = lose_next_create(guarded.proxy)
    lost = client.post(
        GRAPHS, json={"graph": {"name": f"{PREFIX}lost", **GRAPH_FIELDS}}
    )
    guarded.proxy.reply_rule = None
    create_graph(plain, f"{PREFIX}foreign")
    create_graph(plain, "customer_graph")

    leftovers = guarded.cleaner().run()

    assert metadata.status_code == 200, metadata.text
    assert lost.status_code == 502
    assert leftovers == []
    assert live_names(plain) == ["customer_graph", f"{PREFIX}foreign"]
    assert registry.owns(GRAPH, made[0])
    assert registry.alive(GRAPH) == []
    assert registry.alive(BACKUP) == []
    assert registry.alive(METADATA) == []
    assert registry.alive_graphs() == 0


def customer_resources(plain: httpx.Client) -> tuple[str, str, str]:
    """Make a customer graph with one backup, and a metadata record."""
    graph_id = create_graph(plain, "customer_graph")
    wait_running(plain, graph_id)
    assert plain.post(f"{GRAPHS}/{graph_id}/backups").status_code == 200
    metadata = plain.post(
        f"{GRAPHS}/metadatas",
        json={
            "name": "customer_schema",
            "metadataPath": "bucket/schema.xml",
            "description": "d",
            "isOverwrite": False,
            "gesMetadata": {"labels": []},
        },
    )
    assert metadata.status_code == 200, metadata.text
    deadline = time.monotonic() + 20
    while True:
        listed = plain.get(f"{GRAPHS}/{graph_id}/backups").json()["backupList"]
        if listed:
            return graph_id, listed[0]["id"], metadata.json()["id"]
        assert time.monotonic() < deadline
        time.sleep(0.05)


def inject_customer_entries(
    ids: tuple[str, str, str], prefix: str | None = None
) -> Any:
    """A reply rule adding the customer's ids, under prefixed names, to lists.

    Without `prefix` the rule takes it from the first run graph listed.
    """
    graph_id, backup_id, metadata_id = ids
    seen = {"prefix": prefix}

    def rule(exchange: Exchange) -> tuple[int, Any] | None:
        request, body = exchange.request, exchange.body
        if request.method != "GET" or exchange.status != 200:
            return None
        if not isinstance(body, dict):
            return None
        for graph in body.get("graphs") or []:
            found = re.match(r"gesct_[0-9a-f]+_", str(graph.get("name")))
            if found and seen["prefix"] is None:
                seen["prefix"] = found.group(0)
        run = seen["prefix"]
        if run is None:
            return None
        if request.path.endswith("/graphs") and "graphs" in body:
            body["graphs"].append(
                {"id": graph_id, "name": f"{run}adopted", "status": "200"}
            )
        elif request.path.endswith("/metadatas") and "schemaList" in body:
            body["schemaList"].append({"id": metadata_id, "name": f"{run}adopted"})
        elif request.path.endswith("/backups") and "backupList" in body:
            body["backupList"].append(
                {
                    "id": backup_id,
                    "graphId": graph_id,
                    "graphName": f"{run}ghost",
                    "name": "b",
                    "status": "success",
                }
            )
        else:
            return None
        return 200, body

    return rule


def test_cleaner_prefixed_list_entries_are_never_owned(guarded: Guarded) -> None:
    ids = customer_resources(guarded.plain)
    graph_id = create_graph(guarded.client, f"{PREFIX}graph")
    guarded.proxy.reply_rule = inject_customer_entries(ids, PREFIX)

    leftovers = guarded.cleaner().run()
    guarded.proxy.reply_rule = None

    assert leftovers == []
    assert guarded.registry.is_gone(GRAPH, graph_id)
    assert not any(guarded.registry.owns(kind, ids[0]) for kind in (GRAPH, BACKUP))
    assert live_names(guarded.plain) == [
        "backup of customer_graph",
        "customer_graph",
        "customer_schema",
    ]


def test_cleaner_rejected_request_is_listed_and_cleanup_goes_on(
    guarded: Guarded,
) -> None:
    graph_id = create_graph(guarded.client, f"{PREFIX}graph")
    # A backup recorded under a graph the run does not own: the guard will
    # not send its delete.
    guarded.registry.add(BACKUP, "b-foreign", "g-foreign")

    leftovers = guarded.cleaner().run()

    assert [(item.kind, item.resource_id) for item in leftovers] == [
        (BACKUP, "b-foreign")
    ]
    assert "not sent" in leftovers[0].reason
    assert guarded.registry.is_gone(GRAPH, graph_id)
    assert live_names(guarded.plain) == []


def test_registry_answers_for_other_project_change_nothing(guarded: Guarded) -> None:
    graph_id = create_graph(guarded.client, f"{PREFIX}graph")
    other = {"X-Auth-Token": OTHER.token}
    # Every response to the other project's token becomes "no such
    # graph", the response that marks a graph of the run gone.
    no_graph = {"errorCode": "GES.7000", "errorMessage": "graph does not exist"}
    guarded.proxy.reply_rule = lambda exchange: (
        (400, no_graph) if exchange.request.token == OTHER.token else None
    )

    across = guarded.client.get(
        f"/v1.0/{OTHER.project_id}/graphs/{graph_id}", headers=other
    )
    wrong_token = guarded.client.get(f"{GRAPHS}/{graph_id}", headers=other)
    wrong_path = guarded.client.get(f"/v1.0/{OTHER.project_id}/graphs/{graph_id}")
    guarded.proxy.reply_rule = None

    assert [across.status_code, wrong_token.status_code] == [400, 400]
    assert wrong_path.status_code >= 400, wrong_path.text
    assert guarded.registry.alive(GRAPH) == [graph_id]
    assert guarded.registry.alive_graphs() == 1
    assert guarded.cleaner().run() == []
    assert live_names(guarded.plain) == []


def unreadable_after_delete(fake_delete: bool) -> Any:
    """A reply rule returning 503 for graph and job reads.

    With `fake_delete`, a graph DELETE returns the id of no job,
    and reads fail only after it; without, reads fail from the start.
    """
    deleted: list[str] = []

    def rule(exchange: Exchange) -> tuple[int, Any] | None:
        request = exchange.request
        found = GRAPH_PATH.match(request.path)
        if found is None:
            return None
        if request.method == "DELETE" and fake_delete:
            deleted.append(found.group(1))
            return 200, {"jobId": "0123456789abcdef0123456789abcdef"}
        if request.method == "GET" and (deleted or not fake_delete):
            if request.path.endswith("/backups"):
                return None
            return UNAVAILABLE
        return None

    return rule


@pytest.mark.parametrize("fake_delete", [False, True])
def test_cleaner_unreadable_graph_is_a_leftover(
    guarded: Guarded, fake_delete: bool
) -> None:
    graph_id = create_graph(guarded.client, f"{PREFIX}graph")
    wait_running(guarded.client, graph_id)
    guarded.proxy.reply_rule = unreadable_after_delete(fake_delete)

    leftovers = guarded.cleaner(resource_timeout=0.5).run()
    guarded.proxy.reply_rule = None

    assert [(item.kind, item.resource_id) for item in leftovers] == [(GRAPH, graph_id)]
    assert "503" in leftovers[0].reason
    assert not guarded.registry.is_gone(GRAPH, graph_id)
    # The faked delete answer hid a real deletion, which the run could not see.
    assert live_names(guarded.plain) == ([] if fake_delete else [f"{PREFIX}graph"])


class UndeletableGraphsApp:
    """The sandbox, except that deleting a graph fails with a GES 500."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "").rstrip("/")
        parent = path.rsplit("/", 1)[0]
        if (
            scope["type"] == "http"
            and scope["method"] == "DELETE"
            and parent.endswith("/graphs")
            and not path.endswith("/metadatas")
        ):
            body = json.dumps(
                {"errorCode": "GES.7006", "errorMessage": "internal error"}
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def test_gate_undeletable_graph_exits_three() -> None:
    app = UndeletableGraphsApp(sandbox.create_app(settings()))

    with serve(app) as base_url:
        completed = gate(
            *target_args(base_url),
            "--mode",
            "lifecycle",
            "--allow-mutations",
            "--operation-id",
            "listQuotas",
            "--max-examples",
            "2",
            "--rate-limit",
            "0",
        )

    leftover_lines = [
        line for line in completed.stdout.splitlines() if line.startswith("  graph ")
    ]
    assert completed.returncode == 3, completed.stdout[-2000:] + completed.stderr
    assert "Leftovers (created by this run, not deleted):" in completed.stdout
    assert len(leftover_lines) == 1
    assert "HTTP 500 GES.7006" in leftover_lines[0]
    assert completed.stderr.count("\n") == 1
    assert "were not deleted" in completed.stderr
    assert PROJECT.token not in completed.stdout + completed.stderr


def prefixed_leftovers(base_url: str) -> list[str]:
    headers = {"X-Auth-Token": PROJECT.token}
    with httpx.Client(base_url=base_url, headers=headers) as client:
        return [name for name in live_names(client) if NAME_PREFIX in name]


def test_gate_interrupted_at_random_leaves_nothing() -> None:
    seed = random.SystemRandom().randrange(2**32)
    chooser = random.Random(seed)
    outcomes = []

    with sandbox.start(settings()) as running:
        for number in range(INTERRUPTED_RUNS):
            delay = chooser.uniform(0.2, MAX_INTERRUPT_DELAY_SECONDS)
            signum = (signal.SIGINT, signal.SIGTERM)[number % 2]
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "contracts",
                    *target_args(running.base_url),
                    "--mode",
                    "lifecycle",
                    "--allow-mutations",
                    "--max-graphs",
                    "3",
                    "--max-examples",
                    "3",
                    "--rate-limit",
                    "0",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(delay)
            process.send_signal(signum)
            process.wait(timeout=GATE_TIMEOUT_SECONDS)
            left = prefixed_leftovers(running.base_url)
            outcomes.append(
                (round(delay, 2), signal.Signals(signum).name, process.returncode, left)
            )

    # A signal that lands while Python is still importing ends the process by
    # default (-2, -15), before it could create anything.
    detail = f"seed {seed}: {outcomes}"
    print(detail)
    assert all(code in (0, 1, 2, -2, -15) for _, _, code, _ in outcomes), detail
    assert all(left == [] for *_, left in outcomes), detail
    assert any(code == 2 for _, _, code, _ in outcomes), detail
