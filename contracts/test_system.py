"""Contracts of the system operations: listQuotas and checkSchema."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts import session

if TYPE_CHECKING:
    from schemathesis.specs.openapi.schemas import OpenApiCase

schema = session.current().schema.include(tag="system")


@schema.parametrize()
def test_system_operation_conforms(case: OpenApiCase) -> None:
    session.current().exercise(case)
