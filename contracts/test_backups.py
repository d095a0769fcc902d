"""Contracts of the backup operations."""

from __future__ import annotations

from schemathesis import Case

from contracts import session

schema = session.current().schema.include(tag="backups")


@schema.parametrize()
def test_backup_operation_conforms(case: Case) -> None:
    session.current().exercise(case)
