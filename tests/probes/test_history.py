from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from probes.client import RetryPolicy
from probes.history import CycleHistory
from probes.logs import CYCLE_LOGGER
from tests.probes.conftest import make_target
from tests.probes.fakes import FaultyServer, Reply


@pytest.fixture
def history() -> Iterator[CycleHistory]:
    handler = CycleHistory(lines_per_target=3)
    logger = logging.getLogger(CYCLE_LOGGER)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_history_failed_cycle_keeps_reason(
    poller_factory: Any, history: CycleHistory
) -> None:
    with FaultyServer() as server:
        server.default(
            "/v1.0/p1/graphs/quotas",
            Reply(400, {"errorCode": "GES.7006", "errorMessage": "internal"}),
        )
        target = make_target(server.url, "p1", token="secret-token",
                             collections=("quotas",))  # fmt: skip
        poller_factory(target).run_cycle()

    text = history.text("test")
    assert "collection failed" in text
    assert "error_code=GES.7006" in text
    assert "secret-token" not in text
    assert history.text("other") == ""


def test_history_keeps_last_lines_only(
    poller_factory: Any, history: CycleHistory
) -> None:
    with FaultyServer() as server:
        server.default("/v1.0/p1/graphs/quotas", Reply(503, {}))
        retries = RetryPolicy(max_attempts=3, backoff_initial_seconds=0.001)
        target = make_target(server.url, "p1", collections=("quotas",), retries=retries)
        poller = poller_factory(target)
        poller.run_cycle()
        poller.run_cycle()

    lines = history.text("test").splitlines()
    assert len(lines) == 3
    assert "collection failed" in lines[-1]
