"""JUnit XML report of a run: one `<testcase>` per operation of the spec.

Each testcase is named by the operationId and classed by the operation's
first tag, so a CI server groups them the way the spec does. All findings of
an operation go into one `<failure>`. Transport errors, and errors the gate
hit while running an operation, go into an `<error>`. An operation that never
ran is `<skipped>`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from contracts.results import CheckResult, OperationResult, RunResult
from contracts.session import redact_text

# Classname of the named GES checks' testcases, apart from the spec's tags.
CHECKS_CLASSNAME = "checks"


def build_report(result: RunResult, secrets: tuple[str, ...]) -> ET.ElementTree:
    """Build the report tree, with every secret value replaced by `***`.

    The suite's counts are those of the testcases it contains: a testcase
    with a `<failure>` counts as a failure, one with an `<error>` as an
    error (an operation can have both), one with `<skipped>` as skipped.
    """
    testcases = [_testcase(operation, secrets) for operation in result.operations]
    testcases += [_check_testcase(check, secrets) for check in result.checks]
    if result.stateful_errors:
        testcases.append(_stateful_error(result.stateful_errors, secrets))

    def having(tag: str) -> str:
        return str(sum(1 for case in testcases if case.find(tag) is not None))

    suite = ET.Element(
        "testsuite",
        name="ges-contracts",
        tests=str(len(testcases)),
        failures=having("failure"),
        errors=having("error"),
        skipped=having("skipped"),
        time=f"{result.duration:.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="seed", value=str(result.seed))
    ET.SubElement(properties, "property", name="cases", value=str(result.cases))
    ET.SubElement(properties, "property", name="mode", value=result.mode)
    for item in result.leftovers:
        ET.SubElement(
            properties,
            "property",
            name=f"leftover.{item.kind}",
            value=redact_text(f"{item.resource_id}: {item.reason}", secrets),
        )
    suite.extend(testcases)
    return ET.ElementTree(suite)


def _check_testcase(check: CheckResult, secrets: tuple[str, ...]) -> ET.Element:
    """One named GES check: runs and failures as properties, findings as failure."""
    testcase = ET.Element("testcase", name=check.name, classname=CHECKS_CLASSNAME)
    properties = ET.SubElement(testcase, "properties")
    ET.SubElement(properties, "property", name="runs", value=str(check.runs))
    ET.SubElement(properties, "property", name="failures", value=str(check.failures))
    lines = [f"{check.description}: {check.runs} runs, {check.failures} failed"]
    lines += check.notes
    ET.SubElement(testcase, "system-out").text = redact_text("\n".join(lines), secrets)
    if check.runs == 0:
        reason = check.skip_reason or "the check did not run"
        ET.SubElement(testcase, "skipped", message=redact_text(reason, secrets))
        return testcase
    if check.findings:
        failure = ET.SubElement(
            testcase,
            "failure",
            message=redact_text(check.findings[0].reason, secrets),
            type=check.name,
        )
        failure.text = redact_text(_check_findings_text(check), secrets)
    elif check.failures:
        # Failures counted in the stateless phase are findings of operations.
        ET.SubElement(
            testcase,
            "failure",
            message=f"{check.failures} responses failed {check.name}; "
            "see the operations' findings",
            type=check.name,
        )
    return testcase


def _check_findings_text(check: CheckResult) -> str:
    blocks = []
    for finding in check.findings:
        blocks.append(
            f"{finding.title} (severity {finding.severity}, "
            f"{finding.occurrences} times)\n{finding.message.strip()}\n"
            f"Reproduce with this call sequence:\n{finding.curl}"
        )
    return "\n\n".join(blocks)


def _stateful_error(errors: list[str], secrets: tuple[str, ...]) -> ET.Element:
    testcase = ET.Element("testcase", name="stateful_phase", classname=CHECKS_CLASSNAME)
    error = ET.SubElement(
        testcase, "error", message=redact_text(errors[0], secrets), type="error"
    )
    error.text = redact_text("\n".join(errors), secrets)
    return testcase


def _testcase(operation: OperationResult, secrets: tuple[str, ...]) -> ET.Element:
    testcase = ET.Element(
        "testcase",
        name=operation.operation_id,
        classname=operation.group,
        time=f"{operation.duration:.3f}",
    )
    ET.SubElement(
        testcase, "system-out"
    ).text = (
        f"{operation.label}: {operation.cases} cases, {operation.failed_cases} failed"
    )
    if operation.skip_reason is not None:
        ET.SubElement(testcase, "skipped", message=operation.skip_reason)
        return testcase
    if not operation.ran:
        ET.SubElement(testcase, "skipped", message="the operation did not run")
        return testcase
    if operation.skipped:
        reasons = "; ".join(
            f"{count} cases not sent: {reason}"
            for reason, count in operation.not_sent.items()
        )
        ET.SubElement(testcase, "skipped", message=redact_text(reasons, secrets))
        return testcase
    if operation.findings:
        checks = sorted({finding.check for finding in operation.findings})
        failure = ET.SubElement(
            testcase,
            "failure",
            message=redact_text(operation.findings[0].reason, secrets),
            type=",".join(checks),
        )
        failure.text = redact_text(_findings_text(operation), secrets)
    if operation.errors:
        error = ET.SubElement(
            testcase,
            "error",
            message=redact_text(operation.errors[0], secrets),
            type="error",
        )
        error.text = redact_text("\n".join(operation.errors), secrets)
    return testcase


def _findings_text(operation: OperationResult) -> str:
    blocks = []
    for finding in operation.findings:
        blocks.append(
            f"[{finding.check}] {finding.title} "
            f"(HTTP {finding.status_code}, severity {finding.severity}, "
            f"{finding.count})\n{finding.message.strip()}\n"
            f"Reproduce with:\n    {finding.curl}"
        )
    return "\n\n".join(blocks)


def write_report(path: Path, result: RunResult, secrets: tuple[str, ...]) -> None:
    """Write the report to `path`, creating its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = build_report(result, secrets)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
