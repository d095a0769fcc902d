"""Contracts of the job center operations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts import session

if TYPE_CHECKING:
    from schemathesis.specs.openapi.schemas import OpenApiCase

schema = session.current().schema.include(tag="jobs")


@schema.parametrize()
def test_job_operation_conforms(case: OpenApiCase) -> None:
    session.current().exercise(case)
