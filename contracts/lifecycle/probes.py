"""Driven probes: short fixed request sequences, one per GES check.

The state machine observes checks 1, 2 and parts of 4 and 6 while it runs;
these probes send their own requests for the rest, against resources the
phase created for them (`Fixture`). Each probe starts its own call sequence,
so a finding reproduces as the probe's requests alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from contracts import ges_checks
from contracts.ges_checks import Reply
from contracts.lifecycle.driver import Driver, NotSentError, Project
from contracts.lifecycle.machine import BackupRef, GraphModel, Lifecycle

# List operations and where their items and ids are.
LISTS = (
    ("listGraphs", "graphs", "graphCount", "id"),
    ("listBackups", "backupList", "backupCount", "id"),
    ("listMetadatas", "schemaList", "schemaCount", "id"),
    ("listJobs", "jobList", "jobCount", "jobId"),
)
GRAPH_BACKUPS = ("listGraphBackups", "backupList", "backupCount", "id")
# Windows a list is walked in, at least: small enough to need several pages.
PAGE_WINDOWS = 4
# A list longer than this is not fetched in one page for the gap check,
# because GES documents no maximum `limit`.
MAX_FULL_PAGE = 100
OUT_OF_RANGE_QUERIES = ({"offset": -1}, {"limit": 0}, {"limit": -5})
OVERSIZED_ID_LENGTH = 2048


@dataclass
class Fixture:
    """Resources the probes act on: two graphs when the budget allows."""

    graph: GraphModel | None = None
    other_graph: GraphModel | None = None
    backup_id: str | None = None
    metadata_ids: list[str] = field(default_factory=list)
    job_id: str | None = None


def build_fixture(
    lifecycle: Lifecycle, graph_budget: int, fixture: Fixture | None = None
) -> Fixture:
    """Create the probes' graphs, backup and metadata records into `fixture`.

    A create the request guard rejects ends the fixture where it is: the
    probes then run on what it holds.
    """
    fixture = Fixture() if fixture is None else fixture
    try:
        _fill_fixture(lifecycle, graph_budget, fixture)
    except NotSentError:
        pass
    return fixture


def _fill_fixture(lifecycle: Lifecycle, graph_budget: int, fixture: Fixture) -> None:
    examples = lifecycle.examples
    for _ in range(2):
        metadata_id = lifecycle.create_metadata(examples.name("md"))
        if metadata_id is not None:
            fixture.metadata_ids.append(metadata_id)
    if graph_budget < 1:
        return
    fixture.graph = lifecycle.create_graph(examples.name("graph"))
    if fixture.graph is None:
        return
    if graph_budget >= 2:
        fixture.other_graph = lifecycle.create_graph(examples.name("graph"))
    driver = lifecycle.driver
    reply = driver.call("createBackup", {"graph_id": fixture.graph.graph_id})
    body = reply.body if isinstance(reply.body, dict) else {}
    if reply.status_code == 200 and isinstance(body.get("jobId"), str):
        fixture.job_id = body["jobId"]
        driver.await_job(
            "createBackup", fixture.graph.graph_id, reply, graph_name=fixture.graph.name
        )
        listed = driver.list_ids(
            "listGraphBackups",
            "backupList",
            path_parameters={"graph_id": fixture.graph.graph_id},
        )
        if listed:
            fixture.backup_id = listed[-1]
            fixture.graph.backups.append(listed[-1])


# -- 3. pagination --------------------------------------------------------------


def probe_pagination(driver: Driver, fixture: Fixture) -> None:
    """Walk every list in small windows and send out-of-range windows."""
    lists: list[tuple[str, str, str, str, dict[str, str]]] = [
        (*spec, {}) for spec in LISTS
    ]
    if fixture.graph is not None:
        lists.append((*GRAPH_BACKUPS, {"graph_id": fixture.graph.graph_id}))
    for operation_id, key, count_key, id_field, path in lists:
        driver.begin_sequence()
        observation = _walk(driver, operation_id, key, count_key, id_field, path)
        if observation is None:
            continue
        driver.book.record(
            "pagination",
            ges_checks.pages_partition_list(observation),
            driver.sequence(),
        )


def _page(
    driver: Driver,
    operation_id: str,
    key: str,
    count_key: str,
    id_field: str,
    path: dict[str, str],
    offset: int,
    limit: int,
) -> ges_checks.Page | None:
    reply = driver.call(operation_id, path, query={"offset": offset, "limit": limit})
    body = reply.body if isinstance(reply.body, dict) else {}
    items = body.get(key)
    if reply.status_code != 200 or not isinstance(items, list):
        return None
    ids = tuple(str(item.get(id_field)) for item in items if isinstance(item, dict))
    count = body.get(count_key)
    return ges_checks.Page(
        offset, limit, ids, count if isinstance(count, int) else None
    )


def _walk(
    driver: Driver,
    operation_id: str,
    key: str,
    count_key: str,
    id_field: str,
    path: dict[str, str],
) -> ges_checks.PaginationObservation | None:
    def page(offset: int, limit: int) -> ges_checks.Page | None:
        return _page(
            driver, operation_id, key, count_key, id_field, path, offset, limit
        )

    first = page(0, 1)
    if first is None:
        return None
    total = first.count if first.count is not None else len(first.ids)
    window = max(1, math.ceil(total / PAGE_WINDOWS))
    pages = []
    offset = 0
    # One window past the count, so that a list longer than its count shows.
    while offset <= total:
        current = page(offset, window)
        if current is None:
            return None
        pages.append(current)
        if not current.ids:
            break
        offset += window
    full = None
    if total <= MAX_FULL_PAGE:
        whole = page(0, max(total, 1))
        full = whole.ids if whole is not None else None
    out_of_range = tuple(
        driver.call(operation_id, path, query=query) for query in OUT_OF_RANGE_QUERIES
    )
    return ges_checks.PaginationObservation(
        operation_id, tuple(pages), full, out_of_range
    )


# -- 5. project_isolation -----------------------------------------------------


def probe_isolation(
    driver: Driver, fixture: Fixture, other: Project, *, mutations: bool
) -> None:
    """Reach this project's resources with the other project's credentials."""
    driver.begin_sequence()
    own_path = Project(driver.home.project_id, other.credentials)
    attempts: list[Reply] = []
    targets: list[tuple[str, dict[str, str]]] = []
    if fixture.graph is not None:
        graph_id = fixture.graph.graph_id
        targets += [
            ("showGraph", {"graph_id": graph_id}),
            ("listGraphBackups", {"graph_id": graph_id}),
        ]
        if fixture.job_id is not None:
            targets.append(
                ("showJob", {"graph_id": graph_id, "job_id": fixture.job_id})
            )
        if mutations:
            targets.append(("stopGraph", {"graph_id": graph_id}))
            if fixture.backup_id is not None:
                targets.append(
                    (
                        "deleteBackup",
                        {"graph_id": graph_id, "backup_id": fixture.backup_id},
                    )
                )
    for metadata_id in fixture.metadata_ids[:1]:
        targets.append(("showMetadata", {"metadata_id": metadata_id}))
        if mutations:
            targets.append(("deleteMetadata", {"metadata_id": metadata_id}))
    for operation_id, path in targets:
        # Through the other project's own path, and through this project's
        # path with the other project's token.
        for project in (other, own_path):
            reply = driver.try_call(operation_id, path, project=project)
            if reply is not None:
                attempts.append(reply)

    own_ids = set(fixture.metadata_ids)
    for graph in (fixture.graph, fixture.other_graph):
        if graph is not None:
            own_ids.add(graph.graph_id)
    if fixture.backup_id is not None:
        own_ids.add(fixture.backup_id)
    listed: set[str] = set()
    for operation_id, key, _, id_field in LISTS:
        reply = driver.call(operation_id, query={"limit": 100}, project=other)
        items = reply.body.get(key) if isinstance(reply.body, dict) else None
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and item.get(id_field) in own_ids:
                listed.add(str(item[id_field]))
    observation = ges_checks.IsolationObservation(
        tuple(attempts), tuple(sorted(listed))
    )
    driver.book.record(
        "project_isolation",
        ges_checks.projects_are_isolated(observation),
        driver.sequence(),
    )


# -- 6. resource_hierarchy ----------------------------------------------------


def probe_hierarchy(driver: Driver, fixture: Fixture) -> None:
    """Reach the fixture's backup through another graph's path."""
    if fixture.graph is None or fixture.backup_id is None:
        return
    driver.begin_sequence()
    strangers = [driver.unknown_id()]
    if fixture.other_graph is not None:
        strangers.insert(0, fixture.other_graph.graph_id)
    attempts = []
    stranger_lists = False
    for stranger in strangers:
        ids = {"graph_id": stranger, "backup_id": fixture.backup_id}
        reply = driver.try_call("deleteBackup", ids)
        if reply is not None:
            attempts.append(reply)
        listed = driver.list_ids(
            "listGraphBackups", "backupList", path_parameters={"graph_id": stranger}
        )
        stranger_lists = stranger_lists or fixture.backup_id in (listed or [])
    owner = driver.list_ids(
        "listGraphBackups",
        "backupList",
        path_parameters={"graph_id": fixture.graph.graph_id},
    )
    observation = ges_checks.HierarchyObservation(
        fixture.backup_id,
        tuple(attempts),
        stranger_lists=stranger_lists,
        owner_lists=None if owner is None else fixture.backup_id in owner,
    )
    driver.book.record(
        "resource_hierarchy",
        ges_checks.backups_stay_under_their_graph(observation),
        driver.sequence(),
    )


# -- 7. no_leftovers_no_leakage -----------------------------------------------


def probe_refused_creates(lifecycle: Lifecycle, fixture: Fixture) -> None:
    """Send creates GES must reject, then look for what they left behind."""
    driver = lifecycle.driver
    examples = lifecycle.examples
    cases: list[tuple[str, str, dict[str, object], str, str]] = []
    bad_graph = examples.name("bad-graph!")
    cases.append(
        (
            "a createGraph with an invalid name",
            "createGraph",
            examples.graph(bad_graph),
            "listGraphs",
            bad_graph,
        )
    )
    bad_metadata = examples.name("bad metadata?")
    cases.append(
        (
            "a createMetadata with an invalid name",
            "createMetadata",
            examples.metadata(bad_metadata),
            "listMetadatas",
            bad_metadata,
        )
    )
    if fixture.graph is not None:
        cases.append(
            (
                "a createGraph reusing an existing name",
                "createGraph",
                examples.graph(fixture.graph.name),
                "listGraphs",
                fixture.graph.name,
            )
        )
    for what, operation_id, body, list_id, name in cases:
        driver.begin_sequence()
        try:
            reply = driver.call(operation_id, body=body)
        except NotSentError as exc:
            driver.book.not_run("no_leftovers_no_leakage", f"{what}: {exc}")
            continue
        leftovers = _named(driver, list_id, name)
        if fixture.graph is not None and name == fixture.graph.name:
            leftovers = [i for i in leftovers if i != fixture.graph.graph_id]
        observation = ges_checks.RefusedCreate(what, reply, tuple(leftovers))
        driver.book.record(
            "no_leftovers_no_leakage",
            ges_checks.refusals_leave_no_trace(observation),
            driver.sequence(),
            reply.status_code,
        )


def _named(driver: Driver, operation_id: str, name: str) -> list[str]:
    key = "graphs" if operation_id == "listGraphs" else "schemaList"
    reply = driver.call(operation_id, query={"limit": 100})
    items = reply.body.get(key) if isinstance(reply.body, dict) else None
    return [
        str(item.get("id"))
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict) and item.get("name") == name
    ]


# -- 8. bad_ids -----------------------------------------------------------------


def bad_ids(unknown: str) -> tuple[tuple[str, str], ...]:
    """The kinds of bad id and a value of each."""
    return (
        ("malformed", "not*a(valid)id!"),
        ("unknown", unknown),
        ("oversized", "a" * OVERSIZED_ID_LENGTH),
    )


def probe_bad_ids(driver: Driver, fixture: Fixture, *, mutations: bool) -> None:
    """Send every id-taking operation bad values of each id it takes."""
    graph_id = (
        fixture.graph.graph_id if fixture.graph is not None else driver.unknown_id()
    )
    job_id = fixture.job_id or driver.unknown_id()
    reads = [
        ("showGraph", "graph_id", {}),
        ("listGraphBackups", "graph_id", {}),
        ("showMetadata", "metadata_id", {}),
        ("showJob", "job_id", {"graph_id": graph_id}),
        ("showJob", "graph_id", {"job_id": job_id}),
    ]
    writes = [
        ("deleteGraph", "graph_id", {}),
        ("stopGraph", "graph_id", {}),
        ("createBackup", "graph_id", {}),
        ("deleteBackup", "backup_id", {"graph_id": graph_id}),
        ("deleteMetadata", "metadata_id", {}),
    ]
    for operation_id, parameter, fixed in reads + (writes if mutations else []):
        driver.begin_sequence()
        for kind, value in bad_ids(driver.unknown_id()):
            reply = driver.try_call(operation_id, {**fixed, parameter: value})
            if reply is None:
                continue
            attempt = ges_checks.BadIdAttempt(kind, parameter, reply)
            driver.book.record(
                "bad_ids",
                ges_checks.bad_ids_are_rejected(attempt),
                driver.sequence(),
                reply.status_code,
            )


# -- 9. quota_accounting ------------------------------------------------------


def graph_quota(driver: Driver) -> int | None:
    reply = driver.call("listQuotas")
    quotas = reply.body.get("quotas") if isinstance(reply.body, dict) else None
    resources = quotas.get("resources") if isinstance(quotas, dict) else None
    for entry in resources if isinstance(resources, list) else []:
        if isinstance(entry, dict) and entry.get("type") == "graph":
            available = entry.get("available")
            return available if isinstance(available, int) else None
    return None


def probe_quota(
    lifecycle: Lifecycle, *, graph_budget: int, skip: Callable[[str], None]
) -> None:
    """Create and delete a graph around quota reads; fill the quota if affordable.

    Filling takes `available` graphs at once; it is done only when that
    many fit in `graph_budget`, and is otherwise reported as skipped.
    """
    driver = lifecycle.driver
    examples = lifecycle.examples
    driver.begin_sequence()
    before = graph_quota(driver)
    created: list[GraphModel] = []
    name = examples.name("quota")
    reply = driver.call("createGraph", body=examples.graph(name))
    body = reply.body if isinstance(reply.body, dict) else {}
    if reply.status_code == 200 and isinstance(body.get("id"), str):
        created.append(GraphModel(body["id"], name, status="100"))
    after_create = graph_quota(driver) if created else None
    beyond = None
    if after_create is not None and after_create + len(created) <= graph_budget:
        beyond = _fill_quota(lifecycle, after_create, created)
    elif after_create is not None:
        skip(
            f"creation beyond the quota needs {after_create + 1} more graphs at "
            f"once; --max-graphs allows {graph_budget}"
        )
    for graph in reversed(created):
        driver.wait_settled(graph.graph_id, [])
        lifecycle.delete_graph(graph, verify=False)
    after_delete = graph_quota(driver) if created else None
    observation = ges_checks.QuotaObservation(
        before, after_create, after_delete, beyond
    )
    driver.book.record(
        "quota_accounting",
        ges_checks.quota_is_accounted(observation),
        driver.sequence(),
    )


def _fill_quota(
    lifecycle: Lifecycle, available: int, created: list[GraphModel]
) -> Reply | None:
    driver = lifecycle.driver
    examples = lifecycle.examples
    for _ in range(available):
        name = examples.name("quota")
        reply = driver.call("createGraph", body=examples.graph(name))
        body = reply.body if isinstance(reply.body, dict) else {}
        if reply.status_code != 200 or not isinstance(body.get("id"), str):
            return None
        created.append(GraphModel(body["id"], name, status="100"))
    name = examples.name("quota")
    beyond = driver.call("createGraph", body=examples.graph(name))
    body = beyond.body if isinstance(beyond.body, dict) else {}
    if beyond.status_code == 200 and isinstance(body.get("id"), str):
        created.append(GraphModel(body["id"], name, status="100"))
    leftovers = [] if beyond.status_code == 200 else _named(driver, "listGraphs", name)
    driver.book.record(
        "no_leftovers_no_leakage",
        ges_checks.refusals_leave_no_trace(
            ges_checks.RefusedCreate(
                "a createGraph beyond the graph quota", beyond, tuple(leftovers)
            )
        ),
        driver.sequence(),
        beyond.status_code,
    )
    return beyond


# -- 4. use_after_delete ------------------------------------------------------


def probe_use_after_delete(lifecycle: Lifecycle, fixture: Fixture) -> None:
    """Delete the fixture's backup, metadata and graphs, checking each is gone."""
    driver = lifecycle.driver
    if fixture.graph is not None and fixture.backup_id is not None:
        driver.begin_sequence()
        lifecycle.delete_backup(BackupRef(fixture.graph, fixture.backup_id))
    for metadata_id in fixture.metadata_ids:
        driver.begin_sequence()
        lifecycle.delete_metadata(metadata_id, verify=True)
    for graph in (fixture.other_graph, fixture.graph):
        if graph is not None:
            driver.begin_sequence()
            driver.wait_settled(graph.graph_id, [])
            lifecycle.delete_graph(graph, verify=True)
