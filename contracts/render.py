"""Text output of `ges-contracts`: progress, summary table and findings.

This module and `contracts.__main__` are the only places that write to the
terminal. Every line passes through `redact_text`, so a secret that slipped
into a server's response or an error message is still not shown.
"""

from __future__ import annotations

import time
from typing import TextIO

from contracts.results import (
    CaseFinished,
    CheckResult,
    Event,
    OperationFinished,
    OperationResult,
    OperationStarted,
    RunResult,
)
from contracts.session import redact_text

# Seconds between two redraws of the live progress line on a terminal.
REDRAW_INTERVAL_SECONDS = 0.1


class Progress:
    """Renders run events: a live line per operation on a TTY, plain lines otherwise."""

    def __init__(self, stream: TextIO, secrets: tuple[str, ...]) -> None:
        self.stream = stream
        self.secrets = secrets
        self.live = stream.isatty()
        self._last_draw = 0.0

    def __call__(self, event: Event) -> None:
        if isinstance(event, OperationStarted) and self.live:
            self._draw(event.operation, force=True)
        elif isinstance(event, CaseFinished) and self.live:
            self._draw(event.operation, force=False)
        elif isinstance(event, OperationFinished):
            if self.live:
                self.stream.write("\r\x1b[2K")
            self._write(_operation_line(event.operation) + "\n")

    def _draw(self, operation: OperationResult, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < REDRAW_INTERVAL_SECONDS:
            return
        self._last_draw = now
        line = (
            f"  ....  {operation.group}/{operation.operation_id}  "
            f"{operation.cases} cases, {operation.failed_cases} failed"
        )
        self._write(f"\r\x1b[2K{line}")

    def _write(self, text: str) -> None:
        self.stream.write(redact_text(text, self.secrets))
        self.stream.flush()


def _verdict(operation: OperationResult) -> str:
    if not operation.ran or operation.skipped:
        return "SKIP"
    return "PASS" if operation.conforms else "FAIL"


def _operation_line(operation: OperationResult) -> str:
    return (
        f"  {_verdict(operation)}  {operation.group}/{operation.operation_id}  "
        f"{operation.cases} cases, {operation.failed_cases} failed "
        f"({operation.duration:.1f} s)"
    )


def summary(result: RunResult) -> str:
    """Format the table of cases and failures by group and operation."""
    rows = [("Group", "Operation", "Cases", "Failed", "Findings", "Result")]
    for op in result.operations:
        findings = len(op.findings) + len(op.errors)
        rows.append(
            (
                op.group,
                op.operation_id,
                str(op.cases),
                str(op.failed_cases),
                str(findings),
                _verdict(op),
            )
        )
    failed_cases = sum(op.failed_cases for op in result.operations)
    findings = sum(len(op.findings) + len(op.errors) for op in result.operations)
    rows.append(("Total", "", str(result.cases), str(failed_cases), str(findings), ""))
    widths = [max(len(row[column]) for row in rows) for column in range(6)]
    lines = []
    for index, row in enumerate(rows):
        cells = [
            cell.ljust(width) if column < 2 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if index in (0, len(rows) - 2):
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def findings(result: RunResult) -> str:
    """Format each finding as a one-line reason and a curl command reproducing it."""
    blocks = []
    for op in result.operations:
        for finding in op.findings:
            blocks.append(
                f"{op.operation_id}: {finding.reason} "
                f"[{finding.count}]\n{_indent(finding.curl)}"
            )
        for error in op.errors:
            blocks.append(f"{op.operation_id}: error: {error}")
    return "\n".join(blocks)


def _indent(text: str) -> str:
    """Indent every line: a stateful reproduction is a sequence of commands."""
    return "\n".join(f"    {line}" for line in text.splitlines())


def _check_verdict(check: CheckResult) -> str:
    if check.runs == 0:
        return "SKIP"
    return "PASS" if check.passed else "FAIL"


def checks_summary(result: RunResult) -> str:
    """Format the table of the named GES checks: runs, failures and verdict."""
    rows = [("Check", "Runs", "Failed", "Result")]
    for check in result.checks:
        rows.append(
            (check.name, str(check.runs), str(check.failures), _check_verdict(check))
        )
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = []
    for index, row in enumerate(rows):
        cells = [
            cell.ljust(width) if column == 0 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    for check in result.checks:
        if check.runs == 0 and check.skip_reason:
            lines.append(f"  {check.name} skipped: {check.skip_reason}")
        for note in check.notes:
            lines.append(f"  {check.name}: {note}")
    return "\n".join(lines)


def check_findings(result: RunResult) -> str:
    """Format each check finding with the call sequence that reproduces it."""
    blocks = []
    for check in result.checks:
        for finding in check.findings:
            blocks.append(
                f"{check.name}: {finding.title} ({finding.severity}, "
                f"{finding.occurrences} times): {finding.message}\n"
                f"  Reproduce with:\n{_indent(finding.curl)}"
            )
    blocks += [f"stateful phase stopped: {error}" for error in result.stateful_errors]
    return "\n".join(blocks)


def safety(result: RunResult) -> str:
    """Format the run's mode, the requests it did not send and the 429 retries."""
    lines = [f"Mode: {result.mode}"]
    skipped = [op.operation_id for op in result.operations if op.skip_reason]
    if skipped:
        lines.append(
            f"  skipped in {result.mode} mode ({len(skipped)}): " + ", ".join(skipped)
        )
    for op in result.operations:
        if op.not_sent:
            reasons = "; ".join(
                f"{count} because {reason}" for reason, count in op.not_sent.items()
            )
            lines.append(f"  {op.operation_id}: cases not sent: {reasons}")
    if result.throttle_retries or result.throttle_gave_up:
        lines.append(
            f"  throttled (HTTP 429): {result.throttle_retries} retried after "
            f"Retry-After, {result.throttle_gave_up} recorded after the last retry"
        )
    return "\n".join(lines)


def leftovers(result: RunResult) -> str:
    """Format each resource the run could not delete, with its kind and id."""
    return "\n".join(
        f"  {item.kind} {item.resource_id}: {item.reason}" for item in result.leftovers
    )


def closing_line(result: RunResult) -> str:
    """Format the last line of a run: cases, operations, time, seed and verdict."""
    ran = sum(1 for op in result.operations if op.ran)
    if result.leftovers:
        verdict = f"{len(result.leftovers)} created resources left behind"
    elif result.interrupted:
        verdict = "interrupted"
    elif result.conforms:
        verdict = "the target conforms"
    else:
        failing = sum(1 for op in result.operations if not (op.conforms or op.skipped))
        verdict = f"{failing} of {len(result.operations)} operations do not conform"
        failed_checks = sum(1 for check in result.checks if not check.passed)
        if failed_checks:
            verdict += f", {failed_checks} of {len(result.checks)} checks fail"
    return (
        f"Ran {result.cases} cases against {ran} operations in "
        f"{result.duration:.1f} s (seed {result.seed}): {verdict}"
    )


FINDINGS_HEADING = (
    "Findings (Cases and Failed above count stateless-phase cases; a "
    "finding's count adds the stateful-phase responses it was seen on):"
)


def report(result: RunResult, stream: TextIO, secrets: tuple[str, ...]) -> None:
    """Write the summary, the findings and the closing line to `stream`."""
    parts = ["", summary(result)]
    found = findings(result)
    if found:
        parts += ["", FINDINGS_HEADING, found]
    if result.checks:
        parts += ["", "GES checks:", checks_summary(result)]
    found = check_findings(result)
    if found:
        parts += ["", "Check findings:", found]
    if result.setup_notes:
        parts += ["", "Notes:"] + [f"  {note}" for note in result.setup_notes]
    parts += ["", safety(result)]
    if result.leftovers:
        parts += [
            "",
            "Leftovers (created by this run, not deleted):",
            leftovers(result),
        ]
    parts += ["", closing_line(result)]
    stream.write(redact_text("\n".join(parts) + "\n", secrets))
    stream.flush()
