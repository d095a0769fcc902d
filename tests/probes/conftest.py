"""Helpers for the probe's tests: pollers, scrapes and sample values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from probes.config import Auth, Target
from probes.exposition import ProbeCollector, build_registry, render
from probes.runner import TargetPoller, load_contract


@pytest.fixture(scope="session")
def contract() -> tuple[Any, tuple[str, ...]]:
    return load_contract()


def make_target(url: str, project_id: str, token: str = "t", **fields: Any) -> Target:
    values: dict[str, Any] = {"name": "test", "auth": Auth(token=token)}
    values.update(fields)
    return Target(url=url, project_id=project_id, **values)


@pytest.fixture
def poller_factory(contract: tuple[Any, tuple[str, ...]]) -> Iterator[Any]:
    """Build `TargetPoller`s with the real validator; close them afterwards."""
    created: list[TargetPoller] = []

    def build(target: Target, **kwargs: Any) -> TargetPoller:
        validator, statuses = contract
        poller = TargetPoller(target, validator, statuses, **kwargs)
        created.append(poller)
        return poller

    yield build
    for poller in created:
        poller.close()


def scrape(*pollers: TargetPoller, label_names: tuple[str, ...] = ()) -> str:
    """Return the /metrics text for `pollers`."""
    registry = build_registry(ProbeCollector(list(pollers), label_names))
    return render(registry).decode("utf-8")


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Return (labels, value) of every sample called `name` in `text`."""
    rows = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                rows.append((dict(sample.labels), sample.value))
    return rows


def value(text: str, name: str, **labels: str) -> float | None:
    """Return the one sample `name` whose labels include `labels`, else None."""
    matches = [
        v
        for sample_labels, v in samples(text, name)
        if all(sample_labels.get(k) == want for k, want in labels.items())
    ]
    assert len(matches) <= 1, f"{name}{labels} matches {len(matches)} samples"
    return matches[0] if matches else None
