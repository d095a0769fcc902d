"""Contracts of the system operations: listQuotas and checkSchema."""

from __future__ import annotations

from schemathesis import Case

from contracts import session

schema = session.current().schema.include(tag="system")


@schema.parametrize()
def test_system_operation_conforms(case: Case) -> None:
    session.current().exercise(case)
