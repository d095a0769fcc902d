from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from probes import metrics
from probes.metrics import MetricType
from tests import prometheus_server
from tests.prometheus_server import PrometheusServer, promtool_binary


def family_query(spec: metrics.MetricSpec) -> str:
    name = metrics.exposed_name(spec)
    if spec.type is MetricType.HISTOGRAM:
        return f"{name}_count"
    return name


@pytest.fixture(scope="module")
def embedded_probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run `ges-probe` with no target: the embedded sandbox and its workload."""
    with prometheus_server.embedded_probe(
        tmp_path_factory.mktemp("probe") / "probe.log"
    ) as address:
        yield address


@pytest.fixture(scope="module")
def prometheus(
    embedded_probe: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    with PrometheusServer(
        tmp_path_factory.mktemp("prometheus"), [embedded_probe]
    ) as server:
        yield server


def test_prometheus_scrapes_every_metric_family(prometheus: PrometheusServer) -> None:
    missing = []
    deadline = time.monotonic() + 90
    pending = [family_query(spec) for spec in metrics.ALL_METRICS]
    while pending and time.monotonic() < deadline:
        pending = [query for query in pending if not prometheus.query(query)]
        if pending:
            time.sleep(1)
    missing = pending

    assert missing == [], prometheus.targets()


def test_prometheus_series_carry_target_labels(prometheus: PrometheusServer) -> None:
    rows = prometheus.wait_for("ges_graph_info")

    for row in rows:
        labels = row["metric"]
        assert labels["target"] == "sandbox"
        assert labels["environment"] == "embedded-sandbox"
        assert labels["project_id"]
        assert labels["graph_name"].startswith("demo_")


def test_prometheus_probe_reports_success(prometheus: PrometheusServer) -> None:
    rows = prometheus.wait_for("ges_probe_success == 1")

    assert rows[0]["metric"]["target"] == "sandbox"


def test_prometheus_state_set_has_one_current_status(
    prometheus: PrometheusServer,
) -> None:
    prometheus.wait_for("ges_graph_info")

    rows = prometheus.query("sum by (graph_id) (ges_graph_status)")

    assert rows
    assert {row["value"][1] for row in rows} == {"1"}


def test_promtool_accepts_embedded_exposition(embedded_probe: str) -> None:
    text = httpx.get(f"http://{embedded_probe}/metrics", timeout=10).content

    check = subprocess.run(
        [promtool_binary(), "check", "metrics"],
        input=text,
        capture_output=True,
        check=False,
    )

    assert check.returncode == 0, check.stdout + check.stderr


def test_logs_show_poll_cycles(embedded_probe: str) -> None:
    response = httpx.get(
        f"http://{embedded_probe}/logs", params={"target": "sandbox"}, timeout=5
    )

    assert response.status_code == 200
    assert 'msg="poll cycle finished" target=sandbox' in response.text


def test_healthz_unknown_path_returns_404(embedded_probe: str) -> None:
    response = httpx.get(f"http://{embedded_probe}/nothing", timeout=5)

    assert response.status_code == 404
