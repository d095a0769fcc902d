from __future__ import annotations

from typing import Any

import pytest
import schemathesis

import openapi
from contracts.wire import SeededIds, rewrite_to_wire

SEEDS = SeededIds(
    graph_id="seeded-graph", metadata_id="seeded-meta", job_id="seeded-job"
)


@pytest.fixture(scope="module")
def schema() -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_path(str(openapi.SPEC_PATH))


def make_case(schema: Any, operation_id: str, **kwargs: Any) -> Any:
    return schema.find_operation_by_id(operation_id).Case(**kwargs)


def test_rewrite_pseudo_path_moves_to_wire_path(schema: Any) -> None:
    case = make_case(
        schema, "stopGraph", path_parameters={"project_id": "x", "graph_id": "g1"}
    )

    rewrite_to_wire(case, "p1", SeededIds())

    assert case.path == "/v1.0/{project_id}/graphs/{graph_id}/action"
    assert case.query == {"action_id": "stop"}
    assert case.formatted_path == "/v1.0/p1/graphs/g1/action"


def test_rewrite_mutated_action_id_is_forced_back(schema: Any) -> None:
    case = make_case(
        schema,
        "checkSchema",
        path_parameters={"project_id": "x"},
        query={"action_id": "start", "extra": "1"},
    )

    rewrite_to_wire(case, "p1", SeededIds())

    assert case.path == "/v1.0/{project_id}/graphs/action"
    assert case.query == {"action_id": "check-schema", "extra": "1"}


def test_rewrite_plain_operation_keeps_its_path(schema: Any) -> None:
    case = make_case(schema, "listGraphs", path_parameters={"project_id": "generated"})

    rewrite_to_wire(case, "p1", SeededIds())

    assert case.path == "/v1.0/{project_id}/graphs"
    assert case.path_parameters == {"project_id": "p1"}
    assert "action_id" not in case.query


def graph_ids_after_rewrite(schema: Any, operation_id: str) -> list[str]:
    ids = []
    for index in range(40):
        case = make_case(
            schema,
            operation_id,
            path_parameters={"project_id": "x", "graph_id": f"generated-{index}"},
        )
        rewrite_to_wire(case, "p1", SEEDS)
        ids.append(case.path_parameters["graph_id"])
    return ids


def test_rewrite_seeds_part_of_the_cases(schema: Any) -> None:
    ids = graph_ids_after_rewrite(schema, "showGraph")

    assert "seeded-graph" in ids
    assert any(value.startswith("generated-") for value in ids)


def test_rewrite_seed_choice_is_repeatable(schema: Any) -> None:
    assert graph_ids_after_rewrite(schema, "showGraph") == graph_ids_after_rewrite(
        schema, "showGraph"
    )


def test_rewrite_delete_keeps_generated_ids(schema: Any) -> None:
    ids = graph_ids_after_rewrite(schema, "deleteGraph")

    assert "seeded-graph" not in ids


def test_rewrite_seeds_job_together_with_graph(schema: Any) -> None:
    for index in range(20):
        case = make_case(
            schema,
            "showJob",
            path_parameters={"project_id": "x", "graph_id": f"g{index}", "job_id": "j"},
        )
        rewrite_to_wire(case, "p1", SEEDS)
        seeded = {
            case.path_parameters["graph_id"] == "seeded-graph",
            case.path_parameters["job_id"] == "seeded-job",
        }
        assert len(seeded) == 1
