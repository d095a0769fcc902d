"""What a run created, and how it is all deleted again, even when interrupted.

    registry = ResourceRegistry(prefix)      # one per run, thread-safe
    registry.add(GRAPH, graph_id)            # usually done by the transports
    registry.owns(GRAPH, graph_id)           # True for ids this run created
    registry.alive_graphs()                  # graphs counted against --max-graphs
    leftovers = Cleaner(client, project_id, registry).run()
    with signals_interrupt():                # SIGINT, SIGTERM set INTERRUPTED
        ...
    with signals_deferred() as caught:       # cleanup runs to its end
        ...

The transports of `contracts.transport` feed the registry from every
response they see: a successful createGraph or createMetadata adds its id, a
backup listed under an owned graph is owned, and a deleted resource stays in
the registry (marked gone) so that a use-after-delete check may still address
it. Every name the gate gives a resource starts with the run's prefix, so
`Cleaner` also lists the project and adopts prefixed resources whose create
response never arrived (an interrupt between send and receive).

`Cleaner.run` deletes backups first, then graphs (waiting out transitional
statuses, then polling the delete job), then metadata, and returns what it
could not delete as `Leftover`s.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

import httpx

import openapi
from contracts.results import Leftover

GRAPH = "graph"
BACKUP = "backup"
METADATA = "metadata"
KINDS = (GRAPH, BACKUP, METADATA)
# Graph status that shows a deleted graph (GES status code table).
DELETED_STATUS = "400"
# Codes that mean there is nothing left to delete: the graph does not exist or
# is already being deleted (GES.7000, GES.7054), the backup or metadata record
# does not exist (GES.7024).
GONE_CODES = frozenset({"GES.7000", "GES.7054", "GES.7024"})
# The gateway's code for a URL that matches no resource.
GATEWAY_NOT_FOUND = "APIGW.0101"
TERMINAL_JOB_STATUSES = frozenset({"success", "failed"})
# Seconds the cleanup may spend on one resource: waiting for a transitional
# status to settle, retrying a rejected delete, polling a delete job. The
# embedded sandbox finishes jobs in under a second; a real GES graph can take
# minutes to delete.
DEFAULT_RESOURCE_TIMEOUT_SECONDS = 30.0
REAL_RESOURCE_TIMEOUT_SECONDS = 600.0
POLL_INTERVAL_SECONDS = 0.2
LIST_PAGE_LIMIT = 100


@dataclass
class _Entry:
    kind: str
    resource_id: str
    graph_id: str | None = None
    gone: bool = False


class RequestRejected(Exception):
    """The guard did not let a request reach the target.

    Defined here rather than in `contracts.safety`, which raises it, because
    the cleaner must catch it and `contracts.safety` imports this module.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ResourceRegistry:
    """Ids of every graph, backup and metadata record created in this run.

    A resource is owned only through the run's own create requests: the id in
    a create response, a backup listed under an owned graph, or, for a create
    whose response was lost (5xx or none), the one listed resource bearing
    the exact name that create sent. A lost createGraph keeps its
    --max-graphs slot until such a graph is adopted or a list shows none.
    """

    def __init__(self, name_prefix: str) -> None:
        self.name_prefix = name_prefix
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._pending_graphs = 0
        # Names sent in creates whose response never arrived, by kind.
        self._lost: dict[str, list[str]] = {GRAPH: [], METADATA: []}
        self._lock = threading.Lock()

    def add(self, kind: str, resource_id: str, graph_id: str | None = None) -> None:
        """Record `resource_id` as created by this run (a backup with its graph)."""
        if kind not in KINDS:
            raise ValueError(f"unknown resource kind `{kind}`")
        with self._lock:
            entry = self._entries.get((kind, resource_id))
            if entry is None:
                self._entries[(kind, resource_id)] = _Entry(kind, resource_id, graph_id)
            elif graph_id is not None and entry.graph_id is None:
                entry.graph_id = graph_id

    def owns(self, kind: str, resource_id: str) -> bool:
        """Return True when this run created `resource_id`, deleted since or not."""
        with self._lock:
            return (kind, resource_id) in self._entries

    def mark_gone(self, kind: str, resource_id: str) -> None:
        """Record that the resource no longer exists (it stays owned)."""
        with self._lock:
            entry = self._entries.get((kind, resource_id))
            if entry is not None:
                entry.gone = True

    def is_gone(self, kind: str, resource_id: str) -> bool:
        with self._lock:
            entry = self._entries.get((kind, resource_id))
            return entry is not None and entry.gone

    def alive(self, kind: str) -> list[str]:
        """Ids of the resources of `kind` not known to be gone, oldest first."""
        with self._lock:
            return [
                entry.resource_id
                for entry in self._entries.values()
                if entry.kind == kind and not entry.gone
            ]

    def backups_of(self, graph_id: str) -> list[str]:
        with self._lock:
            return [
                entry.resource_id
                for entry in self._entries.values()
                if entry.kind == BACKUP and entry.graph_id == graph_id
            ]

    def graph_of(self, backup_id: str) -> str | None:
        with self._lock:
            entry = self._entries.get((BACKUP, backup_id))
            return entry.graph_id if entry is not None else None

    def alive_graphs(self) -> int:
        """Graphs that exist or may exist: created and not gone, or being created."""
        with self._lock:
            return self._alive_graphs()

    def _alive_graphs(self) -> int:
        alive = sum(
            1
            for entry in self._entries.values()
            if entry.kind == GRAPH and not entry.gone
        )
        return alive + self._pending_graphs

    def reserve_graph(self, max_graphs: int | None) -> bool:
        """Claim a slot for one createGraph request; False when the cap is reached."""
        with self._lock:
            if max_graphs is not None and self._alive_graphs() >= max_graphs:
                return False
            self._pending_graphs += 1
            return True

    def settle_graph(self, graph_id: str | None) -> None:
        """Turn a reserved slot into the created graph, or free it when none was made."""
        with self._lock:
            self._pending_graphs = max(0, self._pending_graphs - 1)
            if graph_id is not None and (GRAPH, graph_id) not in self._entries:
                self._entries[(GRAPH, graph_id)] = _Entry(GRAPH, graph_id)

    def lose_create(self, kind: str, name: str) -> None:
        """Record a create sent with `name` whose response never arrived.

        A createGraph keeps its reserved slot: the graph may exist.
        """
        with self._lock:
            self._lost[kind].append(name)

    def lost_names(self, kind: str) -> list[str]:
        with self._lock:
            return list(self._lost.get(kind, []))

    def adopt(self, kind: str, name: str, resource_id: str) -> bool:
        """Own `resource_id`, listed under the name a lost create sent.

        Each lost name adopts at most one id, and never an id already known;
        a graph takes over the slot its create reserved.
        """
        with self._lock:
            names = self._lost.get(kind, [])
            if name not in names or (kind, resource_id) in self._entries:
                return False
            names.remove(name)
            self._entries[(kind, resource_id)] = _Entry(kind, resource_id)
            if kind == GRAPH:
                self._pending_graphs = max(0, self._pending_graphs - 1)
            return True

    def forget_lost(self, kind: str, name: str) -> None:
        """Drop a lost create a complete list showed never made anything."""
        with self._lock:
            names = self._lost.get(kind, [])
            if name in names:
                names.remove(name)
                if kind == GRAPH:
                    self._pending_graphs = max(0, self._pending_graphs - 1)

    def observe(
        self,
        operation: openapi.Operation | None,
        parameters: dict[str, str],
        status_code: int,
        body: Any,
    ) -> None:
        """Learn created, listed and deleted resources from one response."""
        if operation is None:
            return
        name = operation.operation_id
        graph_id = parameters.get("graph_id")
        if status_code == 200 and isinstance(body, dict):
            if name == "createMetadata" and isinstance(body.get("id"), str):
                self.add(METADATA, body["id"])
            elif name in ("listGraphBackups", "listBackups"):
                self._learn_backups(body, graph_id)
            elif name == "deleteBackup" and "backup_id" in parameters:
                self.mark_gone(BACKUP, parameters["backup_id"])
            elif name == "deleteMetadata" and "metadata_id" in parameters:
                self.mark_gone(METADATA, parameters["metadata_id"])
            elif name == "showGraph" and graph_id is not None:
                status = (body.get("graph") or {}).get("status")
                if status == DELETED_STATUS:
                    self.mark_gone(GRAPH, graph_id)
            elif name == "showJob" and graph_id is not None:
                self._learn_job(graph_id, body)
        elif (
            name == "showGraph"
            and graph_id is not None
            and _body_code(body) == "GES.7000"
        ):
            self.mark_gone(GRAPH, graph_id)

    def _learn_backups(self, body: dict[str, Any], graph_id: str | None) -> None:
        """Own the backups listed under a graph this run created.

        In listGraphBackups the path names the graph, and an entry naming
        another graph is ignored; in listBackups the entry's graphId must be
        an owned graph. A graph name alone, even prefixed, owns nothing.
        """
        for backup in body.get("backupList") or []:
            if not isinstance(backup, dict) or not isinstance(backup.get("id"), str):
                continue
            listed = backup.get("graphId")
            owner = graph_id if graph_id is not None else listed
            if listed is not None and listed != owner:
                continue
            if not isinstance(owner, str) or not self.owns(GRAPH, owner):
                continue
            known = self.graph_of(backup["id"])
            if known is None or known == owner:
                self.add(BACKUP, backup["id"], owner)

    def _learn_job(self, graph_id: str, body: dict[str, Any]) -> None:
        # A finished DeleteGraph job means the graph no longer counts against
        # the cap; the job name is the one GES examples show.
        if body.get("jobName") == "DeleteGraph" and body.get("status") == "success":
            self.mark_gone(GRAPH, graph_id)


def _body_code(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    return str(body.get("errorCode") or body.get("error_code") or "")


def _response_code(response: httpx.Response) -> str:
    try:
        return _body_code(response.json())
    except ValueError:
        return ""


def _is_gone(response: httpx.Response) -> bool:
    """Return True for a response showing the resource does not exist (any more).

    The GES "gone" codes, or the gateway's 404 for an unknown resource URL.
    A 5xx, a timeout or any other rejection shows nothing about the resource.
    """
    code = _response_code(response)
    if code in GONE_CODES:
        return True
    return response.status_code == 404 and code == GATEWAY_NOT_FOUND


class Cleaner:
    """Deletes every resource of the registry, newest graph first.

    Every request that is rejected, fails or times out leaves its resource
    as a `Leftover`, and the cleaner carries on with the next one.
    """

    def __init__(
        self,
        client: httpx.Client,
        project_id: str,
        registry: ResourceRegistry,
        *,
        resource_timeout: float = DEFAULT_RESOURCE_TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.prefix = f"/v1.0/{project_id}/graphs"
        self.registry = registry
        self.resource_timeout = resource_timeout
        self.sleep = sleep
        self.leftovers: list[Leftover] = []

    def run(self) -> list[Leftover]:
        """Adopt lost creates, delete everything, return what is left."""
        self.leftovers = []
        self._sweep()
        for graph_id in self.registry.alive(GRAPH):
            self._list_backups(graph_id)
        for backup_id in reversed(self.registry.alive(BACKUP)):
            self._delete_backup(backup_id)
        for graph_id in reversed(self.registry.alive(GRAPH)):
            self._delete_graph(graph_id)
        for metadata_id in reversed(self.registry.alive(METADATA)):
            self._delete_metadata(metadata_id)
        return list(self.leftovers)

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response | str:
        """Send one request; return the response, or why there is none."""
        try:
            return self.client.request(method, url, **kwargs)
        except RequestRejected as exc:
            return f"{method} not sent: {exc.reason}"
        except httpx.HTTPError as exc:
            return f"{method} failed: {type(exc).__name__}"

    def _sweep(self) -> None:
        """Adopt what creates with a lost response made, found by the exact name."""
        collections = ((GRAPH, "", "graphs"), (METADATA, "/metadatas", "schemaList"))
        for kind, collection, key in collections:
            lost = self.registry.lost_names(kind)
            if not lost:
                continue
            listed = self._list_all(collection, key)
            if listed is None:
                for name in lost:
                    self._leave(
                        kind, name, "its create got no response; the list failed"
                    )
                continue
            for item in listed:
                listed_name, resource_id = item.get("name"), item.get("id")
                if (
                    isinstance(listed_name, str)
                    and isinstance(resource_id, str)
                    and item.get("status") != DELETED_STATUS
                ):
                    self.registry.adopt(kind, listed_name, resource_id)
            for name in self.registry.lost_names(kind):
                self.registry.forget_lost(kind, name)

    def _list_all(self, collection: str, key: str) -> list[dict[str, Any]] | None:
        """Return every item of a collection, or None when a page could not be read."""
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            response = self._send(
                "GET",
                f"{self.prefix}{collection}",
                params={"offset": offset, "limit": LIST_PAGE_LIMIT},
            )
            if isinstance(response, str) or response.status_code != 200:
                return None
            page = _json(response).get(key)
            if not isinstance(page, list):
                return None
            items.extend(item for item in page if isinstance(item, dict))
            if len(page) < LIST_PAGE_LIMIT:
                return items
            offset += len(page)

    def _list_backups(self, graph_id: str) -> None:
        # The transport shows the response to the registry, which owns the
        # backups listed under this graph.
        self._send(
            "GET",
            f"{self.prefix}/{graph_id}/backups",
            params={"limit": LIST_PAGE_LIMIT},
        )

    def _delete_backup(self, backup_id: str) -> None:
        graph_id = self.registry.graph_of(backup_id)
        if graph_id is None:
            self._leave(BACKUP, backup_id, "its graph is unknown")
            return
        url = f"{self.prefix}/{graph_id}/backups/{backup_id}"
        if self._delete_until_accepted(BACKUP, backup_id, url) is not None:
            self.registry.mark_gone(BACKUP, backup_id)

    def _delete_metadata(self, metadata_id: str) -> None:
        url = f"{self.prefix}/metadatas/{metadata_id}"
        if self._delete_until_accepted(METADATA, metadata_id, url) is not None:
            self.registry.mark_gone(METADATA, metadata_id)

    def _delete_graph(self, graph_id: str) -> None:
        deadline = time.monotonic() + self.resource_timeout
        if not self._wait_settled(graph_id, deadline):
            return
        response = self._delete_until_accepted(
            GRAPH, graph_id, f"{self.prefix}/{graph_id}", deadline
        )
        if response is None:
            return
        job_id = _json(response).get("jobId")
        if (
            response.status_code == 200
            and isinstance(job_id, str)
            and not self._wait_job(graph_id, job_id, deadline)
        ):
            return
        self._wait_gone(graph_id, deadline)

    def _wait_settled(self, graph_id: str, deadline: float) -> bool:
        """Wait until the graph leaves its transitional status; False if it stays.

        False too when the graph is gone already, or could not be read.
        """
        transitional = openapi.transitional_statuses()
        while True:
            response = self._send("GET", f"{self.prefix}/{graph_id}")
            if isinstance(response, str):
                self._leave(GRAPH, graph_id, f"showGraph {response}")
                return False
            if _is_gone(response):
                self.registry.mark_gone(GRAPH, graph_id)
                return False
            status = None
            if response.status_code == 200:
                status = _json(response).get("graph", {}).get("status")
                if status == DELETED_STATUS:
                    self.registry.mark_gone(GRAPH, graph_id)
                    return False
                if status not in transitional:
                    return True
            if time.monotonic() > deadline:
                self._leave(GRAPH, graph_id, _unsettled(response, status))
                return False
            self.sleep(POLL_INTERVAL_SECONDS)

    def _delete_until_accepted(
        self, kind: str, resource_id: str, url: str, deadline: float | None = None
    ) -> httpx.Response | None:
        """Send DELETE until it is accepted or the resource is gone.

        Return the last response, or None after recording a leftover. A 400
        that is not a "gone" code is retried until `deadline`, because a busy
        graph or a backup still being made rejects deletion until it settles.
        """
        if deadline is None:
            deadline = time.monotonic() + self.resource_timeout
        while True:
            response = self._send("DELETE", url)
            if isinstance(response, str):
                self._leave(kind, resource_id, response)
                return None
            if _is_gone(response):
                self.registry.mark_gone(kind, resource_id)
                return response
            if response.status_code == 200:
                return response
            if (
                response.status_code not in (400, 409, 429)
                or time.monotonic() > deadline
            ):
                code = _response_code(response)
                self._leave(
                    kind,
                    resource_id,
                    f"DELETE returned HTTP {response.status_code} {code}",
                )
                return None
            self.sleep(POLL_INTERVAL_SECONDS)

    def _wait_job(self, graph_id: str, job_id: str, deadline: float) -> bool:
        """Poll the delete job; True once it succeeded or the graph is gone."""
        url = f"{self.prefix}/{graph_id}/jobs/{job_id}/status"
        while True:
            response = self._send("GET", url)
            if isinstance(response, str):
                self._leave(GRAPH, graph_id, f"showJob {response}")
                return False
            if _is_gone(response):
                return True
            body = _json(response) if response.status_code == 200 else {}
            status = body.get("status")
            if status == "failed":
                reason = body.get("failReason") or "no failReason"
                self._leave(GRAPH, graph_id, f"delete job {job_id} failed: {reason}")
                return False
            if status == "success":
                return True
            if time.monotonic() > deadline:
                self._leave(
                    GRAPH,
                    graph_id,
                    f"delete job {job_id} did not finish "
                    f"(last showJob HTTP {response.status_code})",
                )
                return False
            self.sleep(POLL_INTERVAL_SECONDS)

    def _wait_gone(self, graph_id: str, deadline: float) -> None:
        """Poll the graph until a response shows it gone, else leave it."""
        while True:
            response = self._send("GET", f"{self.prefix}/{graph_id}")
            if isinstance(response, str):
                self._leave(GRAPH, graph_id, f"showGraph {response}")
                return
            status = None
            if response.status_code == 200:
                status = _json(response).get("graph", {}).get("status")
            if _is_gone(response) or status == DELETED_STATUS:
                self.registry.mark_gone(GRAPH, graph_id)
                return
            if time.monotonic() > deadline:
                self._leave(
                    GRAPH,
                    graph_id,
                    "not shown gone after delete: "
                    + (
                        f"status {status}"
                        if status is not None
                        else f"showGraph HTTP {response.status_code}"
                    ),
                )
                return
            self.sleep(POLL_INTERVAL_SECONDS)

    def _leave(self, kind: str, resource_id: str, reason: str) -> None:
        self.leftovers.append(
            Leftover(kind=kind, resource_id=resource_id, reason=reason)
        )


def _unsettled(response: httpx.Response, status: Any) -> str:
    if status is not None:
        return f"stayed in status {status}"
    return f"showGraph returned HTTP {response.status_code} {_response_code(response)}"


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# Set by the handlers of `signals_interrupt`, read by `raise_if_interrupted`.
INTERRUPTED = threading.Event()


def _set_interrupted(signum: int, frame: FrameType | None) -> None:
    INTERRUPTED.set()


def raise_if_interrupted() -> None:
    """Raise KeyboardInterrupt when a signal arrived; called between requests.

    KeyboardInterrupt is what pytest and Hypothesis stop a whole run on,
    where any other exception would only fail the current test.
    """
    if INTERRUPTED.is_set():
        raise KeyboardInterrupt("the run was interrupted")


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into the `INTERRUPTED` flag for the block.

    The handler only sets the flag: raising from it would surface at any
    bytecode, inside Hypothesis or pytest internals. The run checks the flag
    before each request and between phases, and then cleans up.
    """
    INTERRUPTED.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {
        number: signal.signal(number, _set_interrupted)
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        INTERRUPTED.clear()


@contextlib.contextmanager
def signals_deferred() -> Iterator[list[int]]:
    """Record SIGINT and SIGTERM instead of acting on them, for the block.

    Cleanup runs inside this block, so an impatient second Ctrl-C cannot cut
    it short; the block yields the signals caught, and every step of the
    cleanup is bounded by its own deadline.
    """
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def record(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = {
        number: signal.signal(number, record)
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield caught
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
