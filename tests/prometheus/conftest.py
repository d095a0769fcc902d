"""A running ges-probe on its embedded sandbox, scraped by a real Prometheus."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.prometheus.expressions import RULE_FILES
from tests.prometheus_server import PrometheusServer, free_port

PROBE_STARTUP_SECONDS = 30.0


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + PROBE_STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"ges-probe exited: {log.read_text()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"ges-probe not healthy in time: {log.read_text()}")


@pytest.fixture(scope="package")
def probe_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run `ges-probe` with no target: the embedded sandbox and its workload."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("probe") / "probe.log"
    command = [
        sys.executable,
        "-m",
        "probes",
        f"--web.listen-address=127.0.0.1:{port}",
        "--interval=1",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log)
    address = f"127.0.0.1:{port}"
    try:
        wait_healthy(f"http://{address}/healthz", process, log_path)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="package")
def prometheus(
    probe_address: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    """Prometheus scraping the probe every second, with the GES rules loaded."""
    with PrometheusServer(
        tmp_path_factory.mktemp("prometheus"), [probe_address], rule_files=RULE_FILES
    ) as server:
        server.wait_for("ges_probe_success")
        yield server
