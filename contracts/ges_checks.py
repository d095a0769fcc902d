"""The GES rules of the stateful phase, one function per rule.

Each function takes what the gate observed (an observation value built by
`contracts.lifecycle`) and returns the problems it found; an empty list means
the rule held. Nothing here sends a request, prints or logs: the lifecycle
driver records every problem as a finding of the check named in `CHECKS`.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemathesis.core.failures import Severity

from contracts.checks import GES_ERROR_CODE, envelope_problem

# Check name -> what it asserts, in the order the summary lists them.
CHECKS: dict[str, str] = {
    "async_job_contract": "asynchronous operations return a jobId whose job "
    "finishes in time, is listed, and has consistent times and a failReason",
    "graph_state_machine": "observed graph statuses follow the status table; "
    "actions in the wrong status are rejected with a documented code",
    "pagination": "offset/limit pages partition a list, the count is the "
    "total, and out-of-range values are rejected",
    "use_after_delete": "a deleted graph, backup or metadata record is gone "
    "from show and list, and actions on it are rejected",
    "project_isolation": "another project's credentials neither see nor "
    "change this project's resources",
    "resource_hierarchy": "a backup is reachable only through its own graph",
    "no_leftovers_no_leakage": "a rejected create leaves nothing behind; "
    "error bodies carry no stack trace, file path or internal address",
    "bad_ids": "malformed, unknown and oversized ids are rejected with 4xx GES errors",
    "quota_accounting": "creating a graph takes one from the graph quota, "
    "deleting it gives it back, and creation beyond the quota is rejected",
    "error_envelope": "every error body is a GES or API gateway envelope",
}

JOB_TERMINAL_STATUSES = frozenset({"success", "failed"})
QUOTA_EXCEEDED_CODE = "GES.7018"
_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Problem:
    """One way a rule was broken: a title and what was expected and received."""

    title: str
    expected: str
    received: str
    severity: Severity = Severity.HIGH

    @property
    def message(self) -> str:
        return f"Expected {self.expected}; received {self.received}."


@dataclass(frozen=True)
class Reply:
    """One response as a check sees it: the request line, status and JSON body."""

    request: str
    status_code: int
    body: Any
    text: str = ""

    @property
    def error_code(self) -> str | None:
        if not isinstance(self.body, dict):
            return None
        code = self.body.get("errorCode") or self.body.get("error_code")
        return code if isinstance(code, str) else None

    def describe(self) -> str:
        code = self.error_code
        suffix = f" {code}" if code else ""
        return f"HTTP {self.status_code}{suffix} for `{self.request}`"


def _rejection_problems(reply: Reply, what: str, *, gateway_ok: bool) -> list[Problem]:
    """Require `reply` to be a 4xx carrying a GES (or, if allowed, gateway) error."""
    if 200 <= reply.status_code < 300:
        return [
            Problem(
                f"{what} was accepted",
                "a 4xx GES error",
                reply.describe(),
                Severity.CRITICAL,
            )
        ]
    if reply.status_code >= 500:
        return [
            Problem(
                f"{what} caused a server error",
                "a 4xx GES error",
                reply.describe(),
                Severity.CRITICAL,
            )
        ]
    if not 400 <= reply.status_code < 500:
        return [Problem(f"{what} got no 4xx", "a 4xx GES error", reply.describe())]
    code = reply.error_code or ""
    if GES_ERROR_CODE.fullmatch(code):
        return []
    if gateway_ok and envelope_problem(reply.body) is None:
        return []
    return [
        Problem(
            f"{what} was rejected without a GES error code",
            "`errorCode` matching `GES.nnnn`",
            reply.describe(),
        )
    ]


# -- 1. async_job_contract ----------------------------------------------------


@dataclass(frozen=True)
class JobObservation:
    """An asynchronous call, and what polling its job showed.

    `final` is the last showJob body (None when polling never got one),
    `listed` whether listJobs returned the job (None when not looked up).
    """

    operation_id: str
    accepted: Reply
    final: Mapping[str, Any] | None = None
    timed_out: bool = False
    deadline_seconds: float = 0.0
    listed: bool | None = None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    for layout in _TIME_FORMATS:
        try:
            return datetime.strptime(value[:19], layout)
        except ValueError:
            continue
    return None


def async_jobs_complete(observation: JobObservation) -> list[Problem]:
    """Require a jobId, a terminal status in time, a listing and sane job fields."""
    accepted = observation.accepted
    if accepted.status_code != 200:
        return []
    body = accepted.body if isinstance(accepted.body, dict) else {}
    job_id = body.get("jobId")
    if not isinstance(job_id, str) or not job_id:
        return [
            Problem(
                "Asynchronous operation returned no jobId",
                f"`{observation.operation_id}` to return a non-empty `jobId`",
                f"{accepted.describe()} with body {accepted.text[:200]!r}",
                Severity.CRITICAL,
            )
        ]
    problems = []
    if observation.timed_out:
        status = (observation.final or {}).get("status")
        problems.append(
            Problem(
                "Job did not finish before the deadline",
                f"job `{job_id}` to reach success or failed within "
                f"{observation.deadline_seconds:g} s",
                f"status {status!r} at the deadline",
            )
        )
    final = observation.final
    if final is not None and not observation.timed_out:
        problems += _finished_job_problems(job_id, final)
    if observation.listed is False:
        problems.append(
            Problem(
                "Job missing from listJobs",
                f"listJobs to include job `{job_id}`",
                "a job list without it",
            )
        )
    return problems


def _finished_job_problems(job_id: str, final: Mapping[str, Any]) -> list[Problem]:
    problems = []
    status = final.get("status")
    if status not in JOB_TERMINAL_STATUSES:
        return [
            Problem(
                "Job reported no terminal status",
                f"job `{job_id}` status success or failed",
                f"status {status!r}",
            )
        ]
    begin, end = _parse_time(final.get("beginTime")), _parse_time(final.get("endTime"))
    if begin is not None and end is not None and begin > end:
        problems.append(
            Problem(
                "Job ended before it began",
                f"`beginTime` no later than `endTime` for job `{job_id}`",
                f"beginTime {final.get('beginTime')!r}, "
                f"endTime {final.get('endTime')!r}",
            )
        )
    reason = final.get("failReason")
    if status == "failed" and (not isinstance(reason, str) or not reason.strip()):
        problems.append(
            Problem(
                "Failed job has no failReason",
                f"a non-empty `failReason` for failed job `{job_id}`",
                f"failReason {reason!r}",
            )
        )
    return problems


# -- 2. graph_state_machine ---------------------------------------------------


@dataclass(frozen=True)
class StatusTrace:
    """Graph statuses in the order polling saw them (repeats collapsed)."""

    graph_id: str
    statuses: tuple[str, ...]


@dataclass(frozen=True)
class WrongStatusAttempt:
    """An action sent to a graph whose status does not allow it."""

    operation_id: str
    graph_status: str
    reply: Reply
    documented_codes: tuple[str, ...]


def _reachable(
    start: str,
    end: str,
    transitions: Mapping[str, Iterable[str]],
    transitional: frozenset[str],
) -> bool:
    """Tell whether `end` follows `start` directly or through transitional statuses."""
    frontier, seen = [start], {start}
    while frontier:
        status = frontier.pop()
        for target in transitions.get(status, ()):
            if target == end:
                return True
            if target in transitional and target not in seen:
                seen.add(target)
                frontier.append(target)
    return False


def graph_statuses_follow_table(
    observation: StatusTrace | WrongStatusAttempt,
    transitions: Mapping[str, Iterable[str]],
    transitional: frozenset[str],
) -> list[Problem]:
    """Require legal status moves, and documented refusals of wrong-status actions.

    Polling can miss a status that lasts less than one poll interval, so a
    move from A to B is legal when B is in A's `x-ges-transitions` entry or is
    reached through a path whose in-between statuses are all transitional
    (`x-ges-transitional`): a missed stable status would have been seen.
    """
    if isinstance(observation, WrongStatusAttempt):
        return _wrong_status_problems(observation)
    problems = []
    statuses = observation.statuses
    for before, after in itertools.pairwise(statuses):
        if before not in transitions:
            problems.append(
                Problem(
                    "Graph reported an unknown status",
                    f"one of {sorted(transitions)}",
                    f"status {before!r} on graph `{observation.graph_id}`",
                )
            )
            continue
        if not _reachable(before, after, transitions, transitional):
            problems.append(
                Problem(
                    "Illegal graph status transition",
                    f"a move from {before!r} to one of "
                    f"{sorted(transitions[before])} (or via transitional statuses)",
                    f"{before!r} -> {after!r} on graph `{observation.graph_id}` "
                    f"(sequence {' -> '.join(statuses)})",
                )
            )
    return problems


def _wrong_status_problems(attempt: WrongStatusAttempt) -> list[Problem]:
    what = f"`{attempt.operation_id}` on a graph in status {attempt.graph_status!r}"
    problems = _rejection_problems(attempt.reply, what, gateway_ok=False)
    if problems:
        return problems
    code = attempt.reply.error_code
    if attempt.documented_codes and code not in attempt.documented_codes:
        return [
            Problem(
                "Wrong-status action rejected with an undocumented code",
                f"one of {', '.join(attempt.documented_codes)} for {what}",
                attempt.reply.describe(),
                Severity.MEDIUM,
            )
        ]
    return []


# -- 3. pagination --------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One window of a list: the query sent and what came back."""

    offset: int
    limit: int
    ids: tuple[str, ...]
    count: int | None


@dataclass(frozen=True)
class PaginationObservation:
    """A walk over a list in windows, its full listing, and out-of-range probes.

    `full_ids` is the list fetched in one page, or None when it was too long.
    """

    operation_id: str
    pages: tuple[Page, ...]
    full_ids: tuple[str, ...] | None
    out_of_range: tuple[Reply, ...] = ()


def pages_partition_list(observation: PaginationObservation) -> list[Problem]:
    """Require the windows to cover the list once each and to count it right."""
    name = observation.operation_id
    problems = []
    walked = [item for page in observation.pages for item in page.ids]
    duplicates = sorted(item for item, n in Counter(walked).items() if n > 1)
    if duplicates:
        problems.append(
            Problem(
                "Pages overlap",
                f"each item of `{name}` on exactly one page",
                f"{len(duplicates)} items on several pages, such as `{duplicates[0]}`",
            )
        )
    for page in observation.pages:
        if len(page.ids) > page.limit:
            problems.append(
                Problem(
                    "Page longer than its limit",
                    f"at most {page.limit} items at offset {page.offset}",
                    f"{len(page.ids)} items",
                )
            )
    if observation.full_ids is not None:
        missing = sorted(set(observation.full_ids) - set(walked))
        if missing:
            problems.append(
                Problem(
                    "Pages leave a gap",
                    f"every item of the full `{name}` list on some page",
                    f"{len(missing)} items on no page, such as `{missing[0]}`",
                )
            )
    total = len(set(walked))
    counts = {page.count for page in observation.pages if page.count is not None}
    if counts and counts != {total}:
        problems.append(
            Problem(
                "Count field differs from the number of items",
                f"the count field of `{name}` to equal {total}, the items listed",
                f"counts {sorted(counts)}",
            )
        )
    for reply in observation.out_of_range:
        problems += _rejection_problems(
            reply, f"Out-of-range page `{reply.request}`", gateway_ok=False
        )
    return problems


# -- 4. use_after_delete ------------------------------------------------------


@dataclass(frozen=True)
class AfterDeleteObservation:
    """Requests about a resource after its deletion finished."""

    kind: str
    resource_id: str
    listed: bool | None
    attempts: tuple[Reply, ...] = ()


def deleted_resources_stay_gone(observation: AfterDeleteObservation) -> list[Problem]:
    """Require a deleted resource to be absent from lists and rejected everywhere."""
    problems = []
    if observation.listed:
        problems.append(
            Problem(
                f"Deleted {observation.kind} still listed",
                f"no {observation.kind} `{observation.resource_id}` in the list",
                "the list still contains it",
            )
        )
    for reply in observation.attempts:
        what = f"A request for deleted {observation.kind} `{observation.resource_id}`"
        problems += _rejection_problems(reply, what, gateway_ok=False)
    return problems


# -- 5. project_isolation -----------------------------------------------------


@dataclass(frozen=True)
class IsolationObservation:
    """Requests made with another project's credentials for this project's ids."""

    attempts: tuple[Reply, ...]
    foreign_ids_listed: tuple[str, ...] = ()


def projects_are_isolated(observation: IsolationObservation) -> list[Problem]:
    """Require another project to neither see nor change this project's resources."""
    problems = []
    if observation.foreign_ids_listed:
        problems.append(
            Problem(
                "Another project lists this project's resources",
                "none of this project's ids in the other project's lists",
                f"{len(observation.foreign_ids_listed)} ids, such as "
                f"`{observation.foreign_ids_listed[0]}`",
                Severity.CRITICAL,
            )
        )
    for reply in observation.attempts:
        if 200 <= reply.status_code < 300:
            problems.append(
                Problem(
                    "Another project reached this project's resource",
                    "a 4xx error",
                    reply.describe(),
                    Severity.CRITICAL,
                )
            )
        elif reply.status_code >= 500:
            problems.append(
                Problem(
                    "Cross-project request caused a server error",
                    "a 4xx error",
                    reply.describe(),
                )
            )
    return problems


# -- 6. resource_hierarchy ----------------------------------------------------


@dataclass(frozen=True)
class HierarchyObservation:
    """Attempts to reach a backup through a graph it does not belong to.

    `owner_lists` is whether its own graph still lists it afterwards,
    `stranger_lists` whether the other graph's backup list showed it.
    """

    backup_id: str
    attempts: tuple[Reply, ...]
    stranger_lists: bool = False
    owner_lists: bool | None = True


def backups_stay_under_their_graph(observation: HierarchyObservation) -> list[Problem]:
    """Require a backup to be invisible and untouchable through another graph."""
    problems = []
    backup = observation.backup_id
    if observation.stranger_lists:
        problems.append(
            Problem(
                "Another graph lists the backup",
                f"backup `{backup}` only in its own graph's backup list",
                "another graph's list contains it",
            )
        )
    for reply in observation.attempts:
        what = f"A request for backup `{backup}` through another graph"
        problems += _rejection_problems(reply, what, gateway_ok=False)
    if observation.owner_lists is False:
        problems.append(
            Problem(
                "Backup lost from its own graph",
                f"backup `{backup}` still listed under its own graph",
                "the owner's list no longer contains it",
                Severity.CRITICAL,
            )
        )
    return problems


# -- 7. no_leftovers_no_leakage -----------------------------------------------


@dataclass(frozen=True)
class RefusedCreate:
    """A create the service should reject, and what existed with its name after."""

    what: str
    reply: Reply
    leftover_ids: tuple[str, ...] = ()


# Traces of server internals in an error body: a Python or Java stack trace,
# an absolute file path, or a loopback or private (RFC 1918) address.
_LEAKS = (
    ("a stack trace", re.compile(r"Traceback \(most recent call last\)")),
    ("a stack trace", re.compile(r'File "[^"]+", line \d+')),
    ("a stack trace", re.compile(r"\bat [\w$.]+\([\w$]+\.java:\d+\)")),
    (
        "a file path",
        re.compile(r"(?<![\w./-])/(?:usr|home|opt|var|etc|srv|tmp|root|app)/[\w./-]+"),
    ),
    ("a file path", re.compile(r"\b[A-Za-z]:\\[\w\\. -]+")),
    ("a file path", re.compile(r"site-packages|\.py\b")),
    (
        "an internal address",
        re.compile(
            r"\b(?:127\.\d{1,3}|10\.\d{1,3}|192\.168|172\.(?:1[6-9]|2\d|3[01]))"
            r"\.\d{1,3}\.\d{1,3}\b"
        ),
    ),
    ("an internal address", re.compile(r"\blocalhost(?::\d+)?\b")),
)


def leaked_details(text: str) -> list[tuple[str, str]]:
    """Find traces of server internals in `text`: (kind, matched text) pairs."""
    found = []
    for kind, pattern in _LEAKS:
        match = pattern.search(text)
        if match is not None:
            found.append((kind, match.group(0)))
    return found


def refusals_leave_no_trace(observation: RefusedCreate | Reply) -> list[Problem]:
    """Require a rejected create to leave nothing, and error bodies to hide internals.

    A `Reply` is checked only for leaks (when it is an error); a
    `RefusedCreate` also for being rejected and for leftovers.
    """
    if isinstance(observation, Reply):
        return _leak_problems(observation)
    problems = _rejection_problems(
        observation.reply, observation.what, gateway_ok=False
    )
    if observation.leftover_ids:
        problems.append(
            Problem(
                "Rejected create left a resource behind",
                f"nothing created by {observation.what}",
                f"{len(observation.leftover_ids)} resources, such as "
                f"`{observation.leftover_ids[0]}`",
                Severity.CRITICAL,
            )
        )
    return problems + _leak_problems(observation.reply)


def _leak_problems(reply: Reply) -> list[Problem]:
    if reply.status_code < 400:
        return []
    return [
        Problem(
            "Error body leaks server internals",
            "an error body without stack traces, file paths or internal addresses",
            f"{kind} `{matched[:80]}` in {reply.describe()}",
            Severity.HIGH,
        )
        for kind, matched in leaked_details(reply.text)
    ]


# -- 8. bad_ids -----------------------------------------------------------------


@dataclass(frozen=True)
class BadIdAttempt:
    """A request whose id parameter is malformed, unknown or oversized."""

    kind: str
    parameter: str
    reply: Reply


def bad_ids_are_rejected(attempt: BadIdAttempt) -> list[Problem]:
    """Require a 4xx GES error for a bad id.

    An oversized id may also get the API gateway's envelope, because a
    gateway may reject an over-long URL before GES sees it.
    """
    what = f"A request with a {attempt.kind} `{attempt.parameter}`"
    return _rejection_problems(
        attempt.reply, what, gateway_ok=attempt.kind == "oversized"
    )


# -- 9. quota_accounting ------------------------------------------------------


@dataclass(frozen=True)
class QuotaObservation:
    """`available` of quota type `graph` around one create and delete.

    `beyond` is the create sent once `available` reached 0, if any.
    """

    before: int | None
    after_create: int | None
    after_delete: int | None
    beyond: Reply | None = None


def quota_is_accounted(observation: QuotaObservation) -> list[Problem]:
    """Require create to take one graph quota, delete to return it, excess to fail."""
    problems = []
    before = observation.before
    if before is None:
        return [
            Problem(
                "No graph quota reported",
                "listQuotas to report `available` for type `graph`",
                "no such entry",
            )
        ]
    if observation.after_create is not None and observation.after_create != before - 1:
        problems.append(
            Problem(
                "Creating a graph did not take one quota",
                f"`available` {before - 1} after one create (was {before})",
                f"`available` {observation.after_create}",
            )
        )
    if observation.after_delete is not None and observation.after_delete != before:
        problems.append(
            Problem(
                "Deleting the graph did not give the quota back",
                f"`available` {before} after the delete",
                f"`available` {observation.after_delete}",
            )
        )
    beyond = observation.beyond
    if beyond is not None:
        rejected = _rejection_problems(
            beyond, "A create beyond the graph quota", gateway_ok=False
        )
        if rejected:
            problems += rejected
        elif beyond.error_code != QUOTA_EXCEEDED_CODE:
            problems.append(
                Problem(
                    "Create beyond the quota rejected with another code",
                    QUOTA_EXCEEDED_CODE,
                    beyond.describe(),
                    Severity.MEDIUM,
                )
            )
    return problems


# -- 10. error_envelope -------------------------------------------------------


def errors_use_envelope(reply: Reply) -> list[Problem]:
    """Require every 4xx and 5xx body to be the GES or the gateway error envelope."""
    if reply.status_code < 400:
        return []
    problem = (
        envelope_problem(reply.body)
        if reply.body is not None
        else "the body is not JSON"
    )
    if problem is None:
        return []
    return [Problem("Malformed error envelope", "a GES or gateway envelope", problem)]


def status_sequence(statuses: Sequence[str]) -> tuple[str, ...]:
    """Collapse repeats: `200 200 901 900 900` becomes `200 901 900`."""
    collapsed: list[str] = []
    for status in statuses:
        if not collapsed or collapsed[-1] != status:
            collapsed.append(status)
    return tuple(collapsed)
