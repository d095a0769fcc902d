"""A stateful-phase driver aimed at a real sandbox behind a corrupting proxy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import schemathesis

import openapi
import sandbox
from contracts.auth import TokenCredentials
from contracts.lifecycle.driver import CheckBook, Driver, Project
from contracts.lifecycle.machine import Lifecycle
from contracts.lifecycle.resources import Examples
from contracts.runner import RunOptions, load_schema, operation_results
from contracts.session import GateSession, Target
from contracts.wire import SeededIds
from tests.conftest import sandbox_settings
from tests.contracts.proxy import CorruptingProxy
from tests.contracts.servers import serve

NAME_PREFIX = "gesct_test_"


def gate_schema() -> schemathesis.BaseSchema:
    return load_schema(openapi.SPEC_PATH, "http://127.0.0.1", RunOptions(), 0)


@dataclass
class Harness:
    proxy: CorruptingProxy
    session: GateSession
    book: CheckBook
    driver: Driver
    lifecycle: Lifecycle
    home: sandbox.ProjectCredentials
    other: sandbox.ProjectCredentials

    @property
    def other_project(self) -> Project:
        return Project(self.other.project_id, TokenCredentials(self.other.token))

    def failures(self, check: str) -> int:
        return self.book.results[check].failures


@contextmanager
def harness(
    schema: schemathesis.BaseSchema, *, isolation: bool = True, **settings: Any
) -> Iterator[Harness]:
    """Serve a fresh sandbox through a proxy and build a driver aimed at it."""
    configured = sandbox_settings(**settings)
    proxy = CorruptingProxy(sandbox.create_app(configured))
    home, other = configured.projects[:2]
    with serve(proxy) as base_url:
        target = Target(
            base_url,
            home.project_id,
            TokenCredentials(home.token),
            isolation_project_id=other.project_id if isolation else None,
            isolation_credentials=TokenCredentials(other.token) if isolation else None,
        )
        session = GateSession(
            schema=schema,
            target=target,
            results=operation_results(schema),
            seeds=SeededIds(),
            listener=lambda event: None,
        )
        book = CheckBook()
        driver = Driver(session, book, job_timeout=10.0, poll_interval=0.02)
        lifecycle = Lifecycle(driver, Examples(NAME_PREFIX))
        yield Harness(proxy, session, book, driver, lifecycle, home, other)
