"""The stateful phase's client: every call it makes, checked and logged.

`Driver.call` builds a schemathesis case for an operation of the spec, moves
it to its wire path with `contracts.wire.rewrite_to_wire`, sends it with the
run's credentials, and runs the stateless checks that apply to any response
on what comes back. Every call is appended to the current call sequence as a
redacted curl line, so a finding of the stateful phase reproduces as the whole
sequence that led to it. `CheckBook` keeps the runs, failures and findings of
each named GES check.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests
from schemathesis.core import NOT_SET
from schemathesis.core.failures import Failure, FailureGroup

from contracts import ges_checks
from contracts.auth import Credentials, redact_headers
from contracts.cleanup import INTERRUPTED
from contracts.ges_checks import Problem, Reply
from contracts.results import CheckResult, Finding
from contracts.safety import RequestRejected
from contracts.session import redact_text
from contracts.wire import SeededIds, rewrite_to_wire

if TYPE_CHECKING:
    from schemathesis import Response
    from schemathesis.specs.openapi.schemas import OpenApiCase

    from contracts.session import GateSession

# Stateless checks that hold for any response, whatever produced the request.
# negative_data_rejection is left out: it needs a generated negative case.
STATELESS_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "error_envelope",
)
JOB_TERMINAL = ges_checks.JOB_TERMINAL_STATUSES
LIST_PAGE_LIMIT = 100
FIRST_POLL_SECONDS = 0.05
# Upper bound on pages read to find one item in a list, so that a list that
# keeps growing cannot hold the phase.
MAX_LIST_PAGES = 20


class LifecycleError(Exception):
    """The stateful phase could not go on: the target stopped answering."""


class NotSentError(LifecycleError):
    """The run's request guard did not let a request through."""


@dataclass(frozen=True)
class Project:
    """A project id and the credentials that reach it."""

    project_id: str
    credentials: Credentials


class CheckBook:
    """Runs, failures and findings of every named GES check over one run."""

    def __init__(self) -> None:
        self.results = {
            name: CheckResult(name=name, description=description)
            for name, description in ges_checks.CHECKS.items()
        }

    def record(
        self,
        check: str,
        problems: list[Problem],
        sequence: str,
        status_code: int | None = None,
    ) -> None:
        """Count one run of `check`, and keep each distinct problem as a finding."""
        result = self.results[check]
        result.runs += 1
        if not problems:
            return
        result.failures += 1
        for problem in problems:
            self._keep(result, problem, sequence, status_code)

    def _keep(
        self,
        result: CheckResult,
        problem: Problem,
        sequence: str,
        status_code: int | None,
    ) -> None:
        for finding in result.findings:
            if finding.title == problem.title:
                finding.occurrences += 1
                return
        result.findings.append(
            Finding(
                check=result.name,
                title=problem.title,
                message=problem.message,
                severity=problem.severity.value,
                status_code=status_code,
                curl=sequence,
            )
        )

    def not_run(self, check: str, reason: str) -> None:
        """Say why `check`, or a part of it when it ran already, did not run."""
        result = self.results[check]
        if result.runs == 0:
            self.skip(check, reason)
        elif reason not in result.notes:
            result.notes.append(reason)

    def skip(self, check: str, reason: str) -> None:
        """Mark `check` as not run, with the reason, unless it ran already."""
        result = self.results[check]
        if result.runs == 0 and result.skip_reason is None:
            result.skip_reason = reason


@dataclass
class CallLog:
    """Curl lines of the calls in one sequence, with repeats collapsed."""

    lines: list[str] = field(default_factory=list)
    repeats: list[int] = field(default_factory=list)

    def add(self, line: str) -> None:
        if self.lines and self.lines[-1] == line:
            self.repeats[-1] += 1
            return
        self.lines.append(line)
        self.repeats.append(1)

    def text(self) -> str:
        out = []
        for line, count in zip(self.lines, self.repeats, strict=True):
            suffix = f"  # sent {count} times" if count > 1 else ""
            out.append(line + suffix)
        return "\n".join(out)


def _pause(seconds: float) -> None:
    """Sleep between polls, waking early when SIGINT or SIGTERM arrives."""
    INTERRUPTED.wait(seconds)


class Driver:
    """Sends the stateful phase's requests and records what the checks find."""

    def __init__(
        self,
        session: GateSession,
        book: CheckBook,
        *,
        job_timeout: float,
        poll_interval: float,
        seed: int | None = None,
        sleep: Callable[[float], None] = _pause,
    ) -> None:
        self.session = session
        self.book = book
        self.job_timeout = job_timeout
        self.poll_interval = poll_interval
        self.sleep = sleep
        # Source of the made-up ids the phase sends, so a seed repeats them.
        self.random = random.Random(seed)
        target = session.target
        self.home = Project(target.project_id, target.credentials)
        self.log = CallLog()
        # Requests sent, by operationId.
        self.calls: Counter[str] = Counter()

    def unknown_id(self) -> str:
        """Return a random UUID that no resource has, drawn from the phase's seed."""
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    # -- sending ---------------------------------------------------------------

    def begin_sequence(self) -> None:
        """Start a new call sequence, the reproduction of what follows."""
        self.log = CallLog()

    def sequence(self) -> str:
        return self.log.text()

    def call(
        self,
        operation_id: str,
        path_parameters: Mapping[str, str] | None = None,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = NOT_SET,
        project: Project | None = None,
    ) -> Reply:
        """Send one request of `operation_id` and return its reply, checked."""
        project = project or self.home
        operation = self.session.schema.find_operation_by_id(operation_id)
        case = operation.Case(
            path_parameters=dict(path_parameters or {}),
            query=dict(query or {}),
            body=body,
            media_type="application/json" if body is not NOT_SET else None,
        )
        rewrite_to_wire(case, project.project_id, SeededIds())
        kwargs = self._transport_kwargs(project.credentials)
        try:
            response = self.session.send(case, kwargs)
        except RequestRejected as exc:
            raise NotSentError(f"{operation_id} not sent: {exc}") from None
        except requests.RequestException as exc:
            raise LifecycleError(
                f"{operation_id} failed: {type(exc).__name__}: {exc}"
            ) from None
        self.calls[operation_id] += 1
        self.log.add(self._curl(case, response))
        reply = _reply(case, response)
        if project == self.home:
            self.session.remember_created(case, response)
        self._check_stateless(case, response, kwargs)
        if reply.status_code >= 400:
            self.book.record(
                "no_leftovers_no_leakage",
                ges_checks.refusals_leave_no_trace(reply),
                self.sequence(),
                reply.status_code,
            )
        return reply

    def try_call(
        self,
        operation_id: str,
        path_parameters: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Reply | None:
        """Send like `call`, but return None when the request guard rejects it."""
        try:
            return self.call(operation_id, path_parameters, **kwargs)
        except NotSentError:
            return None

    def _transport_kwargs(self, credentials: Credentials) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "base_url": self.session.target.base_url,
            "headers": credentials.headers(),
            "timeout": self.session.request_timeout,
        }
        auth = credentials.requests_auth()
        if auth is not None:
            kwargs["auth"] = auth
        return kwargs

    def _check_stateless(
        self, case: OpenApiCase, response: Response, kwargs: dict[str, Any]
    ) -> None:
        for name in STATELESS_CHECKS:
            check = self.session.checks.get(name)
            if check is None:
                continue
            try:
                case.validate_response(
                    response,
                    checks=[check],
                    headers=kwargs["headers"],
                    transport_kwargs=kwargs,
                )
            except FailureGroup as group:
                failures = [f for f in group.exceptions if isinstance(f, Failure)]
            else:
                failures = []
            if name == "error_envelope" and response.status_code >= 400:
                self.book.results[name].runs += 1
                if failures:
                    self.book.results[name].failures += 1
            for failure in failures:
                self.session.record_finding(
                    case.operation.label,
                    name,
                    failure,
                    response.status_code,
                    self.sequence(),
                    stateful=True,
                )

    def _curl(self, case: OpenApiCase, response: Response) -> str:
        headers = redact_headers(dict(response.request.headers))
        command = case.as_curl_command(
            headers=headers, base_url=self.session.target.base_url
        )
        secrets = self.session.target.credentials.secrets
        for project in self.extra_projects():
            secrets += project.credentials.secrets
        return redact_text(command, secrets)

    def extra_projects(self) -> tuple[Project, ...]:
        """The isolation project of `--isolation-project-id`, when one is set."""
        target = self.session.target
        if target.isolation_project_id is None or target.isolation_credentials is None:
            return ()
        return (Project(target.isolation_project_id, target.isolation_credentials),)

    # -- waiting ---------------------------------------------------------------

    def _backoff(self) -> Iterator[float]:
        """Yield poll delays doubling from `FIRST_POLL_SECONDS` to `poll_interval`.

        A job that ends quickly is seen quickly, and a slow one (minutes on a
        real GES) costs few requests.
        """
        delay = min(FIRST_POLL_SECONDS, self.poll_interval)
        while True:
            yield delay
            delay = min(delay * 2, self.poll_interval)

    def graph_status(self, graph_id: str) -> tuple[str | None, dict[str, Any]]:
        """Return the graph's status (None when showGraph fails) and its body."""
        reply = self.call("showGraph", {"graph_id": graph_id})
        graph = reply.body.get("graph") if isinstance(reply.body, dict) else None
        if reply.status_code != 200 or not isinstance(graph, dict):
            return None, {}
        status = graph.get("status")
        return (status if isinstance(status, str) else None), graph

    def wait_settled(self, graph_id: str, trace: list[str]) -> str | None:
        """Poll the graph until its status is not transitional; return that status.

        Every status seen is appended to `trace`. Return None when the
        graph could not be read, or still transitional at the deadline.
        """
        transitional = _transitional()
        deadline = time.monotonic() + self.job_timeout
        backoff = self._backoff()
        while True:
            status, _ = self.graph_status(graph_id)
            if status is None:
                return None
            trace.append(status)
            if status not in transitional:
                return status
            if time.monotonic() > deadline:
                return None
            self.sleep(next(backoff))

    def await_job(
        self,
        operation_id: str,
        graph_id: str,
        accepted: Reply,
        trace: list[str] | None = None,
        graph_name: str | None = None,
    ) -> ges_checks.JobObservation:
        """Poll the job `accepted` returned until it ends; check and return it.

        While the job runs the graph's status is polled too and appended to
        `trace`, for the status-table check.
        """
        body = accepted.body if isinstance(accepted.body, dict) else {}
        job_id = body.get("jobId")
        observation = ges_checks.JobObservation(operation_id, accepted)
        if accepted.status_code == 200 and isinstance(job_id, str) and job_id:
            observation = self._poll_job(
                operation_id, graph_id, job_id, accepted, trace, graph_name
            )
        self.book.record(
            "async_job_contract",
            ges_checks.async_jobs_complete(observation),
            self.sequence(),
            accepted.status_code,
        )
        return observation

    def _poll_job(
        self,
        operation_id: str,
        graph_id: str,
        job_id: str,
        accepted: Reply,
        trace: list[str] | None,
        graph_name: str | None,
    ) -> ges_checks.JobObservation:
        deadline = time.monotonic() + self.job_timeout
        backoff = self._backoff()
        final: dict[str, Any] | None = None
        timed_out = False
        while True:
            reply = self.call("showJob", {"graph_id": graph_id, "job_id": job_id})
            if reply.status_code == 200 and isinstance(reply.body, dict):
                final = reply.body
            if trace is not None:
                status, _ = self.graph_status(graph_id)
                if status is not None:
                    trace.append(status)
            if final is not None and final.get("status") in JOB_TERMINAL:
                break
            if time.monotonic() > deadline:
                timed_out = True
                break
            self.sleep(next(backoff))
        listed = None
        if graph_name is not None:
            listed = self.find_job(job_id, graph_name)
        return ges_checks.JobObservation(
            operation_id,
            accepted,
            final=final,
            timed_out=timed_out,
            deadline_seconds=self.job_timeout,
            listed=listed,
        )

    def find_job(self, job_id: str, graph_name: str) -> bool | None:
        """Tell whether listJobs, filtered by graph name, returns the job."""
        ids = self.list_ids(
            "listJobs", "jobList", "jobId", query={"graph_name": graph_name}
        )
        return None if ids is None else job_id in ids

    def list_ids(
        self,
        operation_id: str,
        key: str,
        id_field: str = "id",
        path_parameters: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> list[str] | None:
        """Read every id of a list, page by page; None when a page fails."""
        ids: list[str] = []
        for page in range(MAX_LIST_PAGES):
            reply = self.call(
                operation_id,
                path_parameters,
                query={
                    **(query or {}),
                    "offset": page * LIST_PAGE_LIMIT,
                    "limit": LIST_PAGE_LIMIT,
                },
            )
            items = reply.body.get(key) if isinstance(reply.body, dict) else None
            if reply.status_code != 200 or not isinstance(items, list):
                return None
            ids += [
                item[id_field]
                for item in items
                if isinstance(item, dict) and isinstance(item.get(id_field), str)
            ]
            if len(items) < LIST_PAGE_LIMIT:
                break
        return ids


def _transitional() -> frozenset[str]:
    import openapi

    return openapi.transitional_statuses()


def _reply(case: OpenApiCase, response: Response) -> Reply:
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    query = "&".join(f"{key}={value}" for key, value in (case.query or {}).items())
    path = case.formatted_path
    request = f"{case.method.upper()} {path}" + (f"?{query}" if query else "")
    return Reply(request, response.status_code, body, response.text)
