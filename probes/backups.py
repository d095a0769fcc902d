"""Collect, per graph, the last successful backup and backups by status."""

from __future__ import annotations

from collections import Counter
from typing import Any

import openapi
from probes import metrics
from probes.collect import CollectContext, known_value, label, parse_epoch_millis
from probes.state import LabelValues, Samples

OPERATION = "listBackups"
PATH = "/v1.0/{project_id}/graphs/backups"
BACKUP_STATUSES = openapi.schema_enum("BackupStatus")


def collect_backups(context: CollectContext) -> Samples:
    client, target = context.client, context.target
    by_id: dict[str, dict[str, Any]] = {}
    for page in client.list_pages(
        OPERATION, client.path(PATH), "backupList", "backupCount", target.page_limit
    ):
        for backup in page:
            if not isinstance(backup.get("graphId"), str) or not isinstance(
                backup.get("status"), str
            ):
                raise client.malformed(
                    OPERATION, "a backup has no string `graphId` or `status`"
                )
            # Backups without an id cannot be distinguished, so each one counts.
            key = backup.get("id")
            by_id[key if isinstance(key, str) else f"#{len(by_id)}"] = backup
    backups = list(by_id.values())

    # The same cap as for graphs: per-graph series for at most max_exported
    # graphs. Graphs the graphs collection exports come first, then graphs
    # it does not list (deleted with their backups kept), by id so the choice
    # is stable between cycles.
    preferred = context.state.exported_graph_ids
    graph_ids = sorted(
        {backup["graphId"] for backup in backups},
        key=lambda graph_id: (graph_id not in preferred, graph_id),
    )
    exported = set(graph_ids[: target.max_exported_graphs])

    samples = Samples()
    names: dict[str, str] = {}
    by_status: Counter[tuple[str, str]] = Counter()
    last_success: dict[str, float] = {}
    for backup in backups:
        graph_id = backup["graphId"]
        if graph_id not in exported:
            continue
        names.setdefault(graph_id, label(backup.get("graphName")))
        by_status[(graph_id, known_value(backup["status"], BACKUP_STATUSES))] += 1
        ended = parse_epoch_millis(backup.get("endTimestamp"))
        if backup["status"] == "success" and ended is not None:
            last_success[graph_id] = max(ended, last_success.get(graph_id, 0.0))

    for (graph_id, status), count in by_status.items():
        labels: LabelValues = (label(graph_id), names[graph_id], label(status))
        samples.set(metrics.BACKUP_BY_STATUS, labels, count)
    for graph_id, ended in last_success.items():
        labels = (label(graph_id), names[graph_id])
        samples.set(metrics.BACKUP_LAST_SUCCESS, labels, ended)

    samples.set(metrics.BACKUP_ORPHANS, (), _count_orphans(context, backups))
    return samples


def _count_orphans(context: CollectContext, backups: list[dict[str, Any]]) -> int:
    target, state = context.target, context.state
    prefixes = target.orphan_prefixes
    orphans = 0
    candidates = []
    for backup in backups:
        names = (backup.get("name"), backup.get("graphName"))
        if not any(isinstance(n, str) and n.startswith(prefixes) for n in names):
            continue
        backup_id = str(backup.get("id"))
        candidates.append(backup_id)
        started = parse_epoch_millis(backup.get("startTimestamp"))
        if started is None:
            started = state.first_seen_at("backup:" + backup_id, context.now)
        if context.now - started >= target.orphan_min_age_seconds:
            orphans += 1
    state.forget_unseen("backup:", candidates)
    return orphans
