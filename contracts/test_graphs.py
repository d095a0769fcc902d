"""Contracts of the graph operations: lifecycle and the eight graph actions."""

from __future__ import annotations

from schemathesis import Case

from contracts import session

schema = session.current().schema.include(tag="graphs")


@schema.parametrize()
def test_graph_operation_conforms(case: Case) -> None:
    session.current().exercise(case)
