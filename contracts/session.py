"""The running gate: sends each generated case and records what the checks find.

A `GateSession` is built by `contracts.runner` before pytest collects the
contract modules; those modules read it through `current()` and hand every
case to `GateSession.exercise`. A case that breaks a rule is recorded, not
raised, so one operation's cases all run and every distinct finding is kept
with a curl line that reproduces it.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.parameters import ParameterLocation

from contracts.auth import Credentials, redact_headers
from contracts.checks import CHECKS
from contracts.cleanup import GRAPH, METADATA, raise_if_interrupted
from contracts.results import (
    CaseFinished,
    EventListener,
    Finding,
    OperationFinished,
    OperationResult,
    OperationStarted,
)
from contracts.safety import NAMED_CREATES, RequestRejected, prefixed_name
from contracts.wire import SeededIds, rewrite_to_wire

if TYPE_CHECKING:
    from schemathesis import CheckFunction, Response
    from schemathesis.specs.openapi.schemas import OpenApiCase, OpenApiSchema

    from contracts.transport import RequestPolicy

# Seconds to wait for one response. This is a generous bound, not a measured
# one: the embedded sandbox replies within milliseconds.
DEFAULT_REQUEST_TIMEOUT = 30.0


@dataclass(frozen=True)
class Target:
    """Base URL, project and credentials the run sends its requests with."""

    base_url: str
    project_id: str
    credentials: Credentials
    # A second project for the project-isolation check, when one is given.
    isolation_project_id: str | None = None
    isolation_credentials: Credentials | None = None


class SessionNotActiveError(RuntimeError):
    """The contract modules were collected outside a `ges-contracts` run."""


class GateSession:
    """State of one run: the schema, the target, the seeded ids and the results."""

    def __init__(
        self,
        *,
        schema: OpenApiSchema,
        target: Target,
        results: list[OperationResult],
        seeds: SeededIds,
        listener: EventListener,
        checks: dict[str, CheckFunction] | None = None,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        policy: RequestPolicy | None = None,
    ) -> None:
        self.schema = schema
        self.target = target
        self.seeds = seeds
        self.checks = dict(CHECKS if checks is None else checks)
        self.request_timeout = request_timeout
        # Every case goes through the run's guard and rate limit when set.
        self.policy = policy
        self._results = {result.label: result for result in results}
        # Responses each check ran on, and how many of them failed it.
        self.check_runs: Counter[str] = Counter()
        self.check_failures: Counter[str] = Counter()
        self._listener = listener
        self._failures: dict[str, list[tuple[str, Failure, Finding]]] = {}
        self._started: dict[str, float] = {}

    @property
    def labels(self) -> list[str]:
        """Labels (`METHOD /path`) of the operations to run, in spec order."""
        return [
            label
            for label, result in self._results.items()
            if result.skip_reason is None
        ]

    def start_operation(self, label: str) -> None:
        result = self._results.get(label)
        if result is None or label in self._started:
            return
        self._started[label] = time.monotonic()
        result.ran = True
        self._listener(OperationStarted(result))

    def finish_operation(self, label: str, error: str | None = None) -> None:
        result = self._results.get(label)
        if result is None:
            return
        if error is not None:
            result.errors.append(error)
        started = self._started.get(label)
        if started is not None:
            result.duration = time.monotonic() - started
        self._listener(OperationFinished(result))

    def prepare(self, case: OpenApiCase) -> None:
        """Move `case` to its wire path and project (run by the `before_call` hook)."""
        rewrite_to_wire(case, self.target.project_id, self.seeds)
        if self.policy is not None:
            _prefix_created_name(case, self.policy.guard.registry.name_prefix)

    def exercise(self, case: OpenApiCase) -> None:
        """Send `case`, run every check on the response and record the outcome."""
        label = case.operation.label
        self.start_operation(label)
        result = self._results[label]
        kwargs = self._transport_kwargs()

        try:
            response = self.send(case, kwargs)
        except RequestRejected as exc:
            result.not_sent[exc.reason] = result.not_sent.get(exc.reason, 0) + 1
            return
        except requests.RequestException as exc:
            self._record_error(result, f"request failed: {type(exc).__name__}: {exc}")
            self._finish_case(result, failed=True)
            return

        failed = False
        for name, check in self.checks.items():
            failures = self._run_check(case, response, check, kwargs)
            self.check_runs[name] += 1
            if failures:
                self.check_failures[name] += 1
            for failure in failures:
                self._record_failure(result, name, failure, case, response)
                failed = True
        self._finish_case(result, failed=failed)

    def send(self, case: OpenApiCase, kwargs: dict[str, Any]) -> Response:
        """Send `case` through the run's guard and rate limit.

        Raises `RequestRejected`, before sending, for a request the guard
        does not let through, and `requests.RequestException` on transport
        errors. Raises KeyboardInterrupt instead of sending once SIGINT or
        SIGTERM arrived, so that the run stops between two requests.
        """
        raise_if_interrupted()
        if self.policy is None:
            return case.call(**kwargs)
        with self.policy.requests_session() as http:
            return case.call(session=http, **kwargs)

    def remember_created(self, case: OpenApiCase, response: Response) -> None:
        """Register the graph or metadata id a create response carries.

        The transports already do this for every request sent through
        `send`; the call is idempotent.
        """
        if self.policy is None or response.status_code != 200:
            return
        kind = CREATED_KINDS.get(case.operation.definition.raw.get("operationId"))
        try:
            body = response.json()
        except ValueError:
            return
        if kind is not None and isinstance(body, dict):
            resource_id = body.get("id")
            if isinstance(resource_id, str):
                self.policy.guard.registry.add(kind, resource_id)

    def _transport_kwargs(self) -> dict[str, Any]:
        # NOTE: no shared requests.Session, so each case opens a connection.
        # Against the uvicorn sandbox a kept-alive connection took about 43 ms
        # per request and a fresh one 1 to 3 ms (20 GETs each, loopback).
        kwargs: dict[str, Any] = {
            "base_url": self.target.base_url,
            "headers": self.target.credentials.headers(),
            "timeout": self.request_timeout,
        }
        auth = self.target.credentials.requests_auth()
        if auth is not None:
            kwargs["auth"] = auth
        return kwargs

    def _run_check(
        self,
        case: OpenApiCase,
        response: Response,
        check: CheckFunction,
        kwargs: dict[str, Any],
    ) -> list[Failure]:
        try:
            case.validate_response(
                response,
                checks=[check],
                headers=kwargs["headers"],
                transport_kwargs=kwargs,
            )
        except FailureGroup as group:
            return [item for item in group.exceptions if isinstance(item, Failure)]
        return []

    def _record_failure(
        self,
        result: OperationResult,
        check: str,
        failure: Failure,
        case: OpenApiCase,
        response: Response,
    ) -> None:
        self.record_finding(
            result.label,
            check,
            failure,
            response.status_code,
            self._curl(case, response),
        )

    def record_finding(
        self,
        label: str,
        check: str,
        failure: Failure,
        status_code: int | None,
        curl: str,
        *,
        stateful: bool = False,
    ) -> None:
        """Add `failure` to the operation's findings, or count it if already there.

        `curl` reproduces it: one command, or a whole call sequence.
        `stateful` counts it as a stateful-phase response, not a case.
        """
        result = self._results[label]
        seen = self._failures.setdefault(label, [])
        for seen_check, seen_failure, finding in seen:
            if seen_check == check and seen_failure == failure:
                if stateful:
                    finding.stateful_occurrences += 1
                else:
                    finding.occurrences += 1
                return
        finding = Finding(
            check=check,
            title=failure.title,
            message=failure.message,
            severity=failure.severity.value,
            status_code=status_code,
            curl=curl,
            occurrences=0 if stateful else 1,
            stateful_occurrences=1 if stateful else 0,
        )
        seen.append((check, failure, finding))
        result.findings.append(finding)

    def _record_error(self, result: OperationResult, message: str) -> None:
        if message not in result.errors:
            result.errors.append(message)

    def _finish_case(self, result: OperationResult, *, failed: bool) -> None:
        result.cases += 1
        if failed:
            result.failed_cases += 1
        self._listener(CaseFinished(result, failed))

    def _curl(self, case: OpenApiCase, response: Response) -> str:
        headers = redact_headers(dict(response.request.headers))
        command = case.as_curl_command(headers=headers, base_url=self.target.base_url)
        return redact_text(command, self.target.credentials.secrets)


CREATED_KINDS = {"createGraph": GRAPH, "createMetadata": METADATA}


def _prefix_created_name(case: OpenApiCase, prefix: str) -> None:
    """Give the resource a positive create case makes the run's name prefix.

    A negative body keeps its generated name when the name may be what is
    invalid on purpose. Against a real account the guard then does not send
    it. A coverage-phase case names the keyword it breaks, so one that
    breaks another field gets the prefix and is sent.
    """
    operation_id = case.operation.definition.raw.get("operationId")
    if operation_id not in NAMED_CREATES or not isinstance(case.body, dict):
        return
    if _name_may_be_negative(case, operation_id):
        return
    holder = case.body.get("graph") if operation_id == "createGraph" else case.body
    if not isinstance(holder, dict):
        return
    name = holder.get("name")
    if isinstance(name, str):
        holder["name"] = prefixed_name(name, prefix)


def _name_may_be_negative(case: OpenApiCase, operation_id: str) -> bool:
    if case.meta is None or not case.meta.is_negative_at(ParameterLocation.BODY):
        return False
    # The JSON pointer into the body schema of the keyword a coverage case
    # breaks, such as `/properties/graph/properties/arch/enum`.
    location = getattr(case.meta.phase.data, "location", None)
    if not isinstance(location, str):
        return True
    name = "/graph/properties/name/" if operation_id == "createGraph" else "/name/"
    return f"/properties{name}" in f"{location}/"


def redact_text(text: str, secrets: tuple[str, ...]) -> str:
    """Replace each secret value in `text` with `***`, except inside URL paths.

    Curl lines carry the credentials only in headers, which `redact_headers`
    has already replaced. Anywhere else a secret is replaced when it is a
    whole token, after a space, quote, `=` or `:`, but not right after a `/`
    or next to a word character. So a token that is also a word of the API, such as
    `graphs`, leaves `/v1.0/{project_id}/graphs` readable.
    """
    for secret in secrets:
        if secret:
            pattern = rf"(?<![\w/.\-]){re.escape(secret)}(?![\w\-])"
            text = re.sub(pattern, "***", text)
    return text


_CURRENT: GateSession | None = None


def current() -> GateSession:
    """Return the session of the run in progress."""
    if _CURRENT is None:
        raise SessionNotActiveError(
            "the contract modules run only inside a gate run; "
            "start them with `ges-contracts`"
        )
    return _CURRENT


@contextmanager
def activate(session: GateSession) -> Iterator[GateSession]:
    """Make `session` the one `current()` returns for the duration of the block."""
    global _CURRENT
    previous, _CURRENT = _CURRENT, session
    try:
        yield session
    finally:
        _CURRENT = previous
