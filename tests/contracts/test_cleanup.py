from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import sandbox
from contracts.cleanup import (
    BACKUP,
    GRAPH,
    METADATA,
    Cleaner,
    ResourceRegistry,
    signals_deferred,
    signals_interrupt,
)
from contracts.safety import NAME_PREFIX, Guard, Mode
from contracts.throttle import RateLimiter
from contracts.transport import RequestPolicy
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
        time.sleep(1)

    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.fixture
def guarded() -> Iterator[tuple[httpx.Client, httpx.Client, ResourceRegistry]]:
    """A client through the guard and a plain one, on a sandbox of their own."""
    with sandbox.start(settings()) as running:
        registry = ResourceRegistry(PREFIX)
        guard = Guard(
            origin=running.base_url,
            mode=Mode.LIFECYCLE,
            registry=registry,
            enforce_ownership=True,
        )
        policy = RequestPolicy(guard, RateLimiter(None))
        headers = {"X-Auth-Token": PROJECT.token}
        base_url = running.base_url
        with (
            httpx.Client(
                base_url=base_url, headers=headers, transport=policy.httpx_transport()
            ) as client,
            httpx.Client(base_url=base_url, headers=headers) as plain,
        ):
            yield client, plain, registry


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


def test_cleaner_deletes_everything_the_run_created(
    guarded: tuple[httpx.Client, httpx.Client, ResourceRegistry],
) -> None:
    client, plain, registry = guarded
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
    # A prefixed graph whose create response the run never saw, and one that
    # belongs to someone else.
    lost_id = create_graph(plain, f"{PREFIX}lost")
    create_graph(plain, "customer_graph")

    leftovers = Cleaner(client, PROJECT.project_id, registry, sleep=time.sleep).run()

    assert metadata.status_code == 200, metadata.text
    assert leftovers == []
    assert live_names(plain) == ["customer_graph"]
    assert registry.owns(GRAPH, lost_id)
    assert registry.alive(GRAPH) == []
    assert registry.alive(BACKUP) == []
    assert registry.alive(METADATA) == []


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
