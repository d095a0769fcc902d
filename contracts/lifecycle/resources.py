"""Request bodies of the stateful phase, built from the spec's examples.

Every resource the phase creates is named `<run prefix><kind>_<n>`, so the
run's cleanup can find it even when its create response was lost.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import openapi

# An OBS path containing this marker makes a sandbox job fail with a
# failReason (the sandbox's documented fault injection).
FAIL_MARKER = "fail"


def _request_example(operation_id: str) -> dict[str, Any]:
    operation = openapi.operations()[operation_id]
    item = openapi.load_spec()["paths"][operation.path][operation.method.lower()]
    example = item["requestBody"]["content"]["application/json"]["example"]
    if not isinstance(example, dict):
        raise TypeError(f"`{operation_id}` has no JSON object example")
    return example


class Examples:
    """Bodies for creates and actions, with the run's names and optional faults."""

    def __init__(self, name_prefix: str) -> None:
        self.name_prefix = name_prefix
        self._counter = itertools.count(1)
        self._graph = _request_example("createGraph")
        self._metadata = _request_example("createMetadata")
        self._import = _request_example("importGraph")
        self._export = _request_example("exportGraph")

    def name(self, kind: str) -> str:
        return f"{self.name_prefix}{kind}_{next(self._counter)}"

    def graph(self, name: str) -> dict[str, Any]:
        """A createGraph body for `name`, without a public IP.

        The example asks for an automatically assigned EIP; leaving it out
        lets the bindEip and unbindEip rules start from an unbound graph.
        """
        body = copy.deepcopy(self._graph)
        body["graph"]["name"] = name
        body["graph"].pop("publicIp", None)
        return body

    def metadata(self, name: str) -> dict[str, Any]:
        body = copy.deepcopy(self._metadata)
        body["name"] = name
        return body

    def import_body(self, fail: bool) -> dict[str, Any]:
        body = copy.deepcopy(self._import)
        if fail:
            body["edgesetPath"] = f"demo-bucket/{FAIL_MARKER}/edges.csv"
        return body

    def export_body(self, fail: bool) -> dict[str, Any]:
        body = copy.deepcopy(self._export)
        if fail:
            body["graphExportPath"] = f"demo-bucket/{FAIL_MARKER}/export"
        return body
