"""Contracts of the graph operations: lifecycle and the eight graph actions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts import session

if TYPE_CHECKING:
    from schemathesis.specs.openapi.schemas import OpenApiCase

schema = session.current().schema.include(tag="graphs")


@schema.parametrize()
def test_graph_operation_conforms(case: OpenApiCase) -> None:
    session.current().exercise(case)
