"""Contracts of the metadata operations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts import session

if TYPE_CHECKING:
    from schemathesis.specs.openapi.schemas import OpenApiCase

schema = session.current().schema.include(tag="metadata")


@schema.parametrize()
def test_metadata_operation_conforms(case: OpenApiCase) -> None:
    session.current().exercise(case)
