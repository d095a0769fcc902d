"""The lifecycle state machine: random interleavings of the GES resource lifecycle.

Hypothesis draws a sequence of rules: create metadata and graphs, stop and
start them, back them up, import, export, clear, upgrade, bind and unbind an
EIP, delete backups, graphs and metadata. Bundles carry the real ids that
earlier steps got back, so later steps act on resources that exist (or that
were just deleted). A rule sent to a graph in a status that does not allow it
is kept on purpose: the service must reject it with a documented code.

Each asynchronous call is awaited by polling showJob with a deadline, and the
graph's status is polled alongside, so the next step acts on the state the job
produced and the status-table check gets the statuses in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

import openapi
from contracts import ges_checks
from contracts.lifecycle.driver import Driver
from contracts.lifecycle.resources import Examples

RUNNING = "200"
STOPPED = "900"


@dataclass
class GraphModel:
    """Modelled state of one graph the machine created."""

    graph_id: str
    name: str
    status: str
    version: str = ""
    eip_id: str | None = None
    backups: list[str] = field(default_factory=list)
    deleted: bool = False


@dataclass(frozen=True)
class BackupRef:
    graph: GraphModel
    backup_id: str


class Lifecycle:
    """Operations on modelled graphs, shared by the state machine and the probes."""

    def __init__(self, driver: Driver, examples: Examples) -> None:
        self.driver = driver
        self.examples = examples
        self.operations = openapi.operations()
        self.transitions = openapi.graph_status_transitions()
        self.transitional = openapi.transitional_statuses()

    def record_trace(self, graph: GraphModel, statuses: list[str]) -> None:
        trace = ges_checks.StatusTrace(
            graph.graph_id, ges_checks.status_sequence(statuses)
        )
        self.driver.book.record(
            "graph_state_machine",
            ges_checks.graph_statuses_follow_table(
                trace, self.transitions, self.transitional
            ),
            self.driver.sequence(),
        )

    def create_graph(self, name: str) -> GraphModel | None:
        """Create a graph and wait until it leaves its creating status."""
        reply = self.driver.call("createGraph", body=self.examples.graph(name))
        body = reply.body if isinstance(reply.body, dict) else {}
        if reply.status_code != 200 or not isinstance(body.get("id"), str):
            return None
        graph = GraphModel(body["id"], name, status="100")
        trace: list[str] = []
        status = self.driver.wait_settled(graph.graph_id, trace)
        self.record_trace(graph, trace)
        self.refresh(graph, status)
        return graph

    def refresh(self, graph: GraphModel, status: str | None = None) -> None:
        """Read the graph's status and version into the model."""
        current, body = self.driver.graph_status(graph.graph_id)
        if current is not None:
            graph.status = current
            version = body.get("dataStoreVersion")
            if isinstance(version, str):
                graph.version = version
        elif status is not None:
            graph.status = status

    def act(
        self,
        graph: GraphModel,
        operation_id: str,
        *,
        body: Any = None,
        query: dict[str, Any] | None = None,
    ) -> ges_checks.Reply:
        """Send a graph action; await its job, or check that it was rejected.

        In a status the spec allows, an asynchronous action's job is polled
        to its end; in any other status the action must be rejected with one
        of the operation's `x-ges-wrong-status-errors`.
        """
        operation = self.operations[operation_id]
        before = graph.status
        kwargs: dict[str, Any] = {"query": query}
        if body is not None:
            kwargs["body"] = body
        reply = self.driver.call(operation_id, {"graph_id": graph.graph_id}, **kwargs)
        allowed = operation.allowed_statuses or ()
        if before not in allowed and before not in self.transitional:
            attempt = ges_checks.WrongStatusAttempt(
                operation_id, before, reply, operation.wrong_status_errors
            )
            self.driver.book.record(
                "graph_state_machine",
                ges_checks.graph_statuses_follow_table(
                    attempt, self.transitions, self.transitional
                ),
                self.driver.sequence(),
                reply.status_code,
            )
            self.refresh(graph)
            return reply
        trace = [before]
        if operation.is_async and reply.status_code == 200:
            self.driver.await_job(
                operation_id, graph.graph_id, reply, trace, graph_name=graph.name
            )
            status = self.driver.wait_settled(graph.graph_id, trace)
            self.record_trace(graph, trace)
            self.refresh(graph, status)
        else:
            self.refresh(graph)
        return reply

    def create_backup(self, graph: GraphModel) -> str | None:
        """Back the graph up; return the new backup's id once its job succeeded."""
        known = self.driver.list_ids(
            "listGraphBackups",
            "backupList",
            path_parameters={"graph_id": graph.graph_id},
        )
        reply = self.act(graph, "createBackup")
        if reply.status_code != 200 or known is None:
            return None
        listed = self.driver.list_ids(
            "listGraphBackups",
            "backupList",
            path_parameters={"graph_id": graph.graph_id},
        )
        new = [backup for backup in listed or [] if backup not in known]
        if not new:
            return None
        graph.backups.append(new[0])
        return new[0]

    def delete_graph(self, graph: GraphModel, *, verify: bool) -> None:
        """Delete the graph, await the job, and check that it is gone."""
        reply = self.driver.call("deleteGraph", {"graph_id": graph.graph_id})
        if reply.status_code != 200:
            return
        self.driver.await_job(
            "deleteGraph", graph.graph_id, reply, graph_name=graph.name
        )
        graph.deleted = True
        if verify:
            self.verify_graph_gone(graph)

    def verify_graph_gone(self, graph: GraphModel) -> None:
        ids = {"graph_id": graph.graph_id}
        attempts = (
            self.driver.call("showGraph", ids),
            self.driver.call("stopGraph", ids),
            self.driver.call("listGraphBackups", ids),
        )
        listed = self.driver.list_ids("listGraphs", "graphs")
        self._record_gone("graph", graph.graph_id, listed, attempts)

    def delete_backup(self, ref: BackupRef) -> None:
        ids = {"graph_id": ref.graph.graph_id, "backup_id": ref.backup_id}
        reply = self.driver.call("deleteBackup", ids)
        if ref.graph.deleted:
            self._record_gone("backup", ref.backup_id, None, (reply,))
            return
        if reply.status_code != 200:
            return
        if ref.backup_id in ref.graph.backups:
            ref.graph.backups.remove(ref.backup_id)
        listed = self.driver.list_ids(
            "listGraphBackups",
            "backupList",
            path_parameters={"graph_id": ref.graph.graph_id},
        )
        again = self.driver.call("deleteBackup", ids)
        self._record_gone("backup", ref.backup_id, listed, (again,))

    def create_metadata(self, name: str) -> str | None:
        reply = self.driver.call("createMetadata", body=self.examples.metadata(name))
        body = reply.body if isinstance(reply.body, dict) else {}
        metadata_id = body.get("id")
        if reply.status_code == 200 and isinstance(metadata_id, str):
            return metadata_id
        return None

    def delete_metadata(self, metadata_id: str, *, verify: bool) -> None:
        ids = {"metadata_id": metadata_id}
        reply = self.driver.call("deleteMetadata", ids)
        if reply.status_code != 200 or not verify:
            return
        attempts = (
            self.driver.call("showMetadata", ids),
            self.driver.call("deleteMetadata", ids),
        )
        listed = self.driver.list_ids("listMetadatas", "schemaList")
        self._record_gone("metadata", metadata_id, listed, attempts)

    def _record_gone(
        self,
        kind: str,
        resource_id: str,
        listed: list[str] | None,
        attempts: tuple[ges_checks.Reply, ...],
    ) -> None:
        observation = ges_checks.AfterDeleteObservation(
            kind,
            resource_id,
            None if listed is None else resource_id in listed,
            attempts,
        )
        self.driver.book.record(
            "use_after_delete",
            ges_checks.deleted_resources_stay_gone(observation),
            self.driver.sequence(),
        )


def build_machine(
    lifecycle: Lifecycle, *, graph_budget: int, fault_injection: bool
) -> type[RuleBasedStateMachine]:
    """Build the state machine class for one phase (Hypothesis instantiates it)."""
    driver = lifecycle.driver
    examples = lifecycle.examples
    failing = st.booleans() if fault_injection else st.just(False)

    class GesLifecycle(RuleBasedStateMachine):
        graphs = Bundle("graphs")
        backups = Bundle("backups")
        metadata = Bundle("metadata")

        @initialize()
        def begin(self) -> None:
            driver.begin_sequence()
            self.alive: list[GraphModel] = []
            self.records: list[str] = []

        @rule(target=metadata)
        def create_metadata(self) -> Any:
            metadata_id = lifecycle.create_metadata(examples.name("md"))
            if metadata_id is None:
                return multiple()
            self.records.append(metadata_id)
            return metadata_id

        @rule(metadata_id=consumes(metadata))
        def delete_metadata(self, metadata_id: str) -> None:
            lifecycle.delete_metadata(metadata_id, verify=True)
            self.records.remove(metadata_id)

        @precondition(lambda self: len(self.alive) < graph_budget)
        @rule(target=graphs)
        def create_graph(self) -> Any:
            graph = lifecycle.create_graph(examples.name("graph"))
            if graph is None:
                return multiple()
            self.alive.append(graph)
            return graph

        @rule(graph=graphs)
        def stop_graph(self, graph: GraphModel) -> None:
            lifecycle.act(graph, "stopGraph")

        @rule(graph=graphs, from_backup=st.booleans())
        def start_graph(self, graph: GraphModel, from_backup: bool) -> None:
            body = None
            if from_backup and graph.backups:
                body = {"graph_backup_id": graph.backups[-1]}
            lifecycle.act(graph, "startGraph", body=body)

        @rule(target=backups, graph=graphs)
        def create_backup(self, graph: GraphModel) -> Any:
            backup_id = lifecycle.create_backup(graph)
            if backup_id is None:
                return multiple()
            return BackupRef(graph, backup_id)

        @rule(graph=graphs)
        def list_graph_backups(self, graph: GraphModel) -> None:
            listed = driver.list_ids(
                "listGraphBackups",
                "backupList",
                path_parameters={"graph_id": graph.graph_id},
            )
            if listed is None:
                return
            for other in self.alive:
                for backup_id in other.backups:
                    mine = other is graph
                    observation = ges_checks.HierarchyObservation(
                        backup_id,
                        (),
                        stranger_lists=not mine and backup_id in listed,
                        owner_lists=(backup_id in listed) if mine else None,
                    )
                    driver.book.record(
                        "resource_hierarchy",
                        ges_checks.backups_stay_under_their_graph(observation),
                        driver.sequence(),
                    )

        @rule(graph=graphs, fail=failing)
        def import_graph(self, graph: GraphModel, fail: bool) -> None:
            lifecycle.act(graph, "importGraph", body=examples.import_body(fail))

        @rule(graph=graphs, fail=failing)
        def export_graph(self, graph: GraphModel, fail: bool) -> None:
            lifecycle.act(graph, "exportGraph", body=examples.export_body(fail))

        @rule(graph=graphs, clear_metadata=st.booleans())
        def clear_graph(self, graph: GraphModel, clear_metadata: bool) -> None:
            query = {"clear-metadata": "true" if clear_metadata else "false"}
            lifecycle.act(graph, "clearGraph", query=query)

        @rule(graph=graphs, fail=failing)
        def upgrade_graph(self, graph: GraphModel, fail: bool) -> None:
            body = {
                "upgradeVersion": next_version(graph.version, fail),
                "forceUpgrade": False,
            }
            lifecycle.act(graph, "upgradeGraph", body=body)

        @rule(graph=graphs)
        def bind_eip(self, graph: GraphModel) -> None:
            eip_id = graph.eip_id or driver.unknown_id()
            reply = lifecycle.act(graph, "bindEip", body={"eipId": eip_id})
            if reply.status_code == 200:
                graph.eip_id = eip_id

        @rule(graph=graphs)
        def unbind_eip(self, graph: GraphModel) -> None:
            eip_id = graph.eip_id or driver.unknown_id()
            reply = lifecycle.act(graph, "unbindEip", body={"eipId": eip_id})
            if reply.status_code == 200:
                graph.eip_id = None

        @rule(backup=consumes(backups))
        def delete_backup(self, backup: BackupRef) -> None:
            lifecycle.delete_backup(backup)

        @rule(graph=consumes(graphs))
        def delete_graph(self, graph: GraphModel) -> None:
            lifecycle.delete_graph(graph, verify=True)
            if graph.deleted and graph in self.alive:
                self.alive.remove(graph)

        @invariant()
        def within_budget(self) -> None:
            # The precondition on create_graph is what keeps this true; a
            # graph whose delete was rejected stays counted.
            assert len(self.alive) <= graph_budget

        def teardown(self) -> None:
            for graph in list(getattr(self, "alive", [])):
                lifecycle.delete_graph(graph, verify=False)
            for metadata_id in list(getattr(self, "records", [])):
                lifecycle.delete_metadata(metadata_id, verify=False)

    return GesLifecycle


def next_version(current: str, fail: bool) -> str:
    """Return a version above `current`; one ending in 99 when `fail` is set.

    The sandbox fails an upgrade to a version whose last part is 99 and
    rolls the graph back through status 203.
    """
    parts = [int(part) for part in current.split(".") if part.isdigit()] or [1, 0, 0]
    if fail:
        return ".".join(str(part) for part in [*parts[:-1], parts[-1] + 1, 99])
    parts[-1] += 1
    if parts[-1] % 100 == 99:
        parts[-1] += 1
    return ".".join(str(part) for part in parts)
