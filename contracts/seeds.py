"""Resources the gate creates before a run and deletes after it.

Random ids only ever get GES's "graph does not exist" error, which is right
but leaves the success paths untested. So the gate creates one metadata record
and one graph through the API itself, from the request examples in the spec
and with a per-run name prefix, and feeds their ids to part of the cases. Every
resource a run creates, seeded or created by a generated case, is deleted at
the end.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx

from contracts.wire import SeededIds

# Graph names start with a letter and hold letters, digits and underscores
# (SDK and Doc-2021), so the prefix has no hyphen.
NAME_PREFIX = "gesct_"
# Seconds to wait for the seeded graph to leave its creating status, and for a
# busy graph to accept deletion at the end.
DEFAULT_SETTLE_SECONDS = 15.0
POLL_INTERVAL_SECONDS = 0.2
RUNNING_STATUS = "200"
# A delete that gets one of these codes has nothing left to delete: the graph
# does not exist or is already being deleted, the record does not exist.
GONE_CODES = frozenset({"GES.7000", "GES.7054", "GES.7024"})


class Seeder:
    """Creates the seeded resources and deletes what a run created."""

    def __init__(
        self,
        client: httpx.Client,
        project_id: str,
        examples: Mapping[str, Any],
        run_id: str,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    ) -> None:
        self.client = client
        self.prefix = f"/v1.0/{project_id}/graphs"
        self.examples = examples
        self.name = f"{NAME_PREFIX}{run_id}"
        self.settle_seconds = settle_seconds
        self.created: list[tuple[str, str]] = []
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
        body = _renamed(body, f"{self.name}_{kind}")
        url = f"{self.prefix}/{collection}" if collection else self.prefix
        response = self.client.post(url, json=body)
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
        self.created.append((kind, resource_id))
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
            f"{self.prefix}/jobs", params={"graph_name": f"{self.name}_graph"}
        )
        if response.status_code != 200:
            return None
        for job in response.json().get("jobList") or []:
            if isinstance(job, dict) and isinstance(job.get("jobId"), str):
                return job["jobId"]
        return None

    def cleanup(self, created_by_cases: list[tuple[str, str]]) -> None:
        """Delete, newest first, every resource the run created."""
        resources = list(dict.fromkeys(self.created + created_by_cases))
        for kind, resource_id in reversed(resources):
            if kind == "graph":
                url = f"{self.prefix}/{resource_id}"
            else:
                url = f"{self.prefix}/metadatas/{resource_id}"
            self._delete(kind, resource_id, url)

    def _delete(self, kind: str, resource_id: str, url: str) -> None:
        deadline = time.monotonic() + self.settle_seconds
        while True:
            try:
                response = self.client.delete(url)
            except httpx.HTTPError as exc:
                self.notes.append(f"could not delete {kind} {resource_id}: {exc}")
                return
            code = _error_code(response)
            if response.status_code == 200 or code in GONE_CODES:
                return
            # A graph in a transitional status (importing, stopping, ...)
            # rejects deletion until it settles.
            if response.status_code != 400 or time.monotonic() > deadline:
                self.notes.append(
                    f"could not delete {kind} {resource_id}: "
                    f"HTTP {response.status_code} {code}"
                )
                return
            time.sleep(POLL_INTERVAL_SECONDS)


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
