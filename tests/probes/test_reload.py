from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import sandbox
from tests.probes.conftest import samples, value
from tests.prometheus_server import free_port

DEADLINE_SECONDS = 30.0


def write_config(path: Path, running: sandbox.RunningSandbox, env: str) -> None:
    project = running.projects[0]
    path.write_text(
        "interval_seconds: 1\n"
        "targets:\n"
        f"  - name: reloaded\n"
        f"    url: {running.base_url}\n"
        f"    project_id: {project.project_id}\n"
        f"    labels: {{env: {env}}}\n"
        '    auth: {token: "${GES_TEST_RELOAD_TOKEN}"}\n',
        encoding="utf-8",
    )


def wait_metrics(url: str, predicate: object) -> str:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        try:
            text = httpx.get(url, timeout=5).text
            if predicate(text):  # type: ignore[operator]
                return text
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("metrics never matched")
        time.sleep(0.2)


@pytest.fixture
def probe_process(
    tmp_path: Path, sandbox_server: sandbox.RunningSandbox
) -> Iterator[tuple[subprocess.Popen[bytes], Path, str]]:
    config_path = tmp_path / "probe.yaml"
    write_config(config_path, sandbox_server, "before")
    port = free_port()
    env = {"GES_TEST_RELOAD_TOKEN": sandbox_server.projects[0].token, "PATH": ""}
    command = [
        sys.executable, "-m", "probes", f"--config.file={config_path}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    try:
        yield process, config_path, f"http://127.0.0.1:{port}/metrics"
    finally:
        process.terminate()
        _, err = process.communicate(timeout=20)
        assert sandbox_server.projects[0].token.encode() not in err


def env_labels(text: str) -> set[str]:
    return {labels["env"] for labels, _ in samples(text, "ges_probe_success")}


def test_reload_sighup_applies_new_config(
    probe_process: tuple[subprocess.Popen[bytes], Path, str],
    sandbox_server: sandbox.RunningSandbox,
) -> None:
    process, config_path, url = probe_process
    wait_metrics(url, lambda text: env_labels(text) == {"before"})

    write_config(config_path, sandbox_server, "after")
    process.send_signal(signal.SIGHUP)

    text = wait_metrics(url, lambda text: env_labels(text) == {"after"})
    assert value(text, "ges_probe_config_last_reload_successful") == 1


def test_reload_invalid_config_keeps_running_targets(
    probe_process: tuple[subprocess.Popen[bytes], Path, str],
) -> None:
    process, config_path, url = probe_process
    wait_metrics(url, lambda text: env_labels(text) == {"before"})

    config_path.write_text("targets: []\n", encoding="utf-8")
    process.send_signal(signal.SIGHUP)

    text = wait_metrics(
        url, lambda text: value(text, "ges_probe_config_last_reload_successful") == 0
    )
    assert env_labels(text) == {"before"}
    assert process.poll() is None
