"""One gate run: load the spec, check the target, seed, run pytest, clean up.

The contract modules (`contracts/test_*.py`) are ordinary schemathesis pytest
tests. `execute` runs them in this process with `pytest.main`, after making a
`GateSession` current so that they can reach the target, and turns pytest's
per-operation items into `OperationResult`s.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import schemathesis
from schemathesis.core.result import Err
from schemathesis.errors import LoaderError
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER

from contracts.cleanup import (
    DEFAULT_RESOURCE_TIMEOUT_SECONDS,
    INTERRUPTED,
    REAL_RESOURCE_TIMEOUT_SECONDS,
    Cleaner,
    ResourceRegistry,
    raise_if_interrupted,
    signals_deferred,
)
from contracts.lifecycle import StatefulOptions, phase_options, run_phase
from contracts.results import EventListener, Leftover, OperationResult, RunResult
from contracts.safety import (
    Guard,
    Mode,
    allowed_in_mode,
    mode_skip_reason,
    run_name_prefix,
)
from contracts.seeds import Seeder
from contracts.session import GateSession, Target, activate, current
from contracts.throttle import RateLimiter
from contracts.transport import RequestPolicy
from contracts.wire import SeededIds

if TYPE_CHECKING:
    from schemathesis import HookContext
    from schemathesis.specs.openapi.schemas import (
        OpenApiCase,
        OpenApiOperation,
        OpenApiSchema,
    )

CONTRACTS_DIR = Path(__file__).resolve().parent
# Generated cases per operation in the fuzzing phase; the examples and
# coverage phases add their own, fixed, cases. At 100 a run of the 24
# operations sends about 3,800 requests.
DEFAULT_MAX_EXAMPLES = 100
PREFLIGHT_TIMEOUT_SECONDS = 10.0


class GateError(Exception):
    """The run could not take place: bad spec, unreachable target, bad credentials."""


@dataclass(frozen=True)
class RunOptions:
    """Depth, repeatability, scope and safety limits of a run.

    `external` is True for any target but the embedded sandbox: the guard
    then rejects changes to resources the run did not create, and cleanup
    allows real deletion times. `max_graphs` and `rate_limit` of None mean
    no limit.
    """

    max_examples: int = DEFAULT_MAX_EXAMPLES
    seed: int | None = None
    seed_resources: bool = True
    operation_ids: tuple[str, ...] = ()
    mode: Mode = Mode.LIFECYCLE
    external: bool = False
    max_graphs: int | None = None
    rate_limit: float | None = None
    # The stateful phase after the stateless one; None leaves it out.
    stateful: StatefulOptions | None = None


def load_schema(
    spec_path: Path, base_url: str, options: RunOptions, seed: int
) -> OpenApiSchema:
    """Load the spec as a schemathesis schema configured for this run."""
    config = schemathesis.Config.from_dict(
        {
            "seed": seed,
            "suppress-health-check": ["all"],
            "generation": {
                "mode": "all",
                "max-examples": options.max_examples,
                "database": "none",
                # Set explicitly, so that Hypothesis's own `ci` profile cannot
                # derandomize a run and make `--seed` meaningless.
                "deterministic": False,
                # The gate sends its own credentials, so generated values for
                # the token and signature headers would only be noise.
                "with-security-parameters": False,
            },
            # Curl lines are redacted by the gate itself, to `***`.
            "output": {"sanitization": {"enabled": False}},
        }
    )
    try:
        schema = schemathesis.openapi.from_path(str(spec_path), config=config)
    except UnicodeDecodeError:
        raise GateError(
            f"failed to load the spec `{spec_path}`: not a UTF-8 text file"
        ) from None
    except (LoaderError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise GateError(f"failed to load the spec `{spec_path}`: {reason}") from None
    schema.config.update(base_url=base_url)
    return schema


def operation_results(
    schema: OpenApiSchema, operation_ids: tuple[str, ...] = ()
) -> list[OperationResult]:
    """Build one empty result per selected operation, in spec order.

    An empty `operation_ids` selects every operation of `schema`.
    """
    results = []
    for operation in _operations(schema):
        definition = operation.definition.raw
        if operation_ids and definition.get("operationId") not in operation_ids:
            continue
        tags = definition.get("tags") or ["untagged"]
        results.append(
            OperationResult(
                operation_id=definition.get("operationId", operation.label),
                group=tags[0],
                method=operation.method.upper(),
                path=operation.path,
            )
        )
    unknown = sorted(set(operation_ids) - {result.operation_id for result in results})
    if unknown:
        raise GateError(
            f"operation `{unknown[0]}` not found in the spec; "
            "pass an operationId it defines"
        )
    return results


def request_examples(schema: OpenApiSchema) -> dict[str, Any]:
    """Collect the JSON request-body examples of the spec, by operationId."""
    examples: dict[str, Any] = {}
    for operation in _operations(schema):
        definition = operation.definition.raw
        content = (definition.get("requestBody") or {}).get("content") or {}
        example = (content.get("application/json") or {}).get("example")
        if example is not None:
            examples[definition.get("operationId", "")] = example
    return examples


def _operations(schema: OpenApiSchema) -> Iterator[OpenApiOperation]:
    """Yield the operations of `schema`, raising `GateError` for an invalid one."""
    for item in schema.get_all_operations():
        if isinstance(item, Err):
            error = item.err()
            raise GateError(
                f"invalid operation `{error.label}` in the spec: {error.message}"
            )
        yield item.ok()


def preflight(client: httpx.Client, target: Target) -> None:
    """Raise `GateError` unless the target accepts an authenticated request."""
    url = f"/v1.0/{target.project_id}/graphs/quotas"
    try:
        response = client.get(url, timeout=PREFLIGHT_TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        raise GateError(
            f"target {target.base_url} is unreachable: {type(exc).__name__}: {exc}"
        ) from None
    if response.status_code in (401, 403):
        raise GateError(
            f"target {target.base_url} rejected the credentials "
            f"(HTTP {response.status_code}); check the token or AK/SK and project id"
        )
    if response.status_code == 200 and not _is_json_object(response):
        content_type = response.headers.get("content-type", "no content type")
        raise GateError(
            f"target {target.base_url} does not look like the GES API: "
            f"GET {url} returned HTTP 200 with `{content_type}`, not a JSON "
            "object; check --target"
        )


def _is_json_object(response: httpx.Response) -> bool:
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if media_type.lower() != "application/json":
        return False
    try:
        return isinstance(response.json(), dict)
    except ValueError:
        return False


def execute(
    *,
    spec_path: Path,
    target: Target,
    options: RunOptions,
    listener: EventListener,
) -> RunResult:
    """Run every contract module against `target` and return what it found."""
    seed = options.seed if options.seed is not None else secrets.randbelow(2**31)
    schema = load_schema(spec_path, target.base_url, options, seed)
    operations = operation_results(schema, options.operation_ids)
    for operation in operations:
        if not allowed_in_mode(operation.method, operation.operation_id, options.mode):
            operation.skip_reason = mode_skip_reason(options.mode)
    result = RunResult(operations=operations, seed=seed, mode=str(options.mode))
    started = time.monotonic()

    registry = ResourceRegistry(run_name_prefix(secrets.token_hex(4)))
    guard = Guard(
        origin=target.base_url,
        mode=options.mode,
        registry=registry,
        enforce_ownership=options.external,
        max_graphs=options.max_graphs,
        project_id=target.project_id,
        credentials=target.credentials,
    )
    policy = RequestPolicy(guard, RateLimiter(options.rate_limit))
    client = httpx.Client(
        base_url=target.base_url,
        headers={"Content-Type": "application/json", **target.credentials.headers()},
        auth=target.credentials.httpx_auth(),
        timeout=PREFLIGHT_TIMEOUT_SECONDS,
        transport=policy.httpx_transport(),
    )
    seeder = Seeder(
        client, target.project_id, request_examples(schema), registry.name_prefix
    )
    try:
        preflight(client, target)
        seeds = SeededIds()
        if options.seed_resources and options.mode is Mode.LIFECYCLE:
            raise_if_interrupted()
            seeds = seeder.seed()
        session = GateSession(
            schema=schema,
            target=target,
            results=result.operations,
            seeds=seeds,
            listener=listener,
            policy=policy,
        )
        raise_if_interrupted()
        result.interrupted = _run_pytest(session)
        if not result.interrupted and options.stateful is not None:
            # Fuzzed creates may have used up the quota: free it first.
            _clean_up(client, target, registry, options)
            raise_if_interrupted()
            stateful = phase_options(
                options.stateful,
                mutations=options.mode is Mode.LIFECYCLE,
                external=options.external,
                max_graphs=options.max_graphs,
                seed=seed,
            )
            run_phase(session, result, stateful)
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        with signals_deferred() as caught:
            result.leftovers = _clean_up(client, target, registry, options)
        result.interrupted = result.interrupted or bool(caught) or INTERRUPTED.is_set()
        result.setup_notes.extend(seeder.notes)
        result.throttle_retries = policy.stats.retried
        result.throttle_gave_up = policy.stats.gave_up
        client.close()
    result.duration = time.monotonic() - started
    return result


def _clean_up(
    client: httpx.Client,
    target: Target,
    registry: ResourceRegistry,
    options: RunOptions,
) -> list[Leftover]:
    """Delete what the run created; a read-only run created nothing."""
    if options.mode is Mode.READ_ONLY:
        return []
    timeout = (
        REAL_RESOURCE_TIMEOUT_SECONDS
        if options.external
        else DEFAULT_RESOURCE_TIMEOUT_SECONDS
    )
    cleaner = Cleaner(client, target.project_id, registry, resource_timeout=timeout)
    return cleaner.run()


def _before_call(
    context: HookContext, case: OpenApiCase, kwargs: dict[str, Any]
) -> None:
    current().prepare(case)


def _run_pytest(session: GateSession) -> bool:
    """Run the contract modules and return True when the run was interrupted."""
    # A previous run in this process leaves the modules imported, with the old
    # session's schema in their globals.
    for name in list(sys.modules):
        if name == "contracts.conftest" or name.startswith("contracts.test_"):
            del sys.modules[name]

    plugin = _GatePlugin(session)
    args = [
        str(CONTRACTS_DIR),
        "-c",
        os.devnull,
        "--rootdir",
        str(CONTRACTS_DIR),
        "-p",
        "no:cacheprovider",
        "-p",
        "no:terminal",
    ]
    schemathesis.hook("before_call")(_before_call)
    try:
        with activate(session):
            code = pytest.main(args, plugins=[plugin])
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(_before_call)
    if plugin.collection_errors:
        reason = plugin.collection_errors[0]
        raise GateError(f"failed to collect the contract modules: {reason}")
    if code in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR):
        raise GateError(f"pytest failed to run the contract modules (exit {code})")
    return code == pytest.ExitCode.INTERRUPTED


class _GatePlugin:
    """Maps pytest's per-operation items onto the session's operation results."""

    def __init__(self, session: GateSession) -> None:
        self.session = session
        self.errors: dict[str, str] = {}
        self.collection_errors: list[str] = []

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Keep the selected operations and run them in spec order."""
        order = {label: index for index, label in enumerate(self.session.labels)}
        selected = [item for item in items if _label(item) in order]
        deselected = [item for item in items if _label(item) not in order]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
        items[:] = sorted(selected, key=lambda item: order[_label(item)])

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Any:
        label = getattr(item, "operation_label", None)
        if label is not None:
            self.session.start_operation(label)
        try:
            return (yield)
        finally:
            if label is not None:
                self.session.finish_operation(label, self.errors.pop(item.nodeid, None))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and report.nodeid not in self.errors:
            self.errors[report.nodeid] = _report_reason(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(_report_reason(report))


def _label(item: pytest.Item) -> str:
    return getattr(item, "operation_label", "")


def _report_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = getattr(crash, "message", None) or report.longreprtext
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else "failed without a message"
