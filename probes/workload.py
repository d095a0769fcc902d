"""The embedded demo: a sandbox in-process and a workload that keeps it busy.

With no `--target`, `ges-probe` starts the sandbox on a loopback port and this
workload drives it over HTTP as a client would: graphs are created, imported
into, exported, backed up, stopped, started and deleted, and some OBS paths
carry the sandbox's `fail` and `slow` markers, so that jobs succeed, fail and
run long and every metric family has live values.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

import openapi
from probes.logs import log

logger = logging.getLogger("probes.workload")

DEFAULT_STEP_SECONDS = 0.5
# Graphs the workload keeps at once; the sandbox's default graph quota is 10.
MAX_GRAPHS = 6
# Steps a graph lives before the workload deletes it.
GRAPH_LIFETIME_STEPS = 40
RUNNING = "200"
STOPPED = "900"

# Each running graph takes the next action in this cycle. The paths are OBS
# object names: "fail" makes the sandbox fail the job, "slow" makes it run
# twenty times longer.
_ACTIONS: tuple[tuple[str, dict[str, Any] | None], ...] = (
    ("import-graph", {"edgesetPath": "demo/edges.csv", "schemaPath": "demo/s.xml"}),
    ("backup", None),
    ("export-graph", {
        "graphExportPath": "demo/export", "edgeSetName": "e", "vertexSetName": "v",
        "schemaName": "s",
    }),
    ("import-graph", {"edgesetPath": "demo/fail/edges.csv"}),
    ("import-graph", {"edgesetPath": "demo/slow/edges.csv"}),
    ("backup", None),
    ("stop", None),
)  # fmt: skip


class Workload:
    """Drive one sandbox project through the graph life cycle, step by step."""

    def __init__(self, base_url: str, project_id: str, token: str) -> None:
        self.prefix = f"/v1.0/{project_id}/graphs"
        self.http = httpx.Client(
            base_url=base_url,
            headers={"X-Auth-Token": token, "Content-Type": "application/json"},
            timeout=10.0,
        )
        self.serial = itertools.count(1)
        self.ages: dict[str, int] = {}
        self.next_action: dict[str, int] = {}
        self.steps = 0

    def close(self) -> None:
        self.http.close()

    def step(self) -> None:
        """Advance every graph by one action and create or delete graphs."""
        self.steps += 1
        graphs = self._graphs()
        for graph in graphs:
            graph_id = graph["id"]
            age = self.ages.get(graph_id, 0) + 1
            self.ages[graph_id] = age
            if age > GRAPH_LIFETIME_STEPS:
                self._send("DELETE", f"/{graph_id}")
            elif graph["status"] == RUNNING:
                self._act(graph_id)
            elif graph["status"] == STOPPED:
                self._send("POST", f"/{graph_id}/action", params={"action_id": "start"})
        present = {graph["id"] for graph in graphs}
        self.ages = {k: v for k, v in self.ages.items() if k in present}
        if len(graphs) < MAX_GRAPHS and self.steps % 3 == 1:
            self._create()

    def _graphs(self) -> list[dict[str, Any]]:
        response = self._send("GET", "", params={"offset": 0, "limit": 100})
        if response is None or response.status_code != 200:
            return []
        graphs = response.json().get("graphs", [])
        return [g for g in graphs if isinstance(g, dict) and "id" in g]

    def _create(self) -> None:
        serial = next(self.serial)
        # Every fifth graph's name contains "fail", so its backups fail; every
        # seventh is created from a "fail" path, so its creation fails.
        name = f"demo_fail_{serial}" if serial % 5 == 0 else f"demo_graph_{serial}"
        edges = "demo/fail/edges.csv" if serial % 7 == 0 else "demo/edges.csv"
        graph = {
            "name": name,
            "graphSizeTypeIndex": "1",
            "vpcId": "vpc-demo",
            "subnetId": "subnet-demo",
            "securityGroupId": "sg-demo",
            "arch": "aarch64" if serial % 2 else "x86_64",
            "dataSource": {
                "type": "OBS",
                "parameters": {"schemaPath": "demo/schema.xml", "edgesetPath": edges},
            },
        }
        self._send("POST", "", json={"graph": graph})

    def _act(self, graph_id: str) -> None:
        index = self.next_action.get(graph_id, 0)
        self.next_action[graph_id] = index + 1
        action, body = _ACTIONS[index % len(_ACTIONS)]
        if action == "backup":
            self._send("POST", f"/{graph_id}/backups")
        else:
            params = {"action_id": action}
            self._send("POST", f"/{graph_id}/action", params=params, json=body)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        # The operationId names what ran: list and create share one path.
        operation = openapi.resolve(method, self.prefix + path, kwargs.get("params"))
        operation_id = operation.operation_id if operation else "unknown"
        try:
            response = self.http.request(method, self.prefix + path, **kwargs)
        except httpx.HTTPError as exc:
            log(logger, logging.DEBUG, "workload request failed",
                operation=operation_id, err=repr(exc))  # fmt: skip
            return None
        # A graph busy with the previous action rejects the next one (GES.7001
        # and the like); the workload simply tries again on a later step.
        log(
            logger,
            logging.DEBUG,
            "workload request",
            operation=operation_id,
            status_code=response.status_code,
        )
        return response


def run_workload(
    workload: Workload, stop: threading.Event, step_seconds: float
) -> None:
    """Step `workload` every `step_seconds` until `stop` is set."""
    while not stop.wait(step_seconds):
        try:
            workload.step()
        except (ValueError, KeyError, TypeError) as exc:
            log(logger, logging.WARNING, "workload step failed", err=repr(exc))


@contextmanager
def embedded_sandbox(
    step_seconds: float = DEFAULT_STEP_SECONDS, port: int = 0
) -> Iterator[tuple[str, str, str]]:
    """Start the sandbox and its workload; yield (base URL, project id, token)."""
    import sandbox

    settings = sandbox.SandboxSettings(port=port)
    with sandbox.start(settings) as running:
        project = running.projects[0]
        workload = Workload(running.base_url, project.project_id, project.token)
        stop = threading.Event()
        thread = threading.Thread(
            target=run_workload,
            args=(workload, stop, step_seconds),
            name="workload",
            daemon=True,
        )
        thread.start()
        try:
            yield running.base_url, project.project_id, project.token
        finally:
            stop.set()
            thread.join(timeout=10)
            workload.close()
