from __future__ import annotations

import logging
import math
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from probes.__main__ import build_config, main, parse_args, parse_listen_address
from probes.config import Config
from probes.daemon import Daemon
from probes.exposition import MetricsServer, build_registry
from tests.probes.conftest import make_target

TESTDATA = Path(__file__).with_name("testdata")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Undo the handlers `main` installs, so later tests log as before."""
    logger = logging.getLogger("probes")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


def test_main_config_check_valid_returns_zero(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("GES_TEST_TOKEN", "GES_TEST_AK", "GES_TEST_SK", "GES_TEST_PASSWORD"):
        monkeypatch.setenv(name, "secret-value")

    code = main(["--config.file", str(TESTDATA / "valid.yaml"), "--config.check"])

    output = capsys.readouterr()
    assert code == 0
    assert "configuration valid: 3 target(s)" in output.out
    assert "secret-value" not in output.out + output.err


@pytest.mark.parametrize(
    "rule", ["unknown-key", "encoding", "url-syntax", "unterminated-variable"]
)
def test_main_config_check_invalid_prints_one_line(
    capsys: pytest.CaptureFixture[str], rule: str
) -> None:
    path = TESTDATA / f"invalid-{rule}.yaml"

    code = main(["--config.file", str(path), "--config.check"])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"ges-probe: ConfigError: {path}: ")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--target", "http://127.0.0.1:1"], "--target needs --project-id"),
        (
            ["--target", "http://127.0.0.1:1", "--config.file", "x.yaml"],
            "give either --target or --config.file, not both",
        ),
        (["--web.listen-address", "9733"], "--web.listen-address must be HOST:PORT"),
        (
            ["--target", "http://127.0.0.1:1", "--project-id", "p"],
            "--target needs credentials",
        ),
    ],
    ids=["no-project", "target-and-file", "bad-address", "no-credentials"],
)
def test_main_usage_error_returns_two(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    for name in ("GES_AUTH_TOKEN", "HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"):
        monkeypatch.delenv(name, raising=False)

    code = main(argv)

    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:9733", ("127.0.0.1", 9733)), ("[::1]:80", ("::1", 80))],
)
def test_listen_address_parsed(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen_address(text) == expected


def test_main_target_flags_with_env_token_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GES_AUTH_TOKEN", "token-from-env")

    code = main(
        ["--target", "http://127.0.0.1:1", "--project-id", "p", "--config.check"]
    )

    assert code == 0
    assert "1 target(s): default" in capsys.readouterr().out


def test_main_iam_flags_need_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GES_IAM_USER", "probe")
    monkeypatch.delenv("GES_IAM_DOMAIN", raising=False)
    monkeypatch.delenv("GES_IAM_PASSWORD", raising=False)
    argv = ["--target", "http://127.0.0.1:1", "--project-id", "p",
            "--iam.url", "http://127.0.0.1:2", "--config.check"]  # fmt: skip

    code = main(argv)

    assert code == 2
    assert "GES_IAM_DOMAIN, GES_IAM_PASSWORD" in capsys.readouterr().err


def test_main_iam_flags_build_iam_target(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, text in (("GES_IAM_USER", "probe"), ("GES_IAM_DOMAIN", "example"),
                       ("GES_IAM_PASSWORD", "iam-secret")):  # fmt: skip
        monkeypatch.setenv(name, text)
    args = parse_args(["--target", "http://127.0.0.1:1", "--project-id", "p",
                       "--iam.url", "http://127.0.0.1:2"])  # fmt: skip

    config = build_config(args)

    assert config is not None
    iam = config.targets[0].auth.iam
    assert iam is not None
    assert (iam.url, iam.user_name, iam.domain_name) == (
        "http://127.0.0.1:2",
        "probe",
        "example",
    )
    assert iam.password == "iam-secret"
    assert "iam-secret" not in repr(config)


@pytest.mark.parametrize("interval", ["nan", "inf", "1e-9", "0.5"])
def test_main_interval_out_of_range_returns_two(
    capsys: pytest.CaptureFixture[str], interval: str
) -> None:
    code = main(["--interval", interval, "--config.check"])

    assert code == 2
    err = capsys.readouterr().err
    assert err == (
        "ges-probe: UsageError: --interval must be a finite number of seconds, "
        f"at least 1, got `{float(interval)}`\n"
    )


def test_healthz_dead_poll_thread_returns_503(
    contract: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An infinite interval, which the config and flags reject, makes the poll
    # thread's wait raise OverflowError after its first cycle.
    monkeypatch.setattr(threading, "excepthook", lambda args: None)
    target = make_target("http://127.0.0.1:1", "p", collections=("quotas",))
    daemon = Daemon(Config(targets=(target,), interval_seconds=math.inf), *contract)
    server = MetricsServer("127.0.0.1", 0, build_registry(daemon.collector),
                           healthy=daemon.healthy)  # fmt: skip
    server.start()
    try:
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        daemon.start()
        daemon._threads[0].join(timeout=30)

        response = httpx.get(f"{server.url}/healthz")
    finally:
        daemon.request_stop()
        daemon._stop_pollers()
        server.stop()

    assert response.status_code == 503
    assert response.text == "unhealthy: stopping or a poll thread died\n"


def test_metrics_server_ipv6_loopback_serves(contract: Any) -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe_socket:
            probe_socket.bind(("::1", 0))
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    target = make_target("http://127.0.0.1:1", "p", collections=("quotas",))
    daemon = Daemon(Config(targets=(target,)), *contract)
    server = MetricsServer("::1", 0, build_registry(daemon.collector))
    server.start()
    try:
        response = httpx.get(f"{server.url}/metrics")
    finally:
        server.stop()
        daemon._stop_pollers()

    assert server.url.startswith("http://[::1]:")
    assert response.status_code == 200
    assert "ges_probe_build_info" in response.text
