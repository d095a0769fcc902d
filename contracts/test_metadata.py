"""Contracts of the metadata operations."""

from __future__ import annotations

from schemathesis import Case

from contracts import session

schema = session.current().schema.include(tag="metadata")


@schema.parametrize()
def test_metadata_operation_conforms(case: Case) -> None:
    session.current().exercise(case)
