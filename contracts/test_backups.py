"""Contracts of the backup operations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts import session

if TYPE_CHECKING:
    from schemathesis.specs.openapi.schemas import OpenApiCase

schema = session.current().schema.include(tag="backups")


@schema.parametrize()
def test_backup_operation_conforms(case: OpenApiCase) -> None:
    session.current().exercise(case)
