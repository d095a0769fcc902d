"""Fixtures shared by the whole test suite: Hypothesis profiles and sandboxes."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

import sandbox
from tests.ges_api import GesApi

settings.register_profile(
    "dev", max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

ACCESS_KEY = "AKSANDBOXTEST0000001"
SECRET_KEY = "sandbox-test-secret-key"
PROJECTS = (
    sandbox.ProjectCredentials(
        "a1b2c3d4e5f60718293a4b5c6d7e8f90", "token-project-alpha"
    ),
    sandbox.ProjectCredentials(
        "f0e9d8c7b6a5948372615a4b3c2d1e0f", "token-project-beta"
    ),
)


def sandbox_settings(**overrides: object) -> sandbox.SandboxSettings:
    """Two projects, one key pair, jobs at their default duration (0.3 s)."""
    values: dict[str, object] = {
        "projects": PROJECTS,
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
    }
    values.update(overrides)
    return sandbox.SandboxSettings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[sandbox.RunningSandbox]:
    """One sandbox for the whole run; tests that need a clean state use `fresh_sandbox`."""
    with sandbox.start(sandbox_settings()) as running:
        yield running


@pytest.fixture
def fresh_sandbox() -> Iterator[sandbox.RunningSandbox]:
    with sandbox.start(sandbox_settings()) as running:
        yield running


@pytest.fixture
def api(fresh_sandbox: sandbox.RunningSandbox) -> Iterator[GesApi]:
    """A client of the first project of a sandbox of its own."""
    project = fresh_sandbox.projects[0]
    client = GesApi(fresh_sandbox.base_url, project.project_id, project.token)
    yield client
    client.close()


@pytest.fixture
def slow_api() -> Iterator[GesApi]:
    """A client of a sandbox whose jobs take 1.5 s, long enough to observe
    transitional statuses between two requests."""
    with sandbox.start(sandbox_settings(time_scale=5.0)) as running:
        project = running.projects[0]
        client = GesApi(running.base_url, project.project_id, project.token)
        yield client
        client.close()


@pytest.fixture
def other_api(fresh_sandbox: sandbox.RunningSandbox) -> Iterator[GesApi]:
    """A client of the second project of the same sandbox as `api`."""
    project = fresh_sandbox.projects[1]
    client = GesApi(fresh_sandbox.base_url, project.project_id, project.token)
    yield client
    client.close()
