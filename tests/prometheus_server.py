"""A real Prometheus server for tests: started on loopback, queried over HTTP.

    with PrometheusServer(tmp_path, ["127.0.0.1:9733"]) as prometheus:
        prometheus.wait_for("ges_probe_success == 1")
        rows = prometheus.query("ges_graph_status")

It runs Debian's `/usr/bin/prometheus` (or the one on PATH) with a temporary
config and TSDB directory, `--web.listen-address` on a free loopback port, and
the scrape interval the caller gives. `rule_files` are copied into the config
for tests of alerting and recording rules.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import pytest
import yaml

DEFAULT_SCRAPE_INTERVAL = "1s"
STARTUP_TIMEOUT_SECONDS = 30.0
DEFAULT_WAIT_SECONDS = 60.0


def prometheus_binary() -> str:
    """Return the path of the prometheus binary, or skip the test without one."""
    path = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not Path(path).is_file():
        pytest.skip("no prometheus binary; install Debian's `prometheus` package")
    return path


def promtool_binary() -> str:
    """Return the path of promtool, or skip the test without one."""
    path = shutil.which("promtool") or "/usr/bin/promtool"
    if not Path(path).is_file():
        pytest.skip("no promtool binary; install Debian's `prometheus` package")
    return path


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrometheusServer:
    """One Prometheus process scraping `targets` (HOST:PORT strings)."""

    def __init__(
        self,
        directory: Path,
        targets: Sequence[str],
        scrape_interval: str = DEFAULT_SCRAPE_INTERVAL,
        rule_files: Sequence[Path] = (),
        job_name: str = "ges-probe",
    ) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = directory / "prometheus.yaml"
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": scrape_interval,
                "evaluation_interval": scrape_interval,
            },
            "scrape_configs": [
                {"job_name": job_name, "static_configs": [{"targets": list(targets)}]}
            ],
        }
        if rule_files:
            config["rule_files"] = [str(Path(p).resolve()) for p in rule_files]
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.log_path = directory / "prometheus.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.url, timeout=10.0)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        command = [
            prometheus_binary(),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.directory / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log)
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited early: {self.log()}")
            try:
                if self.http.get("/-/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"prometheus not ready in time: {self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.http.close()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Return the `data.result` of an instant query."""
        response = self.http.get("/api/v1/query", params={"query": promql})
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"query `{promql}` failed: {body}")
        return list(body["data"]["result"])

    def wait_for(
        self, promql: str, timeout_seconds: float = DEFAULT_WAIT_SECONDS
    ) -> list[dict[str, Any]]:
        """Poll `promql` until it returns a non-empty result; fail on timeout."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            result = self.query(promql)
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"`{promql}` returned nothing within {timeout_seconds} s; "
                    f"targets: {self.targets()}"
                )
            time.sleep(0.5)

    def targets(self) -> list[dict[str, Any]]:
        """Return the active scrape targets with their health and last error."""
        body = self.http.get("/api/v1/targets").json()
        return [
            {k: t.get(k) for k in ("scrapeUrl", "health", "lastError")}
            for t in body["data"]["activeTargets"]
        ]


PROBE_STARTUP_SECONDS = 30.0


@contextmanager
def embedded_probe(log_path: Path) -> Iterator[str]:
    """Run `ges-probe` with no target (the embedded sandbox and its workload),
    polling every second; yield its `host:port` once /healthz returns 200.

    Raises AssertionError when the probe exits with a non-zero status.
    """
    port = free_port()
    command = [
        sys.executable, "-m", "probes",
        f"--web.listen-address=127.0.0.1:{port}", "--interval=1",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log)
    address = f"127.0.0.1:{port}"
    try:
        _wait_healthy(f"http://{address}/healthz", process, log_path)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert process.returncode == 0, log_path.read_text()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
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
