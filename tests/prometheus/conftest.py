"""A running ges-probe on its embedded sandbox, scraped by a real Prometheus."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.prometheus.expressions import RULE_FILES
from tests.prometheus_server import PrometheusServer, embedded_probe


@pytest.fixture(scope="package")
def probe_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run `ges-probe` with no target: the embedded sandbox and its workload."""
    with embedded_probe(tmp_path_factory.mktemp("probe") / "probe.log") as address:
        yield address


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
