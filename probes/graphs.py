"""Collect each graph's status and versions, counts by status, and orphans."""

from __future__ import annotations

from collections import Counter
from typing import Any

import openapi
from probes import metrics
from probes.collect import (
    CollectContext,
    free_label,
    known_value,
    label,
    parse_wire_time,
)
from probes.state import Samples

OPERATION = "listGraphs"
PATH = "/v1.0/{project_id}/graphs"
SIZE_TYPES = openapi.schema_enum("GraphSizeTypeIndex")
ARCHITECTURES = openapi.schema_enum("Arch")
_KEPT_FIELDS = (
    "id", "name", "status", "dataStoreVersion", "graphSizeTypeIndex", "arch",
    "created",
)  # fmt: skip


def collect_graphs(context: CollectContext) -> Samples:
    client, target = context.client, context.target
    # Keyed by id: a graph on two pages, because the listing shifted while it
    # was paged, counts once. Only the fields used below are kept.
    by_id: dict[str, dict[str, Any]] = {}
    for page in client.list_pages(
        OPERATION, client.path(PATH), "graphs", "graphCount", target.page_limit
    ):
        for graph in page:
            if not isinstance(graph.get("id"), str) or not isinstance(
                graph.get("status"), str
            ):
                raise client.malformed(
                    OPERATION, "a graph has no string `id` or `status`"
                )
            by_id[graph["id"]] = {key: graph.get(key) for key in _KEPT_FIELDS}
    graphs = list(by_id.values())

    samples = Samples()
    known = context.graph_statuses
    by_status = Counter(known_value(graph["status"], known) for graph in graphs)
    for status, count in by_status.items():
        samples.set(metrics.GRAPH_BY_STATUS, (label(status),), count)

    # Sorting makes the exported subset the same from cycle to cycle when the
    # cap is hit, so series do not flap between graphs.
    graphs.sort(key=lambda graph: (str(graph.get("name") or ""), graph["id"]))
    exported = graphs[: target.max_exported_graphs]
    context.state.exported_graph_ids = {graph["id"] for graph in exported}
    for graph in exported:
        _add_graph(samples, graph, context)
    samples.set(metrics.PROBE_GRAPHS_EXPORTED, (), len(exported))
    samples.set(metrics.PROBE_GRAPHS_OMITTED, (), len(graphs) - len(exported))

    samples.set(metrics.GRAPH_ORPHANS, (), _count_orphans(context, graphs))
    return samples


def _add_graph(
    samples: Samples, graph: dict[str, Any], context: CollectContext
) -> None:
    known_statuses = context.graph_statuses
    graph_id = label(graph["id"])
    name = label(graph.get("name"))
    current = graph["status"]
    if current not in known_statuses:
        current = metrics.UNKNOWN_STATUS
    for status in (*known_statuses, metrics.UNKNOWN_STATUS):
        value = 1.0 if status == current else 0.0
        samples.set(metrics.GRAPH_STATUS, (graph_id, name, status), value)

    info = (
        graph_id,
        name,
        free_label(graph.get("dataStoreVersion"), "version", context.state),
        known_value(graph.get("graphSizeTypeIndex"), SIZE_TYPES),
        known_value(graph.get("arch"), ARCHITECTURES),
    )
    samples.set(metrics.GRAPH_INFO, info, 1.0)


def _count_orphans(context: CollectContext, graphs: list[dict[str, Any]]) -> int:
    target, state = context.target, context.state
    prefixes = target.orphan_prefixes
    orphans = 0
    candidates = []
    for graph in graphs:
        name = graph.get("name")
        if not isinstance(name, str) or not name.startswith(prefixes):
            continue
        candidates.append(graph["id"])
        created = parse_wire_time(graph.get("created"))
        if created is None:
            created = state.first_seen_at("graph:" + graph["id"], context.now)
        if context.now - created >= target.orphan_min_age_seconds:
            orphans += 1
    state.forget_unseen("graph:", candidates)
    return orphans
