"""Resources the gate creates before a run and deletes after it.

Random ids only ever get GES's "graph does not exist" error, which is right
but leaves the success paths untested. So the gate creates one metadata record
and one graph through the API itself, from the request examples in the spec
and with the run's name prefix, and feeds their ids to part of the cases.
`contracts.cleanup` deletes them, with everything else the run created.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx

from contracts.safety import RequestRejected
from contracts.wire import SeededIds

# Seconds to wait for the seeded graph to leave its creating status.
DEFAULT_SETTLE_SECONDS = 15.0
POLL_INTERVAL_SECONDS = 0.2
RUNNING_STATUS = "200"


class Seeder:
    """Creates the seeded resources, named with the run's prefix."""

    def __init__(
        self,
        client: httpx.Client,
        project_id: str,
        examples: Mapping[str, Any],
        name_prefix: str,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    ) -> None:
        self.client = client
        self.prefix = f"/v1.0/{project_id}/graphs"
        self.examples = examples
        self.name_prefix = name_prefix
        self.settle_seconds = settle_seconds
        self.notes: list[str] = []

    def seed(self) -> SeededIds:
        """Create the metadata record and the graph, and return the ids that exist."""
        metadata_id = self._create("createMetadata", "metadatas", "metadata")
        graph_id = self._create("createGraph", "", "graph")
        job_id = None
        if graph_id is not None:
            self._wait_running(graph_id)
            job_id = self._find_job()
        return SeededIds(graph_id=graph_id, metadata_id=metadata_id, job_id=job_id)

    def _create(self, operation_id: str, collection: str, kind: str) -> str | None:
        body = self.examples.get(operation_id)
        if not isinstance(body, dict):
            self.notes.append(f"{kind} not seeded: `{operation_id}` has no example")
            return None
        body = _renamed(body, f"{self.name_prefix}{kind}")
        url = f"{self.prefix}/{collection}" if collection else self.prefix
        try:
            response = self.client.post(url, json=body)
        except RequestRejected as exc:
            self.notes.append(f"{kind} not seeded: {exc.reason}")
            return None
        if response.status_code != 200:
            self.notes.append(
                f"{kind} not seeded: {operation_id} returned "
                f"HTTP {response.status_code} {_error_code(response)}"
            )
            return None
        resource_id = response.json().get("id")
        if not isinstance(resource_id, str):
            self.notes.append(f"{kind} not seeded: {operation_id} returned no `id`")
            return None
        return resource_id

    def _wait_running(self, graph_id: str) -> None:
        deadline = time.monotonic() + self.settle_seconds
        while time.monotonic() < deadline:
            response = self.client.get(f"{self.prefix}/{graph_id}")
            if response.status_code != 200:
                return
            status = response.json().get("graph", {}).get("status")
            if status == RUNNING_STATUS:
                return
            time.sleep(POLL_INTERVAL_SECONDS)
        self.notes.append(f"seeded graph did not reach status {RUNNING_STATUS}")

    def _find_job(self) -> str | None:
        response = self.client.get(
            f"{self.prefix}/jobs", params={"graph_name": f"{self.name_prefix}graph"}
        )
        if response.status_code != 200:
            return None
        for job in response.json().get("jobList") or []:
            job_id = job.get("jobId") if isinstance(job, dict) else None
            if isinstance(job_id, str):
                return job_id
        return None


def _renamed(body: dict[str, Any], name: str) -> dict[str, Any]:
    """Copy a request example, giving the resource it creates `name`."""
    copy = {**body}
    if isinstance(copy.get("graph"), dict):
        copy["graph"] = {**copy["graph"], "name": name}
    else:
        copy["name"] = name
    return copy


def _error_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    return str(body.get("errorCode") or body.get("error_code") or "")
