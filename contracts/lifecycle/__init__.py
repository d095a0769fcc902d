"""The stateful phase of a gate run: lifecycles, then the driven probes.

    options = StatefulOptions(runs=3, steps=20, graph_budget=3)
    checks = run_stateful(session, options)   # list[CheckResult], one per check

It runs after the stateless phase, against the same target and through the
same `GateSession`: the same credentials, pseudo-path rewrite and stateless
checks. First the Hypothesis state machine (`machine`) runs `runs` times
with up to `steps` rules each; then the probes (`probes`) create a small
fixture and run the checks that need driven requests. Without mutations
(read-only mode) only the probes that send GET requests run.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace

from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.stateful import run_state_machine_as_test

from contracts.lifecycle import probes
from contracts.lifecycle.driver import (
    CheckBook,
    Driver,
    LifecycleError,
    NotSentError,
)
from contracts.lifecycle.machine import Lifecycle, build_machine
from contracts.lifecycle.resources import Examples
from contracts.results import CheckResult, RunResult
from contracts.safety import run_name_prefix
from contracts.session import GateSession

__all__ = [
    "DEFAULT_STATEFUL_RUNS",
    "DEFAULT_STATEFUL_STEPS",
    "LifecycleError",
    "StatefulOptions",
    "phase_options",
    "run_phase",
    "run_stateful",
]

# State machine runs and steps per run. With these, the phase added 19 s to
# one `make run` against the embedded sandbox on 2 cores (47.8 s against
# 28.7 s with --no-stateful). Against a real account one graph creation
# alone can take minutes.
DEFAULT_STATEFUL_RUNS = 5
DEFAULT_STATEFUL_STEPS = 30
# Graphs the phase keeps alive at once when nothing lower is asked for.
DEFAULT_GRAPH_BUDGET = 3
MUTATIONS_NEEDED = "needs --mode lifecycle --allow-mutations"
# Graphs the quota check may create at once to reach the quota when no
# --max-graphs is set (the embedded sandbox, whose default quota is 10).
QUOTA_FILL_LIMIT = 20
# Seconds to wait for one job of the embedded sandbox (its jobs take under a
# second), and for one job of a real GES, where creating a graph can take
# tens of minutes; an estimate, not a measured bound.
DEFAULT_JOB_TIMEOUT_SECONDS = 30.0
REAL_JOB_TIMEOUT_SECONDS = 1800.0
DEFAULT_POLL_INTERVAL_SECONDS = 0.05
REAL_POLL_INTERVAL_SECONDS = 5.0


@dataclass(frozen=True)
class StatefulOptions:
    """Size and permissions of the stateful phase."""

    runs: int = DEFAULT_STATEFUL_RUNS
    steps: int = DEFAULT_STATEFUL_STEPS
    graph_budget: int = DEFAULT_GRAPH_BUDGET
    quota_budget: int = QUOTA_FILL_LIMIT
    mutations: bool = True
    fault_injection: bool = False
    job_timeout: float = DEFAULT_JOB_TIMEOUT_SECONDS
    poll_interval: float = DEFAULT_POLL_INTERVAL_SECONDS
    seed: int | None = None


def phase_options(
    options: StatefulOptions,
    *,
    mutations: bool,
    external: bool,
    max_graphs: int | None,
    seed: int,
) -> StatefulOptions:
    """Fit the phase to the run's mode, target and graph cap.

    Fault injection (OBS paths containing `fail`) is for the embedded sandbox
    only. Against a real target jobs take minutes, so they are polled less
    often and given far longer.
    """
    budget = options.graph_budget
    if max_graphs is not None:
        budget = min(budget, max_graphs)
    return replace(
        options,
        mutations=mutations,
        fault_injection=not external,
        graph_budget=budget,
        quota_budget=QUOTA_FILL_LIMIT if max_graphs is None else max_graphs,
        job_timeout=REAL_JOB_TIMEOUT_SECONDS if external else options.job_timeout,
        poll_interval=REAL_POLL_INTERVAL_SECONDS if external else options.poll_interval,
        seed=seed if options.seed is None else options.seed,
    )


def run_phase(
    session: GateSession, result: RunResult, options: StatefulOptions
) -> None:
    """Run the stateful phase and store its check results in `result`.

    The results gathered before an error stopped the phase are kept.
    """
    book = CheckBook()
    try:
        run_stateful(session, options, book)
    except LifecycleError as exc:
        result.stateful_errors.append(str(exc))
    result.checks = list(book.results.values())
    merge_stateless_counts(result.checks, session)


def merge_stateless_counts(checks: list[CheckResult], session: GateSession) -> None:
    """Add the stateless phase's runs and failures of the checks both phases run."""
    if not checks:
        checks.extend(CheckBook().results.values())
    for check in checks:
        runs = session.check_runs.get(check.name, 0)
        if runs:
            check.runs += runs
            check.failures += session.check_failures.get(check.name, 0)
            check.skip_reason = None


def run_stateful(
    session: GateSession, options: StatefulOptions, book: CheckBook | None = None
) -> list[CheckResult]:
    """Run the state machine and the probes; return every check's result.

    A step the request guard does not let through (a create beyond
    --max-graphs, say) is left out, with the reason noted on its checks,
    and the rest still runs.
    """
    book = CheckBook() if book is None else book
    driver = Driver(
        session,
        book,
        job_timeout=options.job_timeout,
        poll_interval=options.poll_interval,
        seed=options.seed,
    )
    lifecycle = Lifecycle(driver, Examples(_name_prefix(session)))
    if options.mutations and options.runs > 0:
        _unless_rejected(
            book,
            ("graph_state_machine", "async_job_contract"),
            lambda: _run_machine(lifecycle, options),
        )
    _run_probes(lifecycle, options)
    _skip_unrun(book, options, session)
    return list(book.results.values())


def _run_machine(lifecycle: Lifecycle, options: StatefulOptions) -> None:
    machine = build_machine(
        lifecycle,
        graph_budget=options.graph_budget,
        fault_injection=options.fault_injection,
    )
    if options.seed is not None:
        machine = hypothesis_seed(options.seed)(machine)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=options.runs,
            stateful_step_count=options.steps,
            deadline=None,
            database=None,
            derandomize=False,
            # No shrinking: every replay would create and delete real resources.
            phases=(Phase.generate,),
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
        ),
    )


def _run_probes(lifecycle: Lifecycle, options: StatefulOptions) -> None:
    driver = lifecycle.driver
    book = driver.book
    fixture = probes.Fixture()
    if options.mutations:
        _unless_rejected(
            book,
            ("quota_accounting",),
            lambda: probes.probe_quota(
                lifecycle,
                graph_budget=options.quota_budget,
                skip=book.results["quota_accounting"].notes.append,
            ),
        )
        probes.build_fixture(lifecycle, options.graph_budget, fixture)
    _unless_rejected(
        book, ("pagination",), lambda: probes.probe_pagination(driver, fixture)
    )
    if options.mutations:
        _unless_rejected(
            book,
            ("no_leftovers_no_leakage",),
            lambda: probes.probe_refused_creates(lifecycle, fixture),
        )
        _unless_rejected(
            book,
            ("resource_hierarchy",),
            lambda: probes.probe_hierarchy(driver, fixture),
        )
    others = driver.extra_projects()
    if others:
        _unless_rejected(
            book,
            ("project_isolation",),
            lambda: probes.probe_isolation(
                driver, fixture, others[0], mutations=options.mutations
            ),
        )
    _unless_rejected(
        book,
        ("bad_ids",),
        lambda: probes.probe_bad_ids(driver, fixture, mutations=options.mutations),
    )
    if options.mutations:
        _unless_rejected(
            book,
            ("use_after_delete",),
            lambda: probes.probe_use_after_delete(lifecycle, fixture),
        )


def _unless_rejected(
    book: CheckBook, checks: tuple[str, ...], step: Callable[[], None]
) -> None:
    """Run `step`; when the guard rejects one of its requests, note it and go on."""
    try:
        step()
    except NotSentError as exc:
        for check in checks:
            book.not_run(check, str(exc))


def _skip_unrun(
    book: CheckBook, options: StatefulOptions, session: GateSession
) -> None:
    if not options.mutations:
        for name in (
            "async_job_contract",
            "graph_state_machine",
            "use_after_delete",
            "resource_hierarchy",
            "quota_accounting",
        ):
            book.skip(name, MUTATIONS_NEEDED)
    if session.target.isolation_project_id is None:
        book.skip(
            "project_isolation",
            "needs --isolation-project-id and --isolation-token",
        )


def _name_prefix(session: GateSession) -> str:
    if session.policy is not None:
        return session.policy.guard.registry.name_prefix
    return run_name_prefix(secrets.token_hex(4))
