"""Check every response against the OpenAPI document, fast enough for big pages.

`openapi.validate_response` (Python jsonschema) takes about 85 ms for one page
of 1,000 jobs, which would make a 100,000-job cycle spend most of its time
validating. `ContractValidator` first checks the body with jsonschema_rs,
compiled from the same document (`openapi.load_spec()`), which takes well
under a millisecond per page. Only a body it rejects, or a status the
document does not list, goes to `openapi.validate_response`, whose violations
are the ones counted, so the reported kinds and messages stay the loader's.

NOTE: a body the fast path accepts is not re-checked. Where the two libraries
differ (regular-expression dialect in `pattern`, for one), such a body's
violation goes uncounted; tests/probes/test_contract.py compares both on a
table of bodies.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import jsonschema_rs

import openapi


class ContractValidator:
    """A `ResponseValidator`: `(operation_id, status_code, body) -> violations`."""

    def __init__(self) -> None:
        self._spec = openapi.load_spec()
        self._operations = openapi.operations()
        self._compiled: dict[tuple[str, str], Any] = {}

    def __call__(self, operation_id: str, status_code: int, body: Any) -> list[Any]:
        fast = self._fast_validator(operation_id, status_code)
        if fast is not None and fast.is_valid(body):
            return []
        return list(openapi.validate_response(operation_id, status_code, body))

    def _fast_validator(self, operation_id: str, status_code: int) -> Any:
        key = self._documented_status(operation_id, status_code)
        if key is None:
            return None
        if (operation_id, key) not in self._compiled:
            self._compiled[(operation_id, key)] = self._compile(operation_id, key)
        return self._compiled[(operation_id, key)]

    def _documented_status(self, operation_id: str, status_code: int) -> str | None:
        operation = self._operations.get(operation_id)
        if operation is None:
            return None
        item = self._spec["paths"][operation.path][operation.method.lower()]
        # The same precedence as the loader: the exact code, then 4XX, then
        # default (OpenAPI 3.1, Responses Object).
        for key in (str(status_code), f"{status_code // 100}XX", "default"):
            if key in item["responses"]:
                return key
        return None

    def _compile(self, operation_id: str, status_key: str) -> Any:
        operation = self._operations[operation_id]
        response = self._spec["paths"][operation.path][operation.method.lower()][
            "responses"
        ][status_key]
        pointer = _escape(operation.path) + f"/{operation.method.lower()}"
        pointer = f"/paths/{pointer}/responses/{status_key}"
        if "$ref" in response:
            pointer = response["$ref"].removeprefix("#")
        if "application/json" not in self._resolve(pointer).get("content", {}):
            return None
        pointer += "/content/application~1json/schema"
        # The whole document is the root schema, so every nested `#/...`
        # reference resolves. Braces in path keys are not allowed in a URI
        # fragment, hence the percent-encoding.
        schema = {**self._spec, "$ref": "#" + quote(pointer, safe="/~")}
        try:
            return jsonschema_rs.Draft202012Validator(schema)
        except (ValueError, jsonschema_rs.ValidationError):
            return None

    def _resolve(self, pointer: str) -> dict[str, Any]:
        node: Any = self._spec
        for part in pointer.lstrip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        while isinstance(node, dict) and "$ref" in node:
            node = self._resolve(node["$ref"].removeprefix("#"))
        return node


def _escape(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")
