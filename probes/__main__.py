"""ges-probe: poll the GES management API and serve Prometheus metrics.

    ges-probe                                   # embedded sandbox with a workload
    ges-probe --target URL --project-id ID      # one target; credentials from env
    ges-probe --config.file probe.yaml          # many targets
    ges-probe --config.file probe.yaml --config.check

Credentials for `--target`: `--token` or GES_AUTH_TOKEN; or HUAWEICLOUD_SDK_AK
and HUAWEICLOUD_SDK_SK; or `--iam.url` with GES_IAM_USER, GES_IAM_DOMAIN and
GES_IAM_PASSWORD, from which the probe obtains and renews a token itself.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from probes import logs
from probes.auth import IamCredentials
from probes.config import (
    DEFAULT_PAGE_LIMIT,
    MAX_PAGE_LIMIT_SETTING,
    MIN_INTERVAL_SECONDS,
    Auth,
    Config,
    ConfigError,
    Target,
    load_config,
)
from probes.daemon import Daemon
from probes.exposition import MetricsServer, build_registry
from probes.history import CycleHistory
from probes.logs import CYCLE_LOGGER, log
from probes.runner import load_contract
from probes.workload import embedded_sandbox

DEFAULT_LISTEN_ADDRESS = "127.0.0.1:9733"
# The embedded demo's jobs finish in under a second, so it polls more often
# than a real target needs.
DEFAULT_EMBEDDED_INTERVAL_SECONDS = 5.0
EMBEDDED_TARGET_NAME = "sandbox"

logger = logging.getLogger("probes.main")


class UsageError(Exception):
    """The command line is inconsistent."""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ges-probe",
        description="Poll the GES management API and serve Prometheus metrics.",
    )
    parser.add_argument("--target", help="base URL of the GES endpoint to poll")
    parser.add_argument("--project-id", help="project id of --target")
    parser.add_argument(
        "--target.name", dest="target_name", default="default",
        help="value of the `target` label for --target (default: default)",
    )  # fmt: skip
    parser.add_argument(
        "--token", help="IAM token for --target (default: $GES_AUTH_TOKEN)"
    )
    parser.add_argument(
        "--iam.url", dest="iam_url",
        help="IAM endpoint to obtain tokens from, with GES_IAM_USER, "
        "GES_IAM_DOMAIN and GES_IAM_PASSWORD",
    )  # fmt: skip
    parser.add_argument(
        "--page-limit", type=int, default=None,
        help=f"page size of list requests for --target (default: "
        f"{DEFAULT_PAGE_LIMIT}, the sandbox's maximum)",
    )  # fmt: skip
    parser.add_argument("--config.file", dest="config_file", help="YAML config path")
    parser.add_argument(
        "--config.check", dest="config_check", action="store_true",
        help="validate the configuration, print a summary and exit",
    )  # fmt: skip
    parser.add_argument(
        "--web.listen-address", dest="listen_address",
        default=DEFAULT_LISTEN_ADDRESS,
        help=f"HOST:PORT to serve /metrics and /healthz on "
        f"(default: {DEFAULT_LISTEN_ADDRESS})",
    )  # fmt: skip
    parser.add_argument(
        "--interval", type=float, default=None,
        help=f"seconds between poll cycles, at least {MIN_INTERVAL_SECONDS:g} "
        "(default: the config's interval_seconds, 60; 5 for the embedded "
        "sandbox)",
    )  # fmt: skip
    parser.add_argument(
        "--log.level", dest="log_level", default="info",
        choices=["debug", "info", "warning", "error"],
        help="level of the daemon's own log lines (default: info)",
    )  # fmt: skip
    parser.add_argument(
        "--log.probe-level", dest="log_probe_level", default="info",
        choices=["debug", "info", "warning", "error"],
        help="level of the poll-cycle log lines (default: info)",
    )  # fmt: skip
    return parser.parse_args(argv)


def parse_listen_address(text: str) -> tuple[str, int]:
    """Split `HOST:PORT` or `[IPv6]:PORT`."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--web.listen-address must be HOST:PORT, got `{text}`")
    return host.strip("[]"), int(port)


def target_from_flags(args: argparse.Namespace) -> Target:
    """Build the single target of `--target`, with credentials from flags or env."""
    if not args.project_id:
        raise UsageError("--target needs --project-id")
    token = args.token or os.environ.get("GES_AUTH_TOKEN")
    access_key = os.environ.get("HUAWEICLOUD_SDK_AK")
    secret_key = os.environ.get("HUAWEICLOUD_SDK_SK")
    if args.iam_url:
        auth = Auth(iam=_iam_from_env(args.iam_url, args.project_id))
    elif token:
        auth = Auth(token=token)
    elif access_key and secret_key:
        auth = Auth(access_key=access_key, secret_key=secret_key)
    else:
        raise UsageError(
            "--target needs credentials: --token or GES_AUTH_TOKEN, "
            "HUAWEICLOUD_SDK_AK with HUAWEICLOUD_SDK_SK, or --iam.url"
        )
    extra = {} if args.page_limit is None else {"page_limit": args.page_limit}
    if args.page_limit is not None and not (
        1 <= args.page_limit <= MAX_PAGE_LIMIT_SETTING
    ):
        raise UsageError(
            f"--page-limit must be from 1 to {MAX_PAGE_LIMIT_SETTING}, "
            f"got `{args.page_limit}`"
        )
    return Target(
        name=args.target_name,
        url=args.target.rstrip("/"),
        project_id=args.project_id,
        auth=auth,
        **extra,
    )


def _iam_from_env(url: str, project_id: str) -> IamCredentials:
    missing = [
        name
        for name in ("GES_IAM_USER", "GES_IAM_DOMAIN", "GES_IAM_PASSWORD")
        if not os.environ.get(name)
    ]
    if missing:
        raise UsageError(f"--iam.url needs environment variables {', '.join(missing)}")
    return IamCredentials(
        url=url,
        user_name=os.environ["GES_IAM_USER"],
        password=os.environ["GES_IAM_PASSWORD"],
        domain_name=os.environ["GES_IAM_DOMAIN"],
        project_id=project_id,
    )


def build_config(args: argparse.Namespace) -> Config | None:
    """Return the configured targets, or None for the embedded sandbox."""
    if args.target and args.config_file:
        raise UsageError("give either --target or --config.file, not both")
    interval = args.interval
    if interval is not None and not (
        math.isfinite(interval) and interval >= MIN_INTERVAL_SECONDS
    ):
        raise UsageError(
            f"--interval must be a finite number of seconds, at least "
            f"{MIN_INTERVAL_SECONDS:g}, got `{interval}`"
        )
    if args.config_file:
        config = load_config(args.config_file)
    elif args.target:
        config = Config(targets=(target_from_flags(args),))
    else:
        return None
    if args.interval is not None:
        config = Config(targets=config.targets, interval_seconds=args.interval)
    return config


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logs.configure(args.log_level, args.log_probe_level)
    try:
        host, port = parse_listen_address(args.listen_address)
        config = build_config(args)
    except (UsageError, ConfigError) as exc:
        print(f"ges-probe: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2

    if args.config_check:
        if config is None:
            print("no --config.file or --target given: the embedded sandbox is used")
            return 0
        names = ", ".join(t.name for t in config.targets)
        print(f"configuration valid: {len(config.targets)} target(s): {names}")
        return 0

    with contextlib.ExitStack() as stack:
        if config is None:
            config = _start_embedded(stack, args.interval)
        return serve(config, host, port, args.config_file)


def _start_embedded(stack: contextlib.ExitStack, interval: float | None) -> Config:
    base_url, project_id, token = stack.enter_context(embedded_sandbox())
    log(logger, logging.INFO, "embedded sandbox started", url=base_url,
        project_id=project_id)  # fmt: skip
    target = Target(
        name=EMBEDDED_TARGET_NAME,
        url=base_url,
        project_id=project_id,
        auth=Auth(token=token),
        labels={"environment": "embedded-sandbox"},
    )
    return Config(
        targets=(target,),
        interval_seconds=interval or DEFAULT_EMBEDDED_INTERVAL_SECONDS,
    )


def serve(config: Config, host: str, port: int, config_file: str | None = None) -> int:
    """Poll every target and serve /metrics until SIGINT or SIGTERM.

    With `config_file`, SIGHUP loads the file again; an invalid file keeps the
    running targets and sets ges_probe_config_last_reload_successful to 0.
    """
    validator, statuses = load_contract()
    reload_config = (lambda: load_config(config_file)) if config_file else None
    daemon = Daemon(config, validator, statuses, reload_config)
    registry = build_registry(daemon.collector)
    history = CycleHistory()
    logging.getLogger(CYCLE_LOGGER).addHandler(history)
    try:
        server = MetricsServer(
            host,
            port,
            registry,
            healthy=daemon.healthy,
            logs=history.text,
        )
    except OSError as exc:
        print(
            f"ges-probe: cannot listen on {host}:{port}: {exc.strerror}; "
            "choose another --web.listen-address",
            file=sys.stderr,
        )
        return 1

    def on_stop(signum: int, frame: FrameType | None) -> None:
        daemon.request_stop()

    def on_reload(signum: int, frame: FrameType | None) -> None:
        daemon.request_reload()

    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGHUP, on_reload)
    server.start()
    log(logger, logging.INFO, "serving metrics", url=server.url,
        targets=len(config.targets), interval_seconds=config.interval_seconds)  # fmt: skip
    daemon.run()

    log(logger, logging.INFO, "stopping")
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
