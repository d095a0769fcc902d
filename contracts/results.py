"""Results of a gate run: per-operation results, findings and progress events.

The engine fills these in and emits events; only the command-line module turns
them into text, so nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Finding:
    """One distinct contract violation on one operation, with a reproduction."""

    check: str
    title: str
    message: str
    severity: str
    status_code: int | None
    curl: str
    # Stateless-phase cases that failed this way, the count an operation's
    # `failed_cases` also covers, and stateful-phase responses that did.
    occurrences: int = 1
    stateful_occurrences: int = 0

    @property
    def count(self) -> str:
        """How often the finding occurred, by phase, such as `12 cases`."""
        text = f"{self.occurrences} cases"
        if self.stateful_occurrences:
            text += f", {self.stateful_occurrences} stateful-phase responses"
        return text

    @property
    def reason(self) -> str:
        """One line: the check, the failure title and the first line of detail."""
        detail = self.message.strip().splitlines()[0] if self.message.strip() else ""
        status = f" (HTTP {self.status_code})" if self.status_code is not None else ""
        text = f"{self.check}: {self.title}{status}"
        return f"{text}: {detail}" if detail else text


@dataclass
class OperationResult:
    """Cases run against one operation of the spec and what they found."""

    operation_id: str
    group: str
    method: str
    path: str
    cases: int = 0
    failed_cases: int = 0
    duration: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ran: bool = False
    # Why the whole operation was left out (the run's mode), when it was.
    skip_reason: str | None = None
    # Cases the request guard did not send, by reason.
    not_sent: dict[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def conforms(self) -> bool:
        return self.ran and not self.findings and not self.errors

    @property
    def skipped(self) -> bool:
        """True when nothing of the operation reached the target."""
        return self.skip_reason is not None or (
            self.cases == 0 and bool(self.not_sent) and not self.errors
        )


@dataclass
class CheckResult:
    """One named GES check over a run: how often it ran, failed, and why.

    `skip_reason` says why it never ran; `notes` say which part of it did
    not run, when the rest did.
    """

    name: str
    description: str
    runs: int = 0
    failures: int = 0
    findings: list[Finding] = field(default_factory=list)
    skip_reason: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.failures == 0 and not self.findings


@dataclass(frozen=True)
class Leftover:
    """A resource the run created and could not delete."""

    kind: str
    resource_id: str
    reason: str


@dataclass
class RunResult:
    """The whole run: operations in spec order and run-wide facts."""

    operations: list[OperationResult]
    seed: int
    duration: float = 0.0
    interrupted: bool = False
    setup_notes: list[str] = field(default_factory=list)
    mode: str = "lifecycle"
    leftovers: list[Leftover] = field(default_factory=list)
    # 429 responses that were sent again, and those recorded after the retries.
    throttle_retries: int = 0
    throttle_gave_up: int = 0
    # The named GES checks, in report order (empty when none ran).
    checks: list[CheckResult] = field(default_factory=list)
    # Errors that stopped the stateful phase early.
    stateful_errors: list[str] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return sum(operation.cases for operation in self.operations)

    @property
    def conforms(self) -> bool:
        return (
            not self.interrupted
            and all(op.conforms or op.skipped for op in self.operations)
            and all(check.passed for check in self.checks)
            and not self.stateful_errors
        )


@dataclass(frozen=True)
class OperationStarted:
    operation: OperationResult


@dataclass(frozen=True)
class CaseFinished:
    operation: OperationResult
    failed: bool


@dataclass(frozen=True)
class OperationFinished:
    operation: OperationResult


Event = OperationStarted | CaseFinished | OperationFinished
EventListener = Callable[[Event], None]
