"""Command line of the conformance gate.

    ges-contracts [--target URL --project-id ID [--token TOKEN]]
                  [--mode read-only|lifecycle [--allow-mutations]]
                  [--max-graphs N] [--rate-limit R]
                  [--max-examples N] [--seed N] [--junit-xml PATH] [--spec PATH]
                  [--stateful-runs N] [--stateful-steps N] [--no-stateful]
                  [--isolation-project-id ID --isolation-token TOKEN]

Without `--target` the gate starts the embedded sandbox on a free loopback
port and tests it with the project and token the sandbox generated. With
`--target` it needs a project id and credentials: `--token` or
`GES_AUTH_TOKEN`, or an AK/SK pair in `HUAWEICLOUD_SDK_AK` and
`HUAWEICLOUD_SDK_SK`.

Against the embedded sandbox the run is `lifecycle` by default, with no
graph cap and no rate limit. Against `--target` it is `read-only` (GET
requests and checkSchema only), with at most 1 graph alive at once and 5
requests per second; `--mode lifecycle` there needs `--allow-mutations`.

Exit status: see `EXIT_STATUSES`, printed by `--help`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import secrets as secrets_module
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import openapi
from contracts import junit, render
from contracts.auth import AkSkCredentials, Credentials, TokenCredentials
from contracts.cleanup import signals_interrupt
from contracts.lifecycle import (
    DEFAULT_STATEFUL_RUNS,
    DEFAULT_STATEFUL_STEPS,
    StatefulOptions,
)
from contracts.results import RunResult
from contracts.runner import DEFAULT_MAX_EXAMPLES, GateError, RunOptions, execute
from contracts.safety import Mode
from contracts.session import Target
from contracts.throttle import DEFAULT_RATE_LIMIT

EXIT_CONFORMS = 0
EXIT_DOES_NOT_CONFORM = 1
EXIT_NOT_RUN = 2
EXIT_LEFT_RESOURCES = 3
EXIT_STATUSES = f"""\
exit status:
  {EXIT_CONFORMS}  the target conforms
  {EXIT_DOES_NOT_CONFORM}  the target does not conform
  {EXIT_NOT_RUN}  the run could not take place or was interrupted (bad arguments,
     unreadable spec, unreachable target, rejected credentials, SIGINT, SIGTERM)
  {EXIT_LEFT_RESOURCES}  the run ended but left resources it created behind; the
     summary lists each with its kind and id (takes precedence over 0, 1, 2)
"""
# Against a real account: graphs are billed while they exist.
DEFAULT_REAL_MAX_GRAPHS = 1
DEFAULT_SPEC = openapi.SPEC_PATH
TOKEN_ENV = "GES_AUTH_TOKEN"
AK_ENV = "HUAWEICLOUD_SDK_AK"
SK_ENV = "HUAWEICLOUD_SDK_SK"
ISOLATION_TOKEN_ENV = "GES_ISOLATION_TOKEN"


class UsageError(Exception):
    """The command line is invalid."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number, got `{text}`"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got `{text}`")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number, got `{text}`"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got `{text}`")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number, got `{text}`"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got `{text}`")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got `{text}`") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(
            f"must be a finite number of at least 0, got `{text}`"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ges-contracts",
        description="Property-based conformance gate for the GES management API.",
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--target",
        metavar="URL",
        help="base URL of the API to test, such as "
        "https://ges.cn-north-4.myhuaweicloud.com "
        "(default: start the embedded sandbox)",
    )
    parser.add_argument("--project-id", metavar="ID", help="project id for --target")
    parser.add_argument(
        "--token",
        metavar="TOKEN",
        help=f"IAM token for --target (default: ${TOKEN_ENV})",
    )
    parser.add_argument(
        "--mode",
        choices=[mode.value for mode in Mode],
        help="read-only: send only GET requests and checkSchema; lifecycle: also "
        "create, change and delete resources (default: lifecycle against the "
        "embedded sandbox, read-only against --target)",
    )
    parser.add_argument(
        "--allow-mutations",
        action="store_true",
        help="confirm --mode lifecycle against --target, where it creates and "
        "deletes billable resources in the project",
    )
    parser.add_argument(
        "--max-graphs",
        type=_positive_int,
        metavar="N",
        help="graphs the run may have alive at once; a create beyond it is "
        f"skipped (default: {DEFAULT_REAL_MAX_GRAPHS} against --target, "
        "no limit against the embedded sandbox)",
    )
    parser.add_argument(
        "--rate-limit",
        type=_rate,
        metavar="R",
        help="requests per second the run sends at most, 0 for no limit "
        f"(default: {DEFAULT_RATE_LIMIT:g} against --target, "
        "no limit against the embedded sandbox)",
    )
    parser.add_argument(
        "--max-examples",
        type=_positive_int,
        default=DEFAULT_MAX_EXAMPLES,
        metavar="N",
        help="generated cases per operation in the fuzzing phase "
        f"(default: {DEFAULT_MAX_EXAMPLES})",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        metavar="N",
        help="seed that makes the generated cases repeatable",
    )
    parser.add_argument(
        "--junit-xml", type=Path, metavar="PATH", help="write a JUnit XML report"
    )
    parser.add_argument(
        "--spec",
        type=Path,
        default=DEFAULT_SPEC,
        metavar="PATH",
        help="OpenAPI document to test against (default: the suite's GES spec)",
    )
    parser.add_argument(
        "--operation-id",
        dest="operation_ids",
        action="append",
        metavar="ID",
        help="test only this operation (repeatable, default: every operation)",
    )
    parser.add_argument(
        "--stateful-runs",
        type=_count,
        default=DEFAULT_STATEFUL_RUNS,
        metavar="N",
        help="lifecycle state machine runs in the stateful phase; 0 runs only "
        f"the driven checks (default: {DEFAULT_STATEFUL_RUNS})",
    )
    parser.add_argument(
        "--stateful-steps",
        type=_positive_int,
        default=DEFAULT_STATEFUL_STEPS,
        metavar="N",
        help=f"maximum steps per state machine run (default: {DEFAULT_STATEFUL_STEPS})",
    )
    parser.add_argument(
        "--no-stateful",
        dest="stateful",
        action="store_false",
        help="skip the stateful phase and the GES checks it runs",
    )
    parser.add_argument(
        "--isolation-project-id",
        metavar="ID",
        help="a second project, for the project-isolation check",
    )
    parser.add_argument(
        "--isolation-token",
        metavar="TOKEN",
        help=f"IAM token of --isolation-project-id (default: ${ISOLATION_TOKEN_ENV})",
    )
    parser.add_argument(
        "--no-seed-resources",
        dest="seed_resources",
        action="store_false",
        help="do not create a graph and a metadata record before the run",
    )
    return parser


def _credentials(args: argparse.Namespace) -> Credentials:
    token = args.token or os.environ.get(TOKEN_ENV)
    if token:
        return TokenCredentials(token)
    access_key = os.environ.get(AK_ENV)
    secret_key = os.environ.get(SK_ENV)
    if access_key and secret_key:
        return AkSkCredentials(access_key, secret_key)
    raise UsageError(
        f"--target needs credentials: --token, ${TOKEN_ENV}, "
        f"or both ${AK_ENV} and ${SK_ENV}"
    )


def _external_target(args: argparse.Namespace) -> Target:
    try:
        parts = urlsplit(args.target)
        parts.port  # noqa: B018 - parses the port, raising ValueError when invalid
    except ValueError as exc:
        raise UsageError(
            f"--target `{args.target}` is not a valid URL: {exc}"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--target must be an http(s) URL, got `{args.target}`")
    if not args.project_id:
        raise UsageError("--target needs --project-id")
    isolation_token = args.isolation_token or os.environ.get(ISOLATION_TOKEN_ENV)
    if bool(args.isolation_project_id) != bool(isolation_token):
        raise UsageError(
            "--isolation-project-id and --isolation-token "
            f"(or ${ISOLATION_TOKEN_ENV}) must be given together"
        )
    if args.isolation_project_id == args.project_id:
        raise UsageError("--isolation-project-id must differ from --project-id")
    return Target(
        args.target.rstrip("/"),
        args.project_id,
        _credentials(args),
        isolation_project_id=args.isolation_project_id or None,
        isolation_credentials=(
            TokenCredentials(isolation_token) if isolation_token else None
        ),
    )


@contextlib.contextmanager
def _target(args: argparse.Namespace) -> Iterator[Target]:
    if args.target is not None:
        yield _external_target(args)
        return
    if args.project_id or args.token:
        raise UsageError("--project-id and --token apply only with --target")
    if args.isolation_project_id or args.isolation_token:
        raise UsageError(
            "--isolation-project-id and --isolation-token apply only with --target"
        )

    import sandbox

    # Two projects: the second one is the isolation check's other project.
    projects = tuple(
        sandbox.ProjectCredentials(secrets_module.token_hex(16), token)
        for token in (secrets_module.token_urlsafe(24) for _ in range(2))
    )
    with sandbox.start(sandbox.SandboxSettings(projects=projects)) as running:
        project, other = running.projects[:2]
        yield Target(
            running.base_url,
            project.project_id,
            TokenCredentials(project.token),
            isolation_project_id=other.project_id,
            isolation_credentials=TokenCredentials(other.token),
        )


def _with_safety(options: RunOptions, args: argparse.Namespace) -> RunOptions:
    """Resolve mode, graph cap and rate limit from the flags and the target."""
    external = args.target is not None
    mode = Mode(args.mode) if args.mode else None
    if mode is None:
        mode = Mode.READ_ONLY if external else Mode.LIFECYCLE
    if external and mode is Mode.LIFECYCLE and not args.allow_mutations:
        raise UsageError(
            "--mode lifecycle against --target creates and deletes resources "
            "in the project; add --allow-mutations to confirm"
        )
    max_graphs = args.max_graphs
    if max_graphs is None and external:
        max_graphs = DEFAULT_REAL_MAX_GRAPHS
    rate = args.rate_limit
    if rate is None:
        rate = DEFAULT_RATE_LIMIT if external else 0
    return dataclasses.replace(
        options,
        mode=mode,
        external=external,
        max_graphs=max_graphs,
        rate_limit=rate or None,
    )


def run(argv: Sequence[str] | None = None) -> int:
    """Run the gate with `argv` and return the exit status."""
    args = build_parser().parse_args(argv)
    options = RunOptions(
        max_examples=args.max_examples,
        seed=args.seed,
        seed_resources=args.seed_resources,
        operation_ids=tuple(args.operation_ids or ()),
        stateful=(
            StatefulOptions(runs=args.stateful_runs, steps=args.stateful_steps)
            if args.stateful
            else None
        ),
    )
    options = _with_safety(options, args)
    if args.spec.is_dir():
        raise GateError(f"failed to load the spec `{args.spec}`: is a directory")
    if not args.spec.is_file():
        raise GateError(f"failed to load the spec `{args.spec}`: file not found")

    with _target(args) as target:
        secrets = target.credentials.secrets
        if target.isolation_credentials is not None:
            secrets += target.isolation_credentials.secrets
        print(
            f"Testing {target.base_url} (project {target.project_id}) "
            f"against {args.spec.name} in {options.mode} mode",
            flush=True,
        )
        result = execute(
            spec_path=args.spec,
            target=target,
            options=options,
            listener=render.Progress(sys.stdout, secrets),
        )
        render.report(result, sys.stdout, secrets)
        if args.junit_xml is not None:
            _write_junit(args.junit_xml, result, secrets)
    if result.leftovers:
        print(
            f"ges-contracts: {len(result.leftovers)} resources the run created "
            "were not deleted; see Leftovers in the summary",
            file=sys.stderr,
        )
        return EXIT_LEFT_RESOURCES
    if result.interrupted:
        raise KeyboardInterrupt
    return EXIT_CONFORMS if result.conforms else EXIT_DOES_NOT_CONFORM


def _write_junit(path: Path, result: RunResult, secrets: tuple[str, ...]) -> None:
    """Write the JUnit report; a failure is one line and keeps the run's status."""
    try:
        junit.write_report(path, result, secrets)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        print(
            f"ges-contracts: failed to write the JUnit report `{path}`: {reason}",
            file=sys.stderr,
        )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        with signals_interrupt():
            return run(argv)
    except UsageError as exc:
        print(f"ges-contracts: error: {exc}", file=sys.stderr)
    except GateError as exc:
        print(f"ges-contracts: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("ges-contracts: the run was interrupted", file=sys.stderr)
    return EXIT_NOT_RUN


if __name__ == "__main__":
    sys.exit(main())
