"""`ges-sandbox`: serve the local GES stand-in until interrupted.

    ges-sandbox --port 8080 --project-id p1 --token t1 --project-id p2 --token t2

`--project-id` and `--token` may each be given several times and are paired
in order. With none, one project with a fresh token is generated.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import threading

from sandbox.server import start
from sandbox.settings import (
    DEFAULT_HOST,
    DEFAULT_PROJECT_ID,
    ProjectCredentials,
    SandboxSettings,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ges-sandbox",
        description="Serve a local stand-in for the GES management API.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="loopback address to bind")
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port; 0 picks a free one"
    )
    parser.add_argument(
        "--project-id", action="append", default=[], help="project id (repeatable)"
    )
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        help="token of the project in the same position",
    )
    parser.add_argument("--ak", help="access key accepted for AK/SK-signed requests")
    parser.add_argument(
        "--sk", help="secret key paired with --ak (or env GES_SANDBOX_SK)"
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiplier on job durations; 0 finishes jobs on the next request",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        help="requests per second each project may send before getting 429",
    )
    return parser


def _settings(args: argparse.Namespace) -> SandboxSettings:
    project_ids = args.project_id or [DEFAULT_PROJECT_ID]
    tokens = args.token
    if args.token and len(tokens) != len(project_ids):
        raise ValueError(
            f"got {len(project_ids)} --project-id and {len(tokens)} --token; "
            "give one token per project"
        )
    if not tokens:
        tokens = [secrets.token_urlsafe(24) for _ in project_ids]
    secret_key = args.sk or os.environ.get("GES_SANDBOX_SK")
    return SandboxSettings(
        projects=tuple(ProjectCredentials(p, t) for p, t in zip(project_ids, tokens)),
        access_key=args.ak,
        secret_key=secret_key if args.ak else None,
        time_scale=args.time_scale,
        rate_limit=args.rate_limit,
        host=args.host,
        port=args.port,
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with start(settings) as running:
            print(f"GES sandbox serving on {running.base_url}", flush=True)
            for project in running.projects:
                print(
                    f"  project id: {project.project_id}  token: {project.token}",
                    flush=True,
                )
            if settings.access_key:
                print("  AK/SK-signed requests accepted for the key pair of --ak")
            try:
                stop.wait()
            except KeyboardInterrupt:
                pass
    except (ValueError, OSError, RuntimeError) as error:
        print(f"ges-sandbox: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
