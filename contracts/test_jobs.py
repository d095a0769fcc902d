"""Contracts of the job center operations."""

from __future__ import annotations

from schemathesis import Case

from contracts import session

schema = session.current().schema.include(tag="jobs")


@schema.parametrize()
def test_job_operation_conforms(case: Case) -> None:
    session.current().exercise(case)
